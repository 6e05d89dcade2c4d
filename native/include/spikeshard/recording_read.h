// SPDX-License-Identifier: GPL-3.0-or-later
// Reading sample rows of a recording: a `.bin` holds rows of n_saved int16 columns (neural channels
// and sync), and a batch wants some of those columns (usually one contiguous block of neural
// channels) packed row by row. The read runs on the project's threads, each reading its own part of
// the rows with positioned reads, so that page-cache copies use several cores instead of one.
#ifndef SPIKESHARD_RECORDING_READ_H_
#define SPIKESHARD_RECORDING_READ_H_

#include <cstddef>
#include <cstdint>

namespace spikeshard {

// out[t·n_out + c] = rows[t·n_saved + columns[c]] for t < n_rows, c < n_out. A contiguous column
// list (columns[c] = columns[0] + c) copies one block per row. Every column must lie in
// [0, n_saved) (std::invalid_argument otherwise); rows and out must not overlap. threads: 0 uses
// default_threads(), fewer for small gathers (about 1 MiB each at least); a positive count is used
// as given (at most one thread per row). The result does not depend on the thread count.
void gather_columns(const std::int16_t* rows, std::size_t n_rows, std::size_t n_saved, const std::int32_t* columns,
                    std::size_t n_out, std::int16_t* out, int threads = 0);

// What read_bin_rows found: complete, or the byte at which the file ended before the rows did.
struct BinReadResult {
  bool complete = true;
  // The first byte the file did not have (its size, when it shrank); meaningful when !complete.
  std::uint64_t ended_at_byte = 0;
};

// Rows [first_row, first_row + n_rows) of the file open as fd, whose row r starts at byte
// r · n_saved · 2, gathered as gather_columns does into out (n_rows · n_out values); threads as
// for gather_columns, counted in bytes read. Each thread
// reads its own contiguous part of the rows with pread in pieces of at most
// max(one row, chunk_bytes / threads) bytes into a buffer of its own, so the memory beyond out is
// about chunk_bytes. A file that ends early leaves the rows past its end unwritten and returns
// complete = false with the first missing byte (the smallest any thread met); a failing pread
// throws std::runtime_error naming the byte and errno's text. fd is only read, never closed: the
// caller keeps it open until this returns.
BinReadResult read_bin_rows(int fd, std::uint64_t first_row, std::size_t n_rows, std::size_t n_saved,
                            const std::int32_t* columns, std::size_t n_out, std::int16_t* out, std::size_t chunk_bytes,
                            int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_RECORDING_READ_H_
