//===- OutputFile.cpp - Checked, atomic writes -----------------------------===//
#include "runtime/support/OutputFile.h"

#include "runtime/support/Text.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rnnc::io {
namespace {

/// What an existing file holds, by its first bytes and its name.
enum class Content { Empty, Library, Object, Checkpoint, Json, Svg, Source, Text, Binary };

const char *contentName(Content content) {
  switch (content) {
  case Content::Empty: return "an empty file";
  case Content::Library: return "a shared library";
  case Content::Object: return "an object file";
  case Content::Checkpoint: return "a checkpoint (safetensors)";
  case Content::Json: return "JSON";
  case Content::Svg: return "an SVG image";
  case Content::Source: return "a model source (.rnn)";
  case Content::Text: return "text";
  case Content::Binary: return "binary data";
  }
  return "a file";
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Content sniff(const std::string &path, uint64_t size) {
  if (size == 0)
    return Content::Empty;
  if (endsWith(path, ".rnn"))
    return Content::Source;
  char head[512] = {};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  ssize_t got = fd >= 0 ? ::read(fd, head, sizeof head) : -1;
  if (fd >= 0)
    ::close(fd);
  if (got <= 0)
    return Content::Binary;
  const std::string bytes(head, static_cast<size_t>(got));
  if (bytes.size() >= 18 && bytes.compare(0, 4, "\x7f" "ELF") == 0)
    return bytes[16] == 1 ? Content::Object : Content::Library; // e_type ET_REL or not
  if (bytes.size() >= 9) {
    uint64_t length = 0;
    std::memcpy(&length, bytes.data(), 8);
    if (length + 8 <= size && bytes[8] == '{')
      return Content::Checkpoint;
  }
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (bytes[first] == '{' || bytes[first] == '['))
    return Content::Json;
  if (bytes.find("<svg") != std::string::npos)
    return Content::Svg;
  if (bytes.find('\0') != std::string::npos)
    return Content::Binary;
  return Content::Text;
}

bool accepts(OutputKind kind, Content content) {
  switch (content) {
  case Content::Empty: return true;
  case Content::Library: return kind == OutputKind::Library;
  case Content::Object: return kind == OutputKind::Object;
  case Content::Checkpoint: return kind == OutputKind::Checkpoint;
  case Content::Json: return kind == OutputKind::Json || kind == OutputKind::Text;
  case Content::Svg: return kind == OutputKind::Svg;
  case Content::Source: return false;
  case Content::Text: return kind == OutputKind::Text;
  case Content::Binary: return false;
  }
  return false;
}

std::string directoryOf(const std::string &path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string &path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string typeOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

} // namespace

const char *outputKindName(OutputKind kind) {
  switch (kind) {
  case OutputKind::Checkpoint: return "a checkpoint";
  case OutputKind::Json: return "a JSON report";
  case OutputKind::Svg: return "an SVG plot";
  case OutputKind::Library: return "a model library";
  case OutputKind::Object: return "an object file";
  case OutputKind::Text: return "text";
  }
  return "a file";
}

std::string resolveOutputPath(const std::string &path) {
  std::string current = path;
  for (int hops = 0; hops < 40; ++hops) {
    char target[PATH_MAX];
    const ssize_t n = ::readlink(current.c_str(), target, sizeof target - 1);
    if (n < 0)
      return current;
    target[n] = '\0';
    const std::string next(target);
    current = next.front() == '/' ? next : directoryOf(current) + "/" + next;
  }
  return current;
}

void removeStaleTemporaries(const std::string &target) {
  const std::string dir = directoryOf(target), prefix = baseName(target) + ".tmp-";
  DIR *listing = ::opendir(dir.c_str());
  if (!listing)
    return;
  while (const dirent *entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size() || name.size() > prefix.size() + 10)
      continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const long pid = std::stol(digits);
    if (pid == ::getpid() || (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM))
      continue; // its writer may still be running
    ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(listing);
}

bool checkOutput(const std::string &path, OutputKind kind, const std::vector<std::string> &inputs,
                 const std::string &flag, std::string &error) {
  const std::string shown = "'" + escapeForMessage(path) + "'";
  const std::string who = flag.empty() ? "" : flag + " ";
  if (path.empty() || path == "-") {
    error = who + "needs a file name";
    return false;
  }
  const std::string target = resolveOutputPath(path);
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      error = who + shown + " is " + typeOf(st.st_mode) + ", not a regular file; refusing to write " +
              outputKindName(kind) + " over it";
      return false;
    }
    for (const std::string &input : inputs) {
      struct stat in {};
      if (::stat(input.c_str(), &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
        error = who + shown + " is the input file '" + escapeForMessage(input) + "'; refusing to overwrite it";
        return false;
      }
    }
    const Content content = sniff(target, static_cast<uint64_t>(st.st_size));
    if (!accepts(kind, content)) {
      error = who + shown + " holds " + contentName(content) + "; refusing to replace it with " +
              outputKindName(kind) + " (remove it first or choose another name)";
      return false;
    }
  } else if (errno != ENOENT) {
    error = who + shown + ": " + std::strerror(errno);
    return false;
  }
  const std::string dir = directoryOf(target);
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode)) {
    error = who + shown + ": the directory '" + escapeForMessage(dir) + "' does not exist (No such file or directory)";
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    error = who + shown + ": cannot write in the directory '" + escapeForMessage(dir) + "' (" + std::strerror(errno) +
            ")";
    return false;
  }
  removeStaleTemporaries(target);
  return true;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!temporary_.empty())
    ::unlink(temporary_.c_str());
}

bool AtomicFile::open(const std::string &path, OutputKind kind, std::string &error) {
  if (!checkOutput(path, kind, {}, "", error))
    return false;
  target_ = resolveOutputPath(path);
  temporary_ = target_ + ".tmp-" + std::to_string(::getpid());
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd_ < 0) {
    error = "cannot create the temporary file '" + escapeForMessage(temporary_) + "': " + std::strerror(errno);
    temporary_.clear();
    return false;
  }
  return true;
}

bool AtomicFile::write(const void *data, size_t size, std::string &error) {
  const char *in = static_cast<const char *>(data);
  while (size > 0) {
    const ssize_t put = ::write(fd_, in, size);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0) {
      error = "cannot write '" + escapeForMessage(temporary_) + "': " + std::strerror(put == 0 ? EIO : errno);
      return false;
    }
    in += put, size -= static_cast<size_t>(put);
  }
  return true;
}

bool AtomicFile::commit(std::string &error) {
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    error = "cannot write '" + escapeForMessage(temporary_) + "': " + std::strerror(errno);
    fd_ = -1;
    return false;
  }
  fd_ = -1;
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) {
    error = "cannot rename '" + escapeForMessage(temporary_) + "' over '" + escapeForMessage(target_) +
            "': " + std::strerror(errno);
    return false;
  }
  temporary_.clear();
  const int dir = ::open(directoryOf(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

bool writeFileAtomically(const std::string &path, OutputKind kind, const std::string &bytes, std::string &error) {
  AtomicFile file;
  return file.open(path, kind, error) && file.write(bytes.data(), bytes.size(), error) && file.commit(error);
}

} // namespace rnnc::io
