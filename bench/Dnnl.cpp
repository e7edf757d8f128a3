//===- Dnnl.cpp - oneDNN's RNN primitives on the benchmark shapes ---------===//
#include "bench/Dnnl.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <omp.h>

#include <cstring>
#include <random>
#include <vector>

namespace rnnc::bench {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

/// Fills a memory object with uniform values in [-scale, scale).
void fillRandom(memory &m, std::mt19937 &rng, float scale) {
  auto *data = static_cast<float *>(m.get_data_handle());
  size_t n = m.get_desc().get_size() / sizeof(float);
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (size_t i = 0; i < n; ++i)
    data[i] = dist(rng);
}

void zero(memory &m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

} // namespace

/// One layer (both directions when bidirectional) of the stack.
struct Layer {
  memory::desc src, dst, weightsLayerUser, weightsIterUser, bias;
  dnnl::primitive forward, backward;
  memory srcMem, dstMem, weightsLayer, weightsIter, biasMem, workspace;
  // Backward.
  memory bwdWeightsLayer, bwdWeightsIter, diffSrc, diffDst, diffWeightsLayer, diffWeightsIter,
      diffBias;
  bool reorderLayer = false, reorderIter = false;
  dnnl::reorder toBwdLayer, toBwdIter;
};

struct DnnlStack::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<Layer> layers;
  bool training = false;
};

DnnlStack::DnnlStack(const RecurrentShape &s, bool training) : impl(std::make_unique<Impl>()) {
  impl->training = training;
  std::mt19937 rng(1234);
  const int64_t D = s.bidirectional ? 2 : 1, G = s.gru ? 3 : 4, T = s.steps, B = s.batch,
                H = s.hidden;
  const auto dir = s.bidirectional ? dnnl::rnn_direction::bidirectional_concat
                                   : dnnl::rnn_direction::unidirectional_left2right;
  const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  auto &eng = impl->engine;
  const memory::desc none;
  for (int l = 0; l < s.layers; ++l) {
    Layer layer;
    const int64_t I = l == 0 ? s.input : D * H;
    layer.src = memory::desc({T, B, I}, dt::f32, tag::tnc);
    layer.dst = memory::desc({T, B, D * H}, dt::f32, tag::tnc);
    memory::desc wlAny({1, D, I, G, H}, dt::f32, tag::any), wiAny({1, D, H, G, H}, dt::f32, tag::any);
    layer.weightsLayerUser = memory::desc({1, D, I, G, H}, dt::f32, tag::ldigo);
    layer.weightsIterUser = memory::desc({1, D, H, G, H}, dt::f32, tag::ldigo);
    layer.bias = memory::desc({1, D, s.gru ? G + 1 : G, H}, dt::f32, tag::ldgo);

    memory::desc fwdWl, fwdWi, workspace, bwdWl, bwdWi, diffWl, diffWi;
    if (s.gru) {
      dnnl::lbr_gru_forward::desc fd(prop, dir, layer.src, none, wlAny, wiAny, layer.bias, layer.dst, none);
      dnnl::lbr_gru_forward::primitive_desc fpd(fd, eng);
      layer.forward = dnnl::lbr_gru_forward(fpd);
      fwdWl = fpd.weights_layer_desc(), fwdWi = fpd.weights_iter_desc(), workspace = fpd.workspace_desc();
      if (training) {
        dnnl::lbr_gru_backward::desc bd(dnnl::prop_kind::backward, dir, layer.src, none, wlAny, wiAny,
                                        layer.bias, layer.dst, none, layer.src, none, wlAny, wiAny,
                                        layer.bias, layer.dst, none);
        dnnl::lbr_gru_backward::primitive_desc bpd(bd, eng, fpd);
        layer.backward = dnnl::lbr_gru_backward(bpd);
        bwdWl = bpd.weights_layer_desc(), bwdWi = bpd.weights_iter_desc();
        diffWl = bpd.diff_weights_layer_desc(), diffWi = bpd.diff_weights_iter_desc();
      }
    } else {
      dnnl::lstm_forward::desc fd(prop, dir, layer.src, none, none, wlAny, wiAny, layer.bias, layer.dst,
                                  none, none);
      dnnl::lstm_forward::primitive_desc fpd(fd, eng);
      layer.forward = dnnl::lstm_forward(fpd);
      fwdWl = fpd.weights_layer_desc(), fwdWi = fpd.weights_iter_desc(), workspace = fpd.workspace_desc();
      if (training) {
        dnnl::lstm_backward::desc bd(dnnl::prop_kind::backward, dir, layer.src, none, none, wlAny, wiAny,
                                     layer.bias, layer.dst, none, none, layer.src, none, none, wlAny,
                                     wiAny, layer.bias, layer.dst, none, none);
        dnnl::lstm_backward::primitive_desc bpd(bd, eng, fpd);
        layer.backward = dnnl::lstm_backward(bpd);
        bwdWl = bpd.weights_layer_desc(), bwdWi = bpd.weights_iter_desc();
        diffWl = bpd.diff_weights_layer_desc(), diffWi = bpd.diff_weights_iter_desc();
      }
    }
    // Weights in oneDNN's layout, from random values in the user layout.
    const float scale = 1.0f / std::sqrt(float(H));
    memory userWl(layer.weightsLayerUser, eng), userWi(layer.weightsIterUser, eng);
    fillRandom(userWl, rng, scale);
    fillRandom(userWi, rng, scale);
    layer.weightsLayer = memory(fwdWl, eng);
    layer.weightsIter = memory(fwdWi, eng);
    dnnl::reorder(userWl, layer.weightsLayer).execute(impl->stream, userWl, layer.weightsLayer);
    dnnl::reorder(userWi, layer.weightsIter).execute(impl->stream, userWi, layer.weightsIter);
    layer.biasMem = memory(layer.bias, eng);
    fillRandom(layer.biasMem, rng, scale);
    layer.srcMem = memory(layer.src, eng);
    fillRandom(layer.srcMem, rng, 1.0f);
    layer.dstMem = memory(layer.dst, eng);
    layer.workspace = memory(workspace, eng);
    if (training) {
      // The backward pass may want the weights in another layout: reordering
      // them is part of every step (they change after each update).
      layer.reorderLayer = bwdWl != fwdWl;
      layer.reorderIter = bwdWi != fwdWi;
      layer.bwdWeightsLayer = layer.reorderLayer ? memory(bwdWl, eng) : layer.weightsLayer;
      layer.bwdWeightsIter = layer.reorderIter ? memory(bwdWi, eng) : layer.weightsIter;
      if (layer.reorderLayer)
        layer.toBwdLayer = dnnl::reorder(layer.weightsLayer, layer.bwdWeightsLayer);
      if (layer.reorderIter)
        layer.toBwdIter = dnnl::reorder(layer.weightsIter, layer.bwdWeightsIter);
      layer.diffSrc = memory(layer.src, eng);
      layer.diffDst = memory(layer.dst, eng);
      fillRandom(layer.diffDst, rng, 1e-3f);
      layer.diffWeightsLayer = memory(diffWl, eng);
      layer.diffWeightsIter = memory(diffWi, eng);
      layer.diffBias = memory(layer.bias, eng);
    }
    impl->layers.push_back(std::move(layer));
  }
}

DnnlStack::~DnnlStack() = default;

void DnnlStack::run() {
  auto &stream = impl->stream;
  auto &layers = impl->layers;
  for (size_t l = 0; l < layers.size(); ++l) {
    Layer &layer = layers[l];
    memory &src = l == 0 ? layer.srcMem : layers[l - 1].dstMem;
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC_LAYER, src},
                                         {DNNL_ARG_WEIGHTS_LAYER, layer.weightsLayer},
                                         {DNNL_ARG_WEIGHTS_ITER, layer.weightsIter},
                                         {DNNL_ARG_BIAS, layer.biasMem},
                                         {DNNL_ARG_DST_LAYER, layer.dstMem}};
    if (impl->training)
      args.emplace(DNNL_ARG_WORKSPACE, layer.workspace);
    layer.forward.execute(stream, args);
  }
  if (!impl->training) {
    stream.wait();
    return;
  }
  for (size_t i = layers.size(); i-- > 0;) {
    Layer &layer = layers[i];
    memory &src = i == 0 ? layer.srcMem : layers[i - 1].dstMem;
    memory &diffDst = i + 1 == layers.size() ? layer.diffDst : layers[i + 1].diffSrc;
    if (layer.reorderLayer)
      layer.toBwdLayer.execute(stream, layer.weightsLayer, layer.bwdWeightsLayer);
    if (layer.reorderIter)
      layer.toBwdIter.execute(stream, layer.weightsIter, layer.bwdWeightsIter);
    // oneDNN accumulates into the weight gradients.
    zero(layer.diffWeightsLayer);
    zero(layer.diffWeightsIter);
    zero(layer.diffBias);
    layer.backward.execute(stream, {{DNNL_ARG_SRC_LAYER, src},
                                    {DNNL_ARG_WEIGHTS_LAYER, layer.bwdWeightsLayer},
                                    {DNNL_ARG_WEIGHTS_ITER, layer.bwdWeightsIter},
                                    {DNNL_ARG_BIAS, layer.biasMem},
                                    {DNNL_ARG_DST_LAYER, layer.dstMem},
                                    {DNNL_ARG_WORKSPACE, layer.workspace},
                                    {DNNL_ARG_DIFF_SRC_LAYER, layer.diffSrc},
                                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, layer.diffWeightsLayer},
                                    {DNNL_ARG_DIFF_WEIGHTS_ITER, layer.diffWeightsIter},
                                    {DNNL_ARG_DIFF_BIAS, layer.diffBias},
                                    {DNNL_ARG_DIFF_DST_LAYER, diffDst}});
  }
  stream.wait();
}

void setDnnlThreads(int threads) { omp_set_num_threads(threads); }

std::string dnnlVersion() {
  const dnnl_version_t *v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + " (CPU runtime: OpenMP)";
}

} // namespace rnnc::bench
