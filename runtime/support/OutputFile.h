//===- OutputFile.h - Writing a file the user names, safely -----*- C++ -*-===//
//
// Files a user owns are never replaced by something they were not:
//   - checkOutput (called before any long work) resolves symlinks to the real
//     target, and refuses a target that is not a regular file (directory,
//     device, FIFO, socket), one that is an input of the run (the model's
//     source or library), or one that holds another kind of file than the one
//     being written (a checkpoint given as --json, a model library given as
//     --checkpoint, a .rnn source given as rnnc -o); it checks that the
//     directory exists and is writable, and removes temporaries of this
//     target that a killed run (kill -9) left behind.
//   - AtomicFile writes TARGET.tmp-PID next to the real target, syncs it and
//     renames it over the target, so the path (or the symlink) keeps naming
//     a whole file at every moment.
#pragma once

#include <string>
#include <vector>

namespace rnnc::io {

enum class OutputKind { Checkpoint, Json, Svg, Library, Object, Text };

/// The name of a kind, for messages ("a checkpoint", "a JSON report", ...).
const char *outputKindName(OutputKind kind);

/// The file `path` finally names after following symlinks (a dangling one
/// included); `path` itself if it is not a symlink.
std::string resolveOutputPath(const std::string &path);

/// See the file comment. `inputs` are the run's input files. `flag` names the
/// option in messages ("--json"). On refusal returns false with `error` set.
bool checkOutput(const std::string &path, OutputKind kind, const std::vector<std::string> &inputs,
                 const std::string &flag, std::string &error);

/// Removes TARGET.tmp-PID files whose process is gone.
void removeStaleTemporaries(const std::string &target);

class AtomicFile {
public:
  AtomicFile() = default;
  ~AtomicFile(); ///< removes the temporary unless committed
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  /// checkOutput(path, kind), then creates the temporary.
  bool open(const std::string &path, OutputKind kind, std::string &error);
  bool write(const void *data, size_t size, std::string &error);
  /// fsync, rename over the target, fsync the directory.
  bool commit(std::string &error);

private:
  int fd_ = -1;
  std::string target_, temporary_;
};

/// AtomicFile in one call.
bool writeFileAtomically(const std::string &path, OutputKind kind, const std::string &bytes, std::string &error);

} // namespace rnnc::io
