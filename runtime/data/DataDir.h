//===- DataDir.h - Where data sets and caches are found -------*- C++ -*-===//
//
// The tools look for data sets (the IMDB tarball, ETTh1.csv, ...) in a short
// list of directories, and keep derived files (tokenized data sets) in a
// per-user cache directory. These helpers only compute and probe paths; they
// never read a data set.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <vector>

namespace rnnc::data {

/// Directories searched for data sets, in order: `flagDir` if not empty,
/// else $RNN_DATA_DIR if set, then ./data, then ../shared/data.
std::vector<std::string> dataSearchPath(const std::string &flagDir);

/// The first existing path among dir/candidate for every dir in `path`
/// (dir-major order: every candidate in the first dir, then the next dir);
/// "" if none. `searched` is cleared, then receives every path tried, in
/// order, for an error message that lists them.
std::string findData(const std::vector<std::string> &path,
                     const std::vector<std::string> &candidates,
                     std::vector<std::string> &searched);

/// Whether `path` is a directory (following symlinks).
bool isDirectory(const std::string &path);

/// Where caches go: $XDG_CACHE_HOME/rnnc, else $HOME/.cache/rnnc, else
/// /tmp/rnnc-cache-<uid>. Created if missing; when it cannot be created the
/// /tmp choice is tried next, and "" (no cache) is returned if that fails too.
std::string cacheDirectory();

} // namespace rnnc::data
