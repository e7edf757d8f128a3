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

class SharedLibraryModel : public Model {
public:
  void *handle = nullptr;
  const rnnc_model_info *info_ = nullptr;
  rnnc_instance *(*create_)(int64_t) = nullptr;
  void (*destroy_)(rnnc_instance *) = nullptr;
  void (*init_)(rnnc_instance *, uint64_t) = nullptr;
  float *(*params_)(rnnc_instance *) = nullptr;
  void (*changed_)(rnnc_instance *) = nullptr;
  int32_t (*forward_)(rnnc_instance *, int64_t, const void *const *, float *const *) = nullptr;
  int32_t (*train_)(rnnc_instance *, int64_t, const void *const *, const void *const *, float *) = nullptr;
  void (*setLr_)(rnnc_instance *, float) = nullptr;
  int32_t (*setThreads_)(rnnc_instance *, int32_t) = nullptr;
  const float *(*gradients_)(rnnc_instance *) = nullptr;
  int64_t (*steps_)(rnnc_instance *) = nullptr;
  float *(*state_)(rnnc_instance *) = nullptr;
  void (*setSteps_)(rnnc_instance *, int64_t) = nullptr;
  int32_t (*compute_)(rnnc_instance *, int64_t, const void *const *, const void *const *, int64_t, float *) = nullptr;
  int32_t (*chunks_)(rnnc_instance *) = nullptr;
  const float *(*chunk_)(rnnc_instance *, int32_t, int64_t *, float *) = nullptr;
  int32_t (*apply_)(rnnc_instance *, int32_t, const float *const *, const int64_t *) = nullptr;

  ~SharedLibraryModel() override {
    if (handle)
      dlclose(handle);
  }
  const rnnc_model_info &info() const override { return *info_; }
  rnnc_instance *create(int64_t maxBatch) override { return create_(maxBatch); }
  void destroy(rnnc_instance *instance) override { destroy_(instance); }
  void initParams(rnnc_instance *instance, uint64_t seed) override { init_(instance, seed); }
  float *params(rnnc_instance *instance) override { return params_(instance); }
  void paramsChanged(rnnc_instance *instance) override { changed_(instance); }
  int32_t forward(rnnc_instance *instance, int64_t batch, const void *const *inputs, float *const *outputs) override {
    return forward_(instance, batch, inputs, outputs);
  }
  int32_t trainStep(rnnc_instance *instance, int64_t batch, const void *const *inputs, const void *const *targets,
                    float *loss) override {
    return train_(instance, batch, inputs, targets, loss);
  }
  void setLearningRate(rnnc_instance *instance, float lr) override { setLr_(instance, lr); }
  int32_t setThreads(rnnc_instance *instance, int32_t threads) override { return setThreads_(instance, threads); }
  const float *gradients(rnnc_instance *instance) override { return gradients_(instance); }
  int64_t stepsDone(rnnc_instance *instance) override { return steps_(instance); }
  float *optimizerState(rnnc_instance *instance) override { return state_(instance); }
  void setStepsDone(rnnc_instance *instance, int64_t steps) override { setSteps_(instance, steps); }
  int32_t computeGradients(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                           const void *const *targets, int64_t firstChunk, float *loss) override {
    return compute_(instance, batch, inputs, targets, firstChunk, loss);
  }
  int32_t gradientChunks(rnnc_instance *instance) override { return chunks_(instance); }
  const float *chunkGradient(rnnc_instance *instance, int32_t chunk, int64_t *rows, float *loss) override {
    return chunk_(instance, chunk, rows, loss);
  }
  int32_t applyGradients(rnnc_instance *instance, int32_t count, const float *const *grads,
                         const int64_t *rows) override {
    return apply_(instance, count, grads, rows);
  }
};

class BindingModel : public Model {
public:
  BindingModel(const rnnc_model_binding &binding, std::shared_ptr<void> keepAlive)
      : binding_(binding), keepAlive_(std::move(keepAlive)) {}
  const rnnc_model_info &info() const override { return *binding_.info; }
  rnnc_instance *create(int64_t maxBatch) override { return rnnc_binding_create(&binding_, maxBatch); }
  void destroy(rnnc_instance *instance) override { rnnc_binding_destroy(instance); }
  void initParams(rnnc_instance *instance, uint64_t seed) override { rnnc_binding_init_params(instance, seed); }
  float *params(rnnc_instance *instance) override { return rnnc_binding_params(instance); }
  void paramsChanged(rnnc_instance *instance) override { rnnc_binding_params_changed(instance); }
  int32_t forward(rnnc_instance *instance, int64_t batch, const void *const *inputs, float *const *outputs) override {
    return rnnc_binding_forward(instance, batch, inputs, outputs);
  }
  int32_t trainStep(rnnc_instance *instance, int64_t batch, const void *const *inputs, const void *const *targets,
                    float *loss) override {
    return rnnc_binding_train_step(instance, batch, inputs, targets, loss);
  }
  void setLearningRate(rnnc_instance *instance, float lr) override { rnnc_binding_set_learning_rate(instance, lr); }
  int32_t setThreads(rnnc_instance *instance, int32_t threads) override {
    return rnnc_binding_set_threads(instance, threads);
  }
  const float *gradients(rnnc_instance *instance) override { return rnnc_binding_gradients(instance); }
  int64_t stepsDone(rnnc_instance *instance) override { return rnnc_binding_steps_done(instance); }
  float *optimizerState(rnnc_instance *instance) override { return rnnc_binding_optimizer_state(instance); }
  void setStepsDone(rnnc_instance *instance, int64_t steps) override { rnnc_binding_set_steps_done(instance, steps); }
  int32_t computeGradients(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                           const void *const *targets, int64_t firstChunk, float *loss) override {
    return rnnc_binding_compute_gradients(instance, batch, inputs, targets, firstChunk, loss);
  }
  int32_t gradientChunks(rnnc_instance *instance) override { return rnnc_binding_gradient_chunks(instance); }
  const float *chunkGradient(rnnc_instance *instance, int32_t chunk, int64_t *rows, float *loss) override {
    return rnnc_binding_chunk_gradient(instance, chunk, rows, loss);
  }
  int32_t applyGradients(rnnc_instance *instance, int32_t count, const float *const *grads,
                         const int64_t *rows) override {
    return rnnc_binding_apply_gradients(instance, count, grads, rows);
  }

private:
  rnnc_model_binding binding_;
  std::shared_ptr<void> keepAlive_;
};

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
  auto model = std::make_unique<SharedLibraryModel>();
  model->handle = handle;
  auto *getInfo = reinterpret_cast<const rnnc_model_info *(*)()>(dlsym(handle, "rnnc_model_info_get"));
  if (!getInfo) {
    error = "'" + path + "' is not an rnnc model library (no rnnc_model_info_get)";
    return nullptr;
  }
  model->info_ = getInfo();
  if (model->info_->abi_version != RNNC_ABI_VERSION) {
    error = "'" + path + "' uses model ABI version " + std::to_string(model->info_->abi_version) +
            ", this runtime version " + std::to_string(RNNC_ABI_VERSION) + "; recompile it with this rnnc";
    return nullptr;
  }
  if (!checkRunsHere(*model->info_, "'" + path + "'", error))
    return nullptr;
  auto bind = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (!fn)
      error = "'" + path + "' lacks " + name;
    return fn != nullptr;
  };
  if (!bind(model->create_, "rnnc_create") || !bind(model->destroy_, "rnnc_destroy") ||
      !bind(model->init_, "rnnc_init_params") || !bind(model->params_, "rnnc_params") ||
      !bind(model->changed_, "rnnc_params_changed") || !bind(model->forward_, "rnnc_forward") ||
      !bind(model->train_, "rnnc_train_step") || !bind(model->setLr_, "rnnc_set_learning_rate") ||
      !bind(model->setThreads_, "rnnc_set_threads") ||
      !bind(model->gradients_, "rnnc_gradients") || !bind(model->steps_, "rnnc_train_steps_done") ||
      !bind(model->state_, "rnnc_optimizer_state") || !bind(model->setSteps_, "rnnc_set_train_steps_done") ||
      !bind(model->compute_, "rnnc_compute_gradients") || !bind(model->chunks_, "rnnc_gradient_chunks") ||
      !bind(model->chunk_, "rnnc_chunk_gradient") || !bind(model->apply_, "rnnc_apply_gradients"))
    return nullptr;
  return model;
}

std::unique_ptr<Model> wrapBinding(const rnnc_model_binding &binding, std::shared_ptr<void> keepAlive) {
  return std::make_unique<BindingModel>(binding, std::move(keepAlive));
}

} // namespace rnnc::runtime
