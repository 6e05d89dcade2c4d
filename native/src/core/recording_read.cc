// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/recording_read.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "file_io.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Below this many bytes per thread, starting a thread costs about as much as the copy it saves.
constexpr std::size_t kMinBytesPerThread = std::size_t{1} << 20;

struct ColumnPlan {
  const std::int32_t* columns;
  std::size_t n_saved;
  std::size_t n_out;
  // columns[c] = first + c for every c: one block copy per row.
  bool contiguous;
  std::size_t first;
};

ColumnPlan plan_columns(const char* fn, std::size_t n_saved, const std::int32_t* columns, std::size_t n_out) {
  if (n_saved == 0) throw std::invalid_argument(std::string(fn) + ": n_saved must be at least 1");
  if (n_out > 0 && columns == nullptr) throw std::invalid_argument(std::string(fn) + ": columns is null");
  bool contiguous = true;
  for (std::size_t c = 0; c < n_out; ++c) {
    const std::int32_t col = columns[c];
    if (col < 0 || static_cast<std::size_t>(col) >= n_saved) {
      throw std::invalid_argument(std::string(fn) + ": columns[" + std::to_string(c) + "] is " + std::to_string(col) +
                                  ", expected a column in [0, " + std::to_string(n_saved) + ")");
    }
    if (col != columns[0] + static_cast<std::int64_t>(c)) contiguous = false;
  }
  return {columns, n_saved, n_out, contiguous, n_out > 0 ? static_cast<std::size_t>(columns[0]) : 0};
}

// Rows [0, n_rows) of `rows` into `out`, on the calling thread.
void gather_serial(const ColumnPlan& p, const std::int16_t* rows, std::size_t n_rows, std::int16_t* out) {
  if (p.n_out == 0) return;
  if (p.contiguous && p.first == 0 && p.n_out == p.n_saved) {
    std::memcpy(out, rows, n_rows * p.n_saved * sizeof(std::int16_t));
    return;
  }
  if (p.contiguous) {
    const std::size_t bytes = p.n_out * sizeof(std::int16_t);
    for (std::size_t t = 0; t < n_rows; ++t) std::memcpy(out + t * p.n_out, rows + t * p.n_saved + p.first, bytes);
    return;
  }
  for (std::size_t t = 0; t < n_rows; ++t) {
    const std::int16_t* row = rows + t * p.n_saved;
    std::int16_t* o = out + t * p.n_out;
    for (std::size_t c = 0; c < p.n_out; ++c) o[c] = row[p.columns[c]];
  }
}

// A positive count is the caller's choice (tests use more threads than rows); the default is
// limited so that small reads do not start threads for a few rows each.
int threads_for(std::size_t bytes, int threads) {
  if (threads > 0) return threads;
  const std::size_t by_size = std::max<std::size_t>(1, bytes / kMinBytesPerThread);
  return static_cast<int>(std::min(static_cast<std::size_t>(default_threads()), by_size));
}

}  // namespace

void gather_columns(const std::int16_t* rows, std::size_t n_rows, std::size_t n_saved, const std::int32_t* columns,
                    std::size_t n_out, std::int16_t* out, int threads) {
  const ColumnPlan p = plan_columns("gather_columns", n_saved, columns, n_out);
  if (n_rows == 0 || n_out == 0) return;
  const int t = threads_for(n_rows * n_out * sizeof(std::int16_t), threads);
  parallel_for(
      n_rows,
      [&](std::size_t begin, std::size_t end) {
        gather_serial(p, rows + begin * n_saved, end - begin, out + begin * n_out);
      },
      t);
}

BinReadResult read_bin_rows(int fd, std::uint64_t first_row, std::size_t n_rows, std::size_t n_saved,
                            const std::int32_t* columns, std::size_t n_out, std::int16_t* out, std::size_t chunk_bytes,
                            int threads) {
  const ColumnPlan p = plan_columns("read_bin_rows", n_saved, columns, n_out);
  if (fd < 0) throw std::invalid_argument("read_bin_rows: fd is " + std::to_string(fd) + ", expected an open file");
  if (chunk_bytes == 0) throw std::invalid_argument("read_bin_rows: chunk_bytes must be at least 1");
  const std::size_t row_bytes = n_saved * sizeof(std::int16_t);
  const std::uint64_t max_rows = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) / row_bytes;
  if (first_row > max_rows || n_rows > max_rows - first_row) {
    throw std::invalid_argument("read_bin_rows: rows [" + std::to_string(first_row) + ", " +
                                std::to_string(first_row + n_rows) + ") lie past the largest file offset");
  }
  if (n_rows == 0) return {};
  const int t = threads_for(n_rows * row_bytes, threads);
  const std::size_t piece_rows = std::max<std::size_t>(1, chunk_bytes / static_cast<std::size_t>(t) / row_bytes);
  constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
  std::atomic<std::uint64_t> ended{kNone};
  parallel_for(
      n_rows,
      [&](std::size_t begin, std::size_t end) {
        const std::size_t capacity = std::min(piece_rows, end - begin);
        // Not zeroed: every byte used is read from the file first.
        std::unique_ptr<std::int16_t[]> buffer(new std::int16_t[capacity * n_saved]);
        for (std::size_t r = begin; r < end; r += capacity) {
          const std::size_t n = std::min(capacity, end - r);
          const std::uint64_t position = (first_row + r) * row_bytes;
          const std::size_t got = detail::pread_fully(fd, buffer.get(), n * row_bytes, position, "pread");
          const std::size_t whole = got / row_bytes;
          gather_serial(p, buffer.get(), whole, out + r * n_out);
          if (whole < n) {
            const std::uint64_t at = position + got;
            std::uint64_t seen = ended.load();
            while (at < seen && !ended.compare_exchange_weak(seen, at)) {
            }
            return;
          }
        }
      },
      t);
  const std::uint64_t at = ended.load();
  return at == kNone ? BinReadResult{} : BinReadResult{false, at};
}

}  // namespace spikeshard
