// SPDX-License-Identifier: GPL-3.0-or-later
// Positional reads and writes of whole buffers (internal to src/core): ::pread and ::pwrite may
// transfer less than asked or be interrupted, so each loops until done, retrying EINTR. Errors throw
// std::runtime_error "<what> of <n> bytes at byte <position>: <reason>".
#ifndef SPIKESHARD_CORE_FILE_IO_H_
#define SPIKESHARD_CORE_FILE_IO_H_

#include <cstddef>
#include <cstdint>

namespace spikeshard::detail {

// Reads up to `length` bytes at `position`; returns fewer only where the file ends.
std::size_t pread_fully(int fd, void* buffer, std::size_t length, std::uint64_t position, const char* what);

// Reads exactly `length` bytes at `position`; a file that ends first throws ("the file ended").
void pread_exactly(int fd, void* buffer, std::size_t length, std::uint64_t position, const char* what);

// Writes all `length` bytes at `position`.
void pwrite_fully(int fd, const void* buffer, std::size_t length, std::uint64_t position, const char* what);

}  // namespace spikeshard::detail

#endif  // SPIKESHARD_CORE_FILE_IO_H_
