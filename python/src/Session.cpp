//===- Session.cpp - A model, its instance, and what a run keeps ----------===//
#include "python/src/Session.h"

#include "runtime/train/Datasets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace rnnc::python {
namespace {

double denormalizeSession(double value, const void *context) {
  const auto *session = static_cast<const Session *>(context);
  return train::denormalizeTarget(value, session->targetMin, session->targetMax);
}

} // namespace

Session::Session(std::unique_ptr<runtime::Model> model, std::string source)
    : model_(std::move(model)), source_(std::move(source)) {
  const rnnc_model_info &info = model_->info();
  const nlohmann::json config = nlohmann::json::parse(info.config_json ? info.config_json : "{}", nullptr, false);
  if (config.is_object() && info.train.has_train_step)
    loss_ = config.value("loss", std::string());
  reserve(std::max<int64_t>(1, train::trainOptionsOf(info).batch));
  init(0);
}

Session::~Session() {
  if (instance_)
    model_->destroy(instance_);
}

void Session::reserve(int64_t batch) {
  if (batch <= capacity_)
    return;
  rnnc_instance *fresh = model_->create(batch);
  if (!fresh)
    throw std::bad_alloc();
  if (threads_ > 1 && model_->setThreads(fresh, threads_) != RNNC_OK) {
    model_->destroy(fresh);
    throw std::bad_alloc();
  }
  const rnnc_model_info &info = model_->info();
  if (instance_) {
    std::copy_n(model_->params(instance_), info.param_elements, model_->params(fresh));
    model_->paramsChanged(fresh);
    if (info.train.has_train_step) {
      std::copy_n(model_->optimizerState(instance_), 2 * info.param_elements, model_->optimizerState(fresh));
      model_->setStepsDone(fresh, model_->stepsDone(instance_));
    }
    if (lr_ > 0)
      model_->setLearningRate(fresh, lr_);
    model_->destroy(instance_);
  }
  instance_ = fresh;
  capacity_ = batch;
}

void Session::init(uint64_t seed) {
  seed_ = seed;
  train::initParameters(*model_, instance_, seed);
}

void Session::setThreads(int32_t threads) {
  if (threads == threads_)
    return;
  if (model_->setThreads(instance_, threads) != RNNC_OK)
    throw std::bad_alloc();
  threads_ = threads;
}

void Session::setLearningRate(float lr) {
  if (lr <= 0)
    lr = info().train.lr;
  model_->setLearningRate(instance_, lr);
  lr_ = lr;
}

int64_t Session::classes() const {
  if (train::taskOfLoss(loss_) != train::Task::Classification)
    return 0;
  const rnnc_tensor_desc &output = info().outputs[0];
  int64_t width = 1;
  for (int32_t k = 1; k < output.rank; ++k)
    width *= output.dims[k];
  return width;
}

std::unique_lock<std::mutex> Session::claim() {
  std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
  if (!lock.owns_lock())
    throw std::runtime_error(std::string("model '") + info().model_name +
                             "' is busy in another thread; a Model runs one call at a time");
  return lock;
}

train::Trainer Session::trainer() {
  return train::Trainer(*model_, instance_, loss_, classes(), scaled ? denormalizeSession : nullptr, this);
}

} // namespace rnnc::python
