//===- DataDir.cpp - Where data sets and caches are found ----------------===//
#include "runtime/data/DataDir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace rnnc::data {
namespace {

namespace fs = std::filesystem;

/// The value of environment variable `name`, or "" if it is unset or empty.
std::string environment(const char *name) {
  const char *value = std::getenv(name);
  return value ? value : "";
}

/// Whether `dir` is a directory after trying to create it (and its parents).
bool ensureDirectory(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return fs::is_directory(dir, ec);
}

} // namespace

std::vector<std::string> dataSearchPath(const std::string &flagDir) {
  std::vector<std::string> path;
  std::string first = flagDir.empty() ? environment("RNN_DATA_DIR") : flagDir;
  if (!first.empty())
    path.push_back(first);
  path.push_back("./data");
  path.push_back("../shared/data");
  return path;
}

std::string findData(const std::vector<std::string> &path,
                     const std::vector<std::string> &candidates,
                     std::vector<std::string> &searched) {
  searched.clear();
  for (const std::string &dir : path)
    for (const std::string &candidate : candidates) {
      std::string tried = (fs::path(dir) / candidate).string();
      searched.push_back(tried);
      std::error_code ec;
      if (fs::exists(tried, ec))
        return tried;
    }
  return "";
}

bool isDirectory(const std::string &path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string cacheDirectory() {
  std::vector<fs::path> choices;
  if (std::string xdg = environment("XDG_CACHE_HOME"); !xdg.empty())
    choices.push_back(fs::path(xdg) / "rnnc");
  else if (std::string home = environment("HOME"); !home.empty())
    choices.push_back(fs::path(home) / ".cache" / "rnnc");
  choices.push_back("/tmp/rnnc-cache-" + std::to_string(::getuid()));
  for (const fs::path &dir : choices)
    if (ensureDirectory(dir))
      return dir.string();
  return "";
}

} // namespace rnnc::data
