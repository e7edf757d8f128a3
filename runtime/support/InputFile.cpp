//===- InputFile.cpp - Reading input files, FIFOs and stdin --------------===//
#include "runtime/support/InputFile.h"

#include "runtime/support/Cancel.h"
#include "runtime/support/Text.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rnnc::io {
namespace {

std::string kindOf(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

} // namespace

std::string formatBytes(uint64_t bytes) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4)
    value /= 1024, ++unit;
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, "%.3g %s", value, units[unit]);
  return text;
}

ReadStatus readInputFile(const std::string &path, const std::string &what, uint64_t maxBytes, std::string &bytes,
                         std::string &error) {
  const std::string name = path == "-" ? std::string("standard input") : escapeForMessage(path);
  int fd = STDIN_FILENO;
  if (path != "-") {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      error = name + ": cannot open (" + std::strerror(errno) + ")";
      return ReadStatus::Failed;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      error = name + " is " + kindOf(st.st_mode) + ", not a " + what;
      return ReadStatus::Failed;
    }
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > maxBytes) {
      error = name + ": the " + what + " has " + formatBytes(st.st_size) + ", over the limit of " +
              formatBytes(maxBytes);
      return ReadStatus::Failed;
    }
    // O_NONBLOCK: opening a FIFO does not wait for a writer; poll does.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      error = name + ": cannot open the " + what + " (" + std::strerror(errno) + ")";
      return ReadStatus::Failed;
    }
  }
  bytes.clear();
  char buffer[1 << 16];
  ReadStatus status = ReadStatus::Ok;
  bool sawWriter = false;
  while (true) {
    if (cancelRequested()) {
      status = ReadStatus::Cancelled;
      break;
    }
    struct pollfd p {fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0)
      continue;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got < 0) {
      error = name + ": cannot read the " + what + " (" + std::strerror(errno) + ")";
      status = ReadStatus::Failed;
      break;
    }
    if (got == 0) {
      // A FIFO opened without a writer reports end of file until one opens.
      if ((p.revents & POLLHUP) && !sawWriter && path != "-") {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
          ::usleep(50000);
          continue;
        }
      }
      break;
    }
    sawWriter = true;
    if (bytes.size() + static_cast<uint64_t>(got) > maxBytes) {
      error = name + ": the " + what + " is over the limit of " + formatBytes(maxBytes);
      status = ReadStatus::Failed;
      break;
    }
    bytes.append(buffer, static_cast<size_t>(got));
  }
  if (fd != STDIN_FILENO)
    ::close(fd);
  if (status == ReadStatus::Cancelled)
    error = name + ": interrupted while reading the " + what;
  return status;
}

bool checkTextLayout(const std::string &path, const std::string &bytes, std::string &error) {
  const std::string name = "'" + escapeForMessage(path) + "'";
  auto starts = [&](const char *bom, size_t n) { return bytes.size() >= n && bytes.compare(0, n, bom, n) == 0; };
  if (starts("\xFF\xFE\0\0", 4) || starts("\0\0\xFE\xFF", 4)) {
    error = name + " is UTF-32 text (it starts with a UTF-32 byte-order mark); save it as UTF-8";
    return false;
  }
  if (starts("\xFF\xFE", 2) || starts("\xFE\xFF", 2)) {
    error = name + " is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8";
    return false;
  }
  const size_t sample = bytes.size() < 4096 ? bytes.size() : 4096;
  size_t nuls = 0;
  for (size_t i = 0; i < sample; ++i)
    nuls += bytes[i] == '\0';
  if (sample && nuls * 4 >= sample) {
    error = name + " holds NUL bytes (" + std::to_string(nuls) + " in its first " + std::to_string(sample) +
            " bytes): it looks like UTF-16 text without a byte-order mark, or a binary file; save it as UTF-8 text";
    return false;
  }
  if (bytes.find('\n') == std::string::npos && bytes.find('\r') != std::string::npos) {
    error = name + " uses CR-only line endings (classic Mac OS); convert them to LF or CRLF";
    return false;
  }
  return true;
}

} // namespace rnnc::io
