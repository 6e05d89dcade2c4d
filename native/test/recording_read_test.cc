// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/recording_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"

namespace spikeshard::test {

namespace {

// A value that differs for every (row, column) pair of the small files below.
std::int16_t value_at(std::uint64_t row, std::size_t column) {
  return static_cast<std::int16_t>((row * 131 + column * 7 + 3) & 0x7fff) * (column % 2 == 0 ? 1 : -1);
}

std::vector<std::int16_t> make_rows(std::uint64_t first_row, std::size_t n_rows, std::size_t n_saved) {
  std::vector<std::int16_t> rows(n_rows * n_saved);
  for (std::size_t t = 0; t < n_rows; ++t) {
    for (std::size_t c = 0; c < n_saved; ++c) rows[t * n_saved + c] = value_at(first_row + t, c);
  }
  return rows;
}

// The gather by its definition, element by element.
std::vector<std::int16_t> expected(std::uint64_t first_row, std::size_t n_rows, const std::vector<std::int32_t>& cols) {
  std::vector<std::int16_t> out(n_rows * cols.size());
  for (std::size_t t = 0; t < n_rows; ++t) {
    for (std::size_t c = 0; c < cols.size(); ++c) {
      out[t * cols.size() + c] = value_at(first_row + t, static_cast<std::size_t>(cols[c]));
    }
  }
  return out;
}

// A temporary file of `n_rows` rows of n_saved columns plus `extra_bytes` of a further row.
struct TempBin {
  std::string path;
  int fd = -1;
  TempBin(std::size_t n_rows, std::size_t n_saved, std::size_t extra_bytes) {
    char name[] = "/tmp/spikeshard-recording-read-XXXXXX";
    fd = mkstemp(name);
    path = name;
    std::vector<std::int16_t> rows = make_rows(0, n_rows + 1, n_saved);
    const std::size_t bytes = n_rows * n_saved * 2 + extra_bytes;
    if (fd < 0 || write(fd, rows.data(), bytes) != static_cast<ssize_t>(bytes)) {
      throw std::runtime_error("cannot write " + path);
    }
  }
  ~TempBin() {
    close(fd);
    unlink(path.c_str());
  }
};

const std::vector<std::vector<std::int32_t>> kColumnSets = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},  // every column: one copy of the whole rows
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},      // a block at the start (neural channels before sync)
    {3, 4, 5},                           // a block in the middle
    {10},                                // one column at the end (a sync channel)
    {9, 2, 2, 0, 7},                     // scattered, repeated and out of order
};

}  // namespace

TEST(gather_columns_matches_definition_for_any_columns_and_threads) {
  const std::size_t n_saved = 11;
  for (std::size_t n_rows : {std::size_t{1}, std::size_t{7}, std::size_t{100}}) {
    const std::vector<std::int16_t> rows = make_rows(40, n_rows, n_saved);
    for (const auto& cols : kColumnSets) {
      for (int threads : {1, 3, 64}) {
        std::vector<std::int16_t> out(n_rows * cols.size() + 1, 77);
        gather_columns(rows.data(), n_rows, n_saved, cols.data(), cols.size(), out.data(), threads);
        CHECK(out.back() == 77);
        out.pop_back();
        CHECK(out == expected(40, n_rows, cols));
      }
    }
  }
}

TEST(gather_columns_rejects_a_column_outside_the_row) {
  const std::vector<std::int16_t> rows(22);
  std::vector<std::int16_t> out(4);
  for (std::vector<std::int32_t> cols : {std::vector<std::int32_t>{0, 11}, {-1, 3}}) {
    bool threw = false;
    try {
      gather_columns(rows.data(), 2, 11, cols.data(), 2, out.data());
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("expected a column in [0, 11)") != std::string::npos;
    }
    CHECK(threw);
  }
}

TEST(read_bin_rows_reads_any_range_with_any_chunk_and_thread_count) {
  const std::size_t n_saved = 11, n_file = 53;
  TempBin file(n_file, n_saved, 0);
  // Ranges at the start, the middle and the end; chunks smaller than a row, not a multiple of a
  // row, and larger than the read; more threads than rows.
  const std::vector<std::pair<std::uint64_t, std::size_t>> ranges = {{0, 53}, {17, 5}, {50, 3}, {52, 1}, {9, 0}};
  for (auto [first, n] : ranges) {
    for (const auto& cols : kColumnSets) {
      for (std::size_t chunk : {std::size_t{1}, std::size_t{3 * 22 + 5}, std::size_t{1} << 20}) {
        for (int threads : {1, 4, 64}) {
          std::vector<std::int16_t> out(n * cols.size(), 77);
          const BinReadResult r =
              read_bin_rows(file.fd, first, n, n_saved, cols.data(), cols.size(), out.data(), chunk, threads);
          CHECK(r.complete);
          CHECK(out == expected(first, n, cols));
        }
      }
    }
  }
}

TEST(read_bin_rows_reports_the_byte_where_a_short_file_ends) {
  const std::size_t n_saved = 11, row_bytes = 22;
  // 10 whole rows and 7 bytes of the 11th.
  TempBin file(10, n_saved, 7);
  const std::vector<std::int32_t> cols = {1, 2, 3};
  for (int threads : {1, 3, 16}) {
    std::vector<std::int16_t> out(7 * cols.size(), 77);
    const BinReadResult r = read_bin_rows(file.fd, 5, 7, n_saved, cols.data(), cols.size(), out.data(), 40, threads);
    CHECK(!r.complete);
    CHECK(r.ended_at_byte == 10 * row_bytes + 7);
    // The whole rows before the end are there; the rest is left as it was.
    const std::vector<std::int16_t> want = expected(5, 5, cols);
    CHECK(std::vector<std::int16_t>(out.begin(), out.begin() + 15) == want);
    CHECK(out[15] == 77 && out.back() == 77);

    // Entirely past the end: the first byte asked for is the first one missing.
    std::vector<std::int16_t> past(2 * cols.size());
    const BinReadResult q = read_bin_rows(file.fd, 12, 2, n_saved, cols.data(), cols.size(), past.data(), 40, threads);
    CHECK(!q.complete);
    CHECK(q.ended_at_byte == 12 * row_bytes);
  }
}

TEST(read_bin_rows_turns_a_failing_read_into_an_error_naming_the_byte) {
  const int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  CHECK(dir >= 0);
  const std::vector<std::int32_t> cols = {0};
  std::vector<std::int16_t> out(2);
  bool threw = false;
  try {
    read_bin_rows(dir, 3, 2, 4, cols.data(), 1, out.data(), 1 << 20, 1);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("at byte 24") != std::string::npos;
  }
  close(dir);
  CHECK(threw);
}

}  // namespace spikeshard::test
