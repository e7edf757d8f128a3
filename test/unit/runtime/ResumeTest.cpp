//===- ResumeTest.cpp - Checkpoints of running models, and exact resumes --===//
#include "compiler/driver/Backend.h"
#include "runtime/state/TrainingState.h"
#include "runtime/checkpoint/Checkpoint.h"
#include "CompileTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace rnnc {
namespace {

const char *kModel = "model resume { input x: f32[b, 6, 3]\n target y: f32[b]\n"
                     " h = gru(x, hidden=9, layers=2, dropout=0.2, returns=\"last\")\n"
                     " p = dense(dropout(h, p=0.1), units=1)\n loss mse(p, y)\n"
                     " optimizer adam(lr=0.01)\n train { seed=5 clip=1.0 } }";

using testing::compileText;

/// The batch of (epoch, step): deterministic synthetic data.
void batchOf(int epoch, int step, std::vector<float> &x, std::vector<float> &y) {
  std::mt19937 rng(epoch * 100 + step);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (float &v : x)
    v = uniform(rng);
  for (size_t b = 0; b < y.size(); ++b)
    y[b] = x[b * 18] - 0.5f * x[b * 18 + 17];
}

void trainEpochs(runtime::Model &model, rnnc_instance *instance, int from, int to) {
  std::vector<float> x(4 * 18), y(4);
  const void *inputs[] = {x.data()}, *targets[] = {y.data()};
  for (int epoch = from; epoch < to; ++epoch)
    for (int step = 0; step < 3; ++step) {
      batchOf(epoch, step, x, y);
      float loss;
      ASSERT_EQ(model.trainStep(instance, 4, inputs, targets, &loss), RNNC_OK);
    }
}

TEST(Resume, TwoPlusTwoEpochsEqualFourBitForBit) {
  const std::string dir = ::testing::TempDir();
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    SCOPED_TRACE(plan::planKindName(kind));
    auto model = compileText(kModel, kind);
    ASSERT_TRUE(model);
    const rnnc_model_info &info = model->info();
    rnnc_instance *straight = model->create(4), *first = model->create(4), *second = model->create(4);
    for (rnnc_instance *i : {straight, first, second})
      model->initParams(i, 11);
    model->initParams(second, 99); // overwritten by the checkpoint
    trainEpochs(*model, straight, 0, 4);
    trainEpochs(*model, first, 0, 2);
    std::string error;
    const std::string path = dir + "/resume.safetensors";
    ASSERT_TRUE(runtime::saveTrainingState(path, *model, first, {2, 0, 5}, {}, error)) << error;
    runtime::TrainingProgress progress;
    std::map<std::string, std::string> metadata;
    ASSERT_TRUE(runtime::loadTrainingState(path, *model, second, progress, metadata, error)) << error;
    EXPECT_EQ(progress.epoch, 2);
    EXPECT_EQ(progress.dataSeed, 5u);
    EXPECT_EQ(metadata["model"], "resume");
    EXPECT_EQ(model->stepsDone(second), 6);
    trainEpochs(*model, second, 2, 4);
    EXPECT_EQ(std::memcmp(model->params(straight), model->params(second), info.param_elements * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(model->optimizerState(straight), model->optimizerState(second),
                          2 * info.param_elements * sizeof(float)), 0);
    for (rnnc_instance *i : {straight, first, second})
      model->destroy(i);
  }
}

TEST(Resume, RejectsCheckpointsThatDoNotFitAndChangesNothing) {
  const std::string dir = ::testing::TempDir();
  auto model = compileText(kModel, plan::PlanKind::Symbolic);
  ASSERT_TRUE(model);
  rnnc_instance *instance = model->create(2);
  model->initParams(instance, 1);
  const rnnc_model_info &info = model->info();
  std::vector<float> before(model->params(instance), model->params(instance) + info.param_elements);
  std::string error;
  runtime::TrainingProgress progress;
  std::map<std::string, std::string> metadata;

  // Another model's checkpoint.
  auto other = compileText("model other { input x: f32[b, 6, 3]\n target y: f32[b]\n p = dense(last(x), units=1)\n loss mse(p, y) }",
                       plan::PlanKind::Symbolic);
  rnnc_instance *otherInstance = other->create(1);
  ASSERT_TRUE(runtime::saveTrainingState(dir + "/other.safetensors", *other, otherInstance, {}, {}, error)) << error;
  EXPECT_FALSE(runtime::loadTrainingState(dir + "/other.safetensors", *model, instance, progress, metadata, error));
  EXPECT_NE(error.find("checkpoint of model 'other', not of 'resume'"), std::string::npos) << error;
  other->destroy(otherInstance);

  // A parameter of the wrong shape, an unknown tensor, a missing parameter:
  // each error names the tensor.
  ASSERT_TRUE(runtime::saveTrainingState(dir + "/good.safetensors", *model, instance, {}, {}, error)) << error;
  checkpoint::Checkpoint ckpt;
  ASSERT_TRUE(checkpoint::load(dir + "/good.safetensors", ckpt, error)) << error;
  ckpt.metadata.erase("model");
  for (checkpoint::Tensor &t : ckpt.tensors)
    if (t.name == "h.weight_hh_l1")
      t.shape = {9, 27}, t.bytes.resize(9 * 27 * 4);
  ASSERT_TRUE(checkpoint::save(dir + "/shape.safetensors", ckpt, error)) << error;
  EXPECT_FALSE(runtime::loadTrainingState(dir + "/shape.safetensors", *model, instance, progress, metadata, error));
  EXPECT_NE(error.find("h.weight_hh_l1"), std::string::npos) << error;
  EXPECT_NE(error.find("[27, 9]"), std::string::npos) << error;

  ASSERT_TRUE(checkpoint::load(dir + "/good.safetensors", ckpt, error));
  float extra = 1;
  ckpt.tensors.push_back(checkpoint::makeF32("encoder.weight", {1}, &extra));
  ASSERT_TRUE(checkpoint::save(dir + "/extra.safetensors", ckpt, error)) << error;
  EXPECT_FALSE(runtime::loadTrainingState(dir + "/extra.safetensors", *model, instance, progress, metadata, error));
  EXPECT_NE(error.find("tensor 'encoder.weight' is not a parameter of model 'resume'"), std::string::npos) << error;

  ASSERT_TRUE(checkpoint::load(dir + "/good.safetensors", ckpt, error));
  ckpt.tensors.erase(std::remove_if(ckpt.tensors.begin(), ckpt.tensors.end(),
                                    [](const checkpoint::Tensor &t) { return t.name == "p.bias"; }),
                     ckpt.tensors.end());
  ASSERT_TRUE(checkpoint::save(dir + "/missing.safetensors", ckpt, error)) << error;
  EXPECT_FALSE(runtime::loadTrainingState(dir + "/missing.safetensors", *model, instance, progress, metadata, error));
  EXPECT_NE(error.find("p.bias"), std::string::npos) << error;

  EXPECT_EQ(std::memcmp(before.data(), model->params(instance), before.size() * sizeof(float)), 0);
  model->destroy(instance);
}

TEST(Resume, LoadsParametersAloneAsFromPyTorch) {
  const std::string dir = ::testing::TempDir();
  auto model = compileText(kModel, plan::PlanKind::Imperative);
  ASSERT_TRUE(model);
  const rnnc_model_info &info = model->info();
  checkpoint::Checkpoint ckpt; // a state_dict: names and shapes only
  std::vector<std::vector<float>> values;
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &d = info.params[k];
    int64_t n = 1;
    for (int32_t r = 0; r < d.rank; ++r)
      n *= d.dims[r];
    values.emplace_back(n, 0.25f + k);
    ckpt.tensors.push_back(checkpoint::makeF32(d.name, std::vector<int64_t>(d.dims, d.dims + d.rank), values.back().data()));
  }
  std::string error;
  ASSERT_TRUE(checkpoint::save(dir + "/torch.safetensors", ckpt, error)) << error;
  rnnc_instance *instance = model->create(1);
  runtime::TrainingProgress progress{7, 7, 7};
  std::map<std::string, std::string> metadata;
  ASSERT_TRUE(runtime::loadTrainingState(dir + "/torch.safetensors", *model, instance, progress, metadata, error)) << error;
  EXPECT_EQ(progress.epoch, 0);
  for (int32_t k = 0; k < info.num_params; ++k)
    EXPECT_EQ(model->params(instance)[info.params[k].offset], 0.25f + k) << info.params[k].name;
  model->destroy(instance);
}

} // namespace
} // namespace rnnc
