//===- Checksum.cpp - FNV-1a trailer of a model library --------------------===//
#include "runtime/support/Checksum.h"

#include "runtime/support/Text.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace rnnc::io {
namespace {

constexpr char kMagic[8] = {'R', 'N', 'N', 'C', 'S', 'U', 'M', '1'};
constexpr uint64_t kMaxLibraryBytes = 4ull << 30;

bool hashPrefix(int fd, uint64_t length, uint64_t &hash) {
  std::vector<char> buffer(1 << 20);
  hash = fnv1a64(nullptr, 0);
  for (uint64_t at = 0; at < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - at));
    const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    hash = fnv1a64(buffer.data(), static_cast<size_t>(got), hash);
    at += static_cast<uint64_t>(got);
  }
  return true;
}

} // namespace

uint64_t fnv1a64(const void *data, size_t size, uint64_t hash) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i)
    hash = (hash ^ bytes[i]) * 1099511628211ull;
  return hash;
}

bool appendLibraryChecksum(const std::string &path, std::string &error) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct stat st {};
  uint64_t hash = 0;
  bool ok = fd >= 0 && ::fstat(fd, &st) == 0 && hashPrefix(fd, static_cast<uint64_t>(st.st_size), hash);
  char trailer[16];
  std::memcpy(trailer, kMagic, 8);
  std::memcpy(trailer + 8, &hash, 8);
  ok = ok && ::pwrite(fd, trailer, sizeof trailer, st.st_size) == static_cast<ssize_t>(sizeof trailer);
  if (!ok)
    error = "cannot write the checksum of '" + escapeForMessage(path) + "': " + std::strerror(errno);
  if (fd >= 0)
    ::close(fd);
  return ok;
}

bool verifyLibraryChecksum(const std::string &path, std::string &error) {
  const std::string shown = "'" + escapeForMessage(path) + "'";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    error = "cannot load " + shown + ": " + std::strerror(errno);
    if (fd >= 0)
      ::close(fd);
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  char trailer[16] = {};
  bool ok = false;
  if (!S_ISREG(st.st_mode))
    error = "cannot load " + shown + ": not a regular file";
  else if (size > kMaxLibraryBytes)
    error = "cannot load " + shown + ": " + std::to_string(size) + " bytes, over the 4 GiB limit of a model library";
  else if (size < 16 || ::pread(fd, trailer, 16, static_cast<off_t>(size - 16)) != 16 ||
           std::memcmp(trailer, kMagic, 8) != 0)
    error = "cannot load " + shown + ": it has no rnnc checksum: not an rnnc model library, or one made by an older "
            "rnnc, or truncated; "
            "recompile it with this rnnc";
  else {
    uint64_t expected = 0, actual = 0;
    std::memcpy(&expected, trailer + 8, 8);
    if (!hashPrefix(fd, size - 16, actual))
      error = "cannot load " + shown + ": read failed";
    else if (actual != expected)
      error = "cannot load " + shown + ": the library is damaged (its checksum does not match); recompile it";
    else
      ok = true;
  }
  ::close(fd);
  return ok;
}

} // namespace rnnc::io
