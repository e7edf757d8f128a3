//===- Loader.cpp - dlopen, ABI version and CPU feature checks ------------===//
#include "runtime/loader/Loader.h"

#include "runtime/support/Checksum.h"

#include <dlfcn.h>
#include <elf.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace rnnc::runtime {
namespace {

bool hasFeature(const std::string &name) {
  __builtin_cpu_init();
  if (name == "sse4.2") return __builtin_cpu_supports("sse4.2");
  if (name == "avx") return __builtin_cpu_supports("avx");
  if (name == "avx2") return __builtin_cpu_supports("avx2");
  if (name == "fma") return __builtin_cpu_supports("fma");
  if (name == "f16c") return __builtin_cpu_supports("f16c");
  if (name == "bmi2") return __builtin_cpu_supports("bmi2");
  if (name == "fma4") return __builtin_cpu_supports("fma4");
  if (name == "xop") return __builtin_cpu_supports("xop");
  if (name == "avx512f") return __builtin_cpu_supports("avx512f");
  if (name == "avx512bw") return __builtin_cpu_supports("avx512bw");
  if (name == "avx512dq") return __builtin_cpu_supports("avx512dq");
  if (name == "avx512vl") return __builtin_cpu_supports("avx512vl");
  return false;
}

/// dlopen maps a file without checking that it is whole; touching a page past
/// the end of a truncated file is a SIGBUS. So check the ELF structure first:
/// a 64-bit x86-64 shared object whose program headers, loaded segments and
/// section headers all lie inside the file.
bool checkElf(const std::string &path, std::string &error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "cannot load '" + path + "': cannot open the file";
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  Elf64_Ehdr header{};
  in.seekg(0);
  if (size < sizeof header || !in.read(reinterpret_cast<char *>(&header), sizeof header) ||
      std::string(reinterpret_cast<char *>(header.e_ident), 4) != "\x7f" "ELF") {
    error = "cannot load '" + path + "': not an ELF shared library";
    return false;
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != EM_X86_64 || header.e_type != ET_DYN) {
    error = "cannot load '" + path + "': not a 64-bit x86-64 shared library";
    return false;
  }
  const uint64_t phEnd = header.e_phoff + uint64_t(header.e_phnum) * header.e_phentsize;
  const uint64_t shEnd = header.e_shoff + uint64_t(header.e_shnum) * header.e_shentsize;
  bool whole = header.e_phentsize == sizeof(Elf64_Phdr) && phEnd <= size && shEnd <= size;
  std::vector<Elf64_Phdr> segments(whole ? header.e_phnum : 0);
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  for (Elf64_Phdr &segment : segments) {
    whole = whole && in.read(reinterpret_cast<char *>(&segment), sizeof segment) &&
            segment.p_offset + segment.p_filesz <= size;
  }
  if (!whole) {
    error = "cannot load '" + path + "': the file is truncated or corrupt (" + std::to_string(size) + " bytes)";
    return false;
  }
  return true;
}

} // namespace

std::string missingCpuFeatures(const std::string &list) {
  std::string missing, item;
  std::stringstream in(list);
  while (std::getline(in, item, ','))
    if (!item.empty() && !hasFeature(item))
      missing += (missing.empty() ? "" : ",") + item;
  return missing;
}

bool checkRunsHere(const rnnc_model_info &info, const std::string &what, std::string &error) {
  const std::string missing = missingCpuFeatures(info.target_features ? info.target_features : "");
  if (missing.empty())
    return true;
  error = what + " was compiled for CPU '" + (info.target_cpu ? info.target_cpu : "?") + "' and needs " + missing +
          ", which this CPU lacks; recompile it with --target-cpu=host";
  return false;
}

std::unique_ptr<Model> openSharedLibrary(const std::string &path, std::string &error) {
  // A path without a slash would make dlopen search the library path.
  const std::string resolved = path.find('/') == std::string::npos ? "./" + path : path;
  if (!checkElf(resolved, error) || !io::verifyLibraryChecksum(resolved, error))
    return nullptr;
  void *handle = dlopen(resolved.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    error = "cannot load '" + path + "': " + (why ? why : "unknown error");
    return nullptr;
  }
  std::shared_ptr<void> library(handle, [](void *h) { dlclose(h); });
  ModelFunctions fn;
  auto getInfo = reinterpret_cast<const rnnc_model_info *(*)()>(dlsym(handle, "rnnc_model_info_get"));
  if (!getInfo) {
    error = "'" + path + "' is not an rnnc model library (no rnnc_model_info_get)";
    return nullptr;
  }
  fn.info = getInfo();
  if (fn.info->abi_version != RNNC_ABI_VERSION) {
    error = "'" + path + "' uses model ABI version " + std::to_string(fn.info->abi_version) +
            ", this runtime version " + std::to_string(RNNC_ABI_VERSION) + "; recompile it with this rnnc";
    return nullptr;
  }
  if (!checkRunsHere(*fn.info, "'" + path + "'", error))
    return nullptr;
  auto bind = [&](auto &pointer, const char *name) {
    pointer = reinterpret_cast<std::remove_reference_t<decltype(pointer)>>(dlsym(handle, name));
    if (!pointer)
      error = "'" + path + "' lacks " + name;
    return pointer != nullptr;
  };
  rnnc_instance *(*create)(int64_t) = nullptr;
  if (!bind(create, "rnnc_create"))
    return nullptr;
  fn.create = create;
#define RNNC_BIND(type, name, method, params, args)                                                                  \
  if (!bind(fn.name, "rnnc_" #name))                                                                                 \
    return nullptr;
  RNNC_ABI_FUNCTIONS(RNNC_BIND, RNNC_BIND)
#undef RNNC_BIND
  return std::make_unique<Model>(std::move(fn), std::move(library));
}

std::unique_ptr<Model> openBinding(const rnnc_model_binding &binding, std::shared_ptr<void> keepAlive) {
  // The binding lives in the table's create, which the instances point to.
  auto owned = std::make_shared<const rnnc_model_binding>(binding);
  ModelFunctions fn;
  fn.info = binding.info;
  fn.create = [owned](int64_t maxBatch) { return rnnc_binding_create(owned.get(), maxBatch); };
#define RNNC_BINDING(type, name, method, params, args) fn.name = rnnc_binding_##name;
  RNNC_ABI_FUNCTIONS(RNNC_BINDING, RNNC_BINDING)
#undef RNNC_BINDING
  return std::make_unique<Model>(std::move(fn), std::move(keepAlive));
}

} // namespace rnnc::runtime
