// SPDX-License-Identifier: GPL-3.0-or-later
#include "file_io.h"

#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace spikeshard::detail {

namespace {

// strerror of the current errno.
std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

[[noreturn]] void fail(const char* what, std::size_t left, std::uint64_t at, const std::string& reason) {
  throw std::runtime_error(std::string(what) + " of " + std::to_string(left) + " bytes at byte " +
                           std::to_string(at) + ": " + reason);
}

}  // namespace

std::size_t pread_fully(int fd, void* buffer, std::size_t length, std::uint64_t position, const char* what) {
  auto* bytes = static_cast<char*>(buffer);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t got = ::pread(fd, bytes + done, length - done, static_cast<off_t>(position + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(what, length - done, position + done, errno_text());
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

void pread_exactly(int fd, void* buffer, std::size_t length, std::uint64_t position, const char* what) {
  const std::size_t got = pread_fully(fd, buffer, length, position, what);
  if (got < length) fail(what, length - got, position + got, "the file ended");
}

void pwrite_fully(int fd, const void* buffer, std::size_t length, std::uint64_t position, const char* what) {
  const auto* bytes = static_cast<const char*>(buffer);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t put = ::pwrite(fd, bytes + done, length - done, static_cast<off_t>(position + done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) fail(what, length - done, position + done, put == 0 ? "nothing written" : errno_text());
    done += static_cast<std::size_t>(put);
  }
}

}  // namespace spikeshard::detail
