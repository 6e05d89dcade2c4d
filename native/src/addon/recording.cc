// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the recording readers' native work: undoing mtscomp's time differences
// (spikeshard/mtscomp.h), synchronously or on libuv's thread pool; whole mtscomp chunks decoded
// (inflate included) and compressed, synchronously or on the project's task pool (the reader
// decodes chunks ahead while the JavaScript thread hands out the current one; the writer
// compresses several at once); reading a `.bin`'s rows and gathering their neural columns
// (spikeshard/recording_read.h) on the project's threads.
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "addon.h"
#include "args.h"
#include "pool_promise.h"
#include "promise_worker.h"
#include "spikeshard/mtscomp.h"
#include "spikeshard/recording_read.h"
#include "spikeshard/task_pool.h"

namespace spikeshard::addon {

namespace {

using addon_common::Args;

struct UndoArgs {
  const std::int16_t* diff = nullptr;
  std::int16_t* rows = nullptr;
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
};

// (diff: Int16Array, nSamples, nChannels, rows: Int16Array); both arrays hold nSamples × nChannels values.
UndoArgs parse_undo(const Napi::CallbackInfo& info, const char* fn) {
  Args a(info, fn, 4);
  UndoArgs u;
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  u.n_samples = static_cast<std::size_t>(a.integer(info[1], "nSamples", 0, kMax));
  u.n_channels = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65535));
  const std::size_t n = u.n_samples * u.n_channels;
  const std::string shape = "nSamples × nChannels";
  u.diff = a.typed<std::int16_t>(info[0], "diff", n, shape);
  u.rows = a.typed<std::int16_t>(info[3], "rows", n, shape);
  if (n > 0 && u.diff == u.rows) a.range_error("rows", "an array other than diff", "the same array");
  return u;
}

// [sync] undoTimeDiff(diff, nSamples, nChannels, rows): rows ← the wrapping cumulative sum of the
// channel-major diff, sample-major.
Napi::Value UndoTimeDiff(const Napi::CallbackInfo& info) {
  const UndoArgs u = parse_undo(info, "undoTimeDiff");
  mtscomp_undo_time_diff(u.diff, u.n_samples, u.n_channels, u.rows);
  return info.Env().Undefined();
}

// [async] undoTimeDiffAsync(diff, nSamples, nChannels, rows): Promise<void>, the same off the
// JavaScript thread; both arrays stay referenced until it settles.
Napi::Value UndoTimeDiffAsync(const Napi::CallbackInfo& info) {
  UndoArgs u = parse_undo(info, "undoTimeDiffAsync");
  return addon_common::queue_promise<bool>(
      info, "undoTimeDiffAsync", std::move(u),
      [](UndoArgs& a) {
        mtscomp_undo_time_diff(a.diff, a.n_samples, a.n_channels, a.rows);
        return true;
      },
      [](Napi::Env env, bool&&, UndoArgs&) -> Napi::Value { return env.Undefined(); });
}

// The columns argument: an Int32Array of at least one column, each in [0, nSaved).
const std::int32_t* parse_columns(const Args& a, const Napi::Value& v, std::size_t n_saved, std::size_t& n_out) {
  const std::int32_t* columns = a.typed_any<std::int32_t>(v, "columns", n_out);
  if (n_out == 0) a.range_error("columns", "at least one column", "an empty Int32Array");
  for (std::size_t c = 0; c < n_out; ++c) {
    if (columns[c] < 0 || static_cast<std::size_t>(columns[c]) >= n_saved) {
      a.range_error("columns[" + std::to_string(c) + "]", "a column in [0, nSaved = " + std::to_string(n_saved) + ")",
                    std::to_string(columns[c]));
    }
  }
  return columns;
}

constexpr std::int64_t kMaxSafe = 9007199254740991;
constexpr std::int64_t kMaxThreads = 4096;

// [sync] gatherColumns(rows, nRows, nSaved, columns, out, threads): out[t·nOut + c] ← rows[t·nSaved + columns[c]].
Napi::Value GatherColumns(const Napi::CallbackInfo& info) {
  Args a(info, "gatherColumns", 6);
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  const auto n_rows = static_cast<std::size_t>(a.integer(info[1], "nRows", 0, kMax));
  const auto n_saved = static_cast<std::size_t>(a.integer(info[2], "nSaved", 1, 65535));
  std::size_t n_out = 0;
  const std::int32_t* columns = parse_columns(a, info[3], n_saved, n_out);
  const std::int16_t* rows = a.typed<std::int16_t>(info[0], "rows", n_rows * n_saved, "nRows × nSaved");
  std::int16_t* out = a.typed<std::int16_t>(info[4], "out", n_rows * n_out, "nRows × columns.length");
  const int threads = static_cast<int>(a.integer(info[5], "threads", 0, kMaxThreads));
  if (out < rows + n_rows * n_saved && rows < out + n_rows * n_out) {
    a.range_error("out", "memory that does not overlap rows", "an overlapping view");
  }
  return addon_common::guarded(info, [&]() -> Napi::Value {
    gather_columns(rows, n_rows, n_saved, columns, n_out, out, threads);
    return info.Env().Undefined();
  });
}

struct BinReadArgs {
  int fd = -1;
  std::uint64_t first_row = 0;
  std::size_t n_rows = 0;
  std::size_t n_saved = 0;
  const std::int32_t* columns = nullptr;
  std::size_t n_out = 0;
  std::int16_t* out = nullptr;
  std::size_t chunk_bytes = 0;
  int threads = 0;
};

// [async] readBinRows(fd, firstRow, nRows, nSaved, columns, out, chunkBytes, threads): Promise<number>,
// -1 when every row was read, else the byte at which the file ended. The caller keeps fd open
// until the promise settles; columns and out stay referenced until then.
Napi::Value ReadBinRows(const Napi::CallbackInfo& info) {
  Args a(info, "readBinRows", 8);
  BinReadArgs r;
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  r.fd = static_cast<int>(a.integer(info[0], "fd", 0, kMax));
  r.first_row = static_cast<std::uint64_t>(a.integer(info[1], "firstRow", 0, kMaxSafe));
  r.n_rows = static_cast<std::size_t>(a.integer(info[2], "nRows", 0, kMax));
  r.n_saved = static_cast<std::size_t>(a.integer(info[3], "nSaved", 1, 65535));
  r.columns = parse_columns(a, info[4], r.n_saved, r.n_out);
  r.out = a.typed<std::int16_t>(info[5], "out", r.n_rows * r.n_out, "nRows × columns.length");
  r.chunk_bytes = static_cast<std::size_t>(a.integer(info[6], "chunkBytes", 1, kMaxSafe));
  r.threads = static_cast<int>(a.integer(info[7], "threads", 0, kMaxThreads));
  if ((r.first_row + r.n_rows) * r.n_saved * 2 > static_cast<std::uint64_t>(kMaxSafe)) {
    a.range_error("firstRow + nRows", "rows that end below byte 2^53", std::to_string(r.first_row + r.n_rows));
  }
  return addon_common::queue_promise<std::int64_t>(
      info, "readBinRows", std::move(r),
      [](BinReadArgs& b) -> std::int64_t {
        const BinReadResult res =
            read_bin_rows(b.fd, b.first_row, b.n_rows, b.n_saved, b.columns, b.n_out, b.out, b.chunk_bytes, b.threads);
        return res.complete ? -1 : static_cast<std::int64_t>(res.ended_at_byte);
      },
      [](Napi::Env env, std::int64_t&& ended, BinReadArgs&) -> Napi::Value {
        return Napi::Number::New(env, static_cast<double>(ended));
      });
}

// ---- whole chunks on the task pool (decode: inflate + time-difference undo; encode) ----

// A Uint8Array (a Buffer is one) of any length.
const std::uint8_t* uint8_view(const Args& a, const Napi::Value& v, const char* name, std::size_t& length) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    a.type_error(name, "a Uint8Array", v);
  }
  auto array = v.As<Napi::Uint8Array>();
  length = array.ElementLength();
  return array.Data();
}

struct ChunkShape {
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
};

ChunkShape parse_shape(const Args& a, const Napi::CallbackInfo& info) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  ChunkShape s;
  s.n_samples = static_cast<std::size_t>(a.integer(info[1], "nSamples", 0, kMax));
  s.n_channels = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65535));
  return s;
}

struct DecodeArgs {
  const std::uint8_t* compressed = nullptr;
  std::size_t compressed_bytes = 0;
  ChunkShape shape;
  std::int16_t* rows = nullptr;
};

// (compressed: Uint8Array, nSamples, nChannels, rows: Int16Array of nSamples × nChannels).
DecodeArgs parse_decode(const Napi::CallbackInfo& info, const char* fn) {
  Args a(info, fn, 4);
  DecodeArgs d;
  d.compressed = uint8_view(a, info[0], "compressed", d.compressed_bytes);
  d.shape = parse_shape(a, info);
  const std::size_t n = d.shape.n_samples * d.shape.n_channels;
  d.rows = a.typed<std::int16_t>(info[3], "rows", n, "nSamples × nChannels");
  const auto* r0 = reinterpret_cast<const std::uint8_t*>(d.rows);
  if (n > 0 && r0 < d.compressed + d.compressed_bytes && d.compressed < r0 + 2 * n) {
    a.range_error("rows", "memory apart from compressed", "an overlapping view");
  }
  return d;
}

void run_decode(const DecodeArgs& d) {
  mtscomp_decode_chunk(d.compressed, d.compressed_bytes, d.shape.n_samples, d.shape.n_channels, d.rows);
}

// [sync] decodeMtscompChunk(compressed, nSamples, nChannels, rows): rows ← the chunk's samples.
// Throws Error with the chunk's problem (corrupt stream, wrong inflated size).
Napi::Value DecodeMtscompChunk(const Napi::CallbackInfo& info) {
  const DecodeArgs d = parse_decode(info, "decodeMtscompChunk");
  try {
    run_decode(d);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

// [async] decodeMtscompChunkAsync(compressed, nSamples, nChannels, rows): Promise<void>, the same on
// the task pool; rejects with the chunk's problem.
Napi::Value DecodeMtscompChunkAsync(const Napi::CallbackInfo& info) {
  DecodeArgs d = parse_decode(info, "decodeMtscompChunkAsync");
  return addon_common::queue_on_pool<bool>(
      info, "spikeshard.decodeMtscompChunk", std::move(d),
      [](DecodeArgs& a) {
        run_decode(a);
        return true;
      },
      [](Napi::Env env, bool&&, DecodeArgs&) -> Napi::Value { return env.Undefined(); });
}

struct EncodeArgs {
  const std::int16_t* rows = nullptr;
  ChunkShape shape;
  int level = -1;
};

// (rows: Int16Array of nSamples × nChannels, nSamples, nChannels, level: -1..9).
EncodeArgs parse_encode(const Napi::CallbackInfo& info, const char* fn) {
  Args a(info, fn, 4);
  EncodeArgs e;
  e.shape = parse_shape(a, info);
  e.rows = a.typed<std::int16_t>(info[0], "rows", e.shape.n_samples * e.shape.n_channels, "nSamples × nChannels");
  e.level = static_cast<int>(a.integer(info[3], "level", -1, 9));
  return e;
}

Napi::Value to_buffer(Napi::Env env, const std::vector<std::uint8_t>& bytes) {
  return Napi::Buffer<std::uint8_t>::Copy(env, bytes.data(), bytes.size());
}

// [sync] encodeMtscompChunk(rows, nSamples, nChannels, level): Buffer, the chunk's zlib stream.
Napi::Value EncodeMtscompChunk(const Napi::CallbackInfo& info) {
  const EncodeArgs e = parse_encode(info, "encodeMtscompChunk");
  std::vector<std::uint8_t> bytes;
  try {
    bytes = mtscomp_encode_chunk(e.rows, e.shape.n_samples, e.shape.n_channels, e.level);
  } catch (const std::exception& err) {
    throw Napi::Error::New(info.Env(), err.what());
  }
  return to_buffer(info.Env(), bytes);
}

// [async] encodeMtscompChunkAsync(rows, nSamples, nChannels, level): Promise<Buffer>, on the task pool.
Napi::Value EncodeMtscompChunkAsync(const Napi::CallbackInfo& info) {
  EncodeArgs e = parse_encode(info, "encodeMtscompChunkAsync");
  return addon_common::queue_on_pool<std::vector<std::uint8_t>>(
      info, "spikeshard.encodeMtscompChunk", std::move(e),
      [](EncodeArgs& a) { return mtscomp_encode_chunk(a.rows, a.shape.n_samples, a.shape.n_channels, a.level); },
      [](Napi::Env env, std::vector<std::uint8_t>&& bytes, EncodeArgs&) { return to_buffer(env, bytes); });
}

// [sync] taskPoolThreads(): chunks the task pool decodes or encodes at once (setThreads, or all cores).
Napi::Value TaskPoolThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), task_pool_threads());
}

// ---- end of whole chunks on the task pool ----

}  // namespace

void register_recording(Napi::Env env, Napi::Object exports) {
  exports.Set("undoTimeDiff", Napi::Function::New(env, UndoTimeDiff));
  exports.Set("undoTimeDiffAsync", Napi::Function::New(env, UndoTimeDiffAsync));
  exports.Set("gatherColumns", Napi::Function::New(env, GatherColumns));
  exports.Set("readBinRows", Napi::Function::New(env, ReadBinRows));
  exports.Set("decodeMtscompChunk", Napi::Function::New(env, DecodeMtscompChunk));
  exports.Set("decodeMtscompChunkAsync", Napi::Function::New(env, DecodeMtscompChunkAsync));
  exports.Set("encodeMtscompChunk", Napi::Function::New(env, EncodeMtscompChunk));
  exports.Set("encodeMtscompChunkAsync", Napi::Function::New(env, EncodeMtscompChunkAsync));
  exports.Set("taskPoolThreads", Napi::Function::New(env, TaskPoolThreads));
}

}  // namespace spikeshard::addon
