//===- Reference.cpp - Naive double-precision implementations -------------===//
#include "compiler/reference/Reference.h"

#include "compiler/ir/OpFacts.h"
#include "rnnc/plan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rnnc::reference {
namespace {

using ir::OpKind;

int64_t product(const std::vector<int64_t> &shape, size_t from = 0, size_t to = SIZE_MAX) {
  int64_t n = 1;
  for (size_t i = from; i < shape.size() && i < to; ++i)
    n *= shape[i];
  return n;
}

/// out[r, u] = sum_k x[r, k] * w[u, k] + b[u]
Tensor dense(const Tensor &x, const Tensor &w, const Tensor *b) {
  const int64_t units = w.shape[0], in = w.shape[1], rows = x.size() / in;
  std::vector<int64_t> shape = x.shape;
  shape.back() = units;
  Tensor out(shape);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t u = 0; u < units; ++u) {
      double acc = b ? b->data[u] : 0.0;
      for (int64_t k = 0; k < in; ++k)
        acc += x.data[r * in + k] * w.data[u * in + k];
      out.data[r * units + u] = acc;
    }
  return out;
}

/// The length of each sample's sequence: `lengths` (checked to be in
/// [1, steps]), or steps for all without lengths.
std::vector<int64_t> lengthsOf(const Tensor *lengths, int64_t batch, int64_t steps) {
  std::vector<int64_t> result(batch, steps);
  if (!lengths)
    return result;
  for (int64_t b = 0; b < batch; ++b) {
    const double l = lengths->data[b];
    if (!(l >= 1 && l <= static_cast<double>(steps)))
      throw std::invalid_argument("sequence length " + std::to_string(static_cast<int64_t>(l)) + " of sample " +
                                  std::to_string(b) + " is outside [1, " + std::to_string(steps) + "]");
    result[b] = static_cast<int64_t>(l);
  }
  return result;
}

/// One recurrent layer, one direction, zero initial state. With lengths
/// (PyTorch's packed sequences, left-aligned) a sample of length L runs steps
/// 0..L-1 only: the reverse direction starts at step L-1, and the output of
/// the steps from L on is 0.
Tensor recurrent(OpKind kind, const Tensor &x, const Tensor &wih, const Tensor &whh, const Tensor &bih,
                 const Tensor &bhh, const Tensor *lengths, int64_t hidden, bool reverse) {
  const int64_t batch = x.shape[0], steps = x.shape[1], in = x.shape[2], H = hidden;
  const int64_t gates = ir::gateCount(ir::cellKindOf(kind));
  const std::vector<int64_t> length = lengthsOf(lengths, batch, steps);
  Tensor out({batch, steps, H});
  std::vector<double> gi(gates * H), gh(gates * H);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> h(H, 0.0), c(H, 0.0);
    const int64_t L = length[b];
    for (int64_t s = 0; s < L; ++s) {
      const int64_t t = reverse ? L - 1 - s : s;
      for (int64_t row = 0; row < gates * H; ++row) {
        double a = bih.data[row], r = bhh.data[row];
        for (int64_t k = 0; k < in; ++k)
          a += wih.data[row * in + k] * x.data[(b * steps + t) * in + k];
        for (int64_t k = 0; k < H; ++k)
          r += whh.data[row * H + k] * h[k];
        gi[row] = a;
        gh[row] = r;
      }
      for (int64_t j = 0; j < H; ++j) {
        if (kind == OpKind::Lstm) {
          const double i = sigmoid(gi[j] + gh[j]);
          const double f = sigmoid(gi[H + j] + gh[H + j]);
          const double g = std::tanh(gi[2 * H + j] + gh[2 * H + j]);
          const double o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
          c[j] = f * c[j] + i * g;
          gi[j] = o * std::tanh(c[j]); // the new h, kept aside until all units are done
        } else {
          const double r = sigmoid(gi[j] + gh[j]);
          const double z = sigmoid(gi[H + j] + gh[H + j]);
          const double n = std::tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          gi[j] = (1 - z) * n + z * h[j];
        }
      }
      for (int64_t j = 0; j < H; ++j) {
        h[j] = gi[j];
        out.data[(b * steps + t) * H + j] = h[j];
      }
    }
  }
  return out;
}

Tensor concat(const std::vector<const Tensor *> &parts, int64_t axis) {
  std::vector<int64_t> shape = parts[0]->shape;
  shape[axis] = 0;
  for (const Tensor *p : parts)
    shape[axis] += p->shape[axis];
  Tensor out(shape);
  const int64_t outer = product(shape, 0, axis), outWidth = product(shape, axis);
  int64_t offset = 0;
  for (const Tensor *p : parts) {
    const int64_t width = product(p->shape, axis);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < width; ++k)
        out.data[o * outWidth + offset + k] = p->data[o * width + k];
    offset += width;
  }
  return out;
}

/// The first or the last step of each sample (with lengths: step L-1).
Tensor step(const Tensor &x, bool last, const Tensor *lengths) {
  const int64_t batch = x.shape[0], steps = x.shape[1], width = x.shape[2];
  const std::vector<int64_t> length = lengthsOf(lengths, batch, steps);
  Tensor out({batch, width});
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t t = last ? length[b] - 1 : 0;
    for (int64_t k = 0; k < width; ++k)
      out.data[b * width + k] = x.data[(b * steps + t) * width + k];
  }
  return out;
}

/// The mean (or the element-wise max) over the steps of each sample: all T,
/// or with lengths steps 0..L-1.
Tensor pool(const Tensor &x, bool max, const Tensor *lengths) {
  const int64_t batch = x.shape[0], steps = x.shape[1], width = x.shape[2];
  const std::vector<int64_t> length = lengthsOf(lengths, batch, steps);
  Tensor out({batch, width});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t k = 0; k < width; ++k) {
      double acc = x.data[b * steps * width + k];
      for (int64_t t = 1; t < length[b]; ++t) {
        const double v = x.data[(b * steps + t) * width + k];
        acc = max ? std::max(acc, v) : acc + v;
      }
      out.data[b * width + k] = max ? acc : acc / static_cast<double>(length[b]);
    }
  return out;
}

/// The gradient of pool(): dy / L at each of the L steps (mean), or dy at the
/// first step of the max (max); 0 at the steps >= L.
Tensor poolGrad(const Tensor &dy, const Tensor *x, int64_t steps, const Tensor *lengths) {
  const int64_t batch = dy.shape[0], width = dy.shape[1];
  const std::vector<int64_t> length = lengthsOf(lengths, batch, steps);
  Tensor out({batch, steps, width});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t k = 0; k < width; ++k) {
      const double g = dy.data[b * width + k];
      if (!x) {
        for (int64_t t = 0; t < length[b]; ++t)
          out.data[(b * steps + t) * width + k] = g / static_cast<double>(length[b]);
        continue;
      }
      int64_t best = 0;
      for (int64_t t = 1; t < length[b]; ++t)
        if (x->data[(b * steps + t) * width + k] > x->data[(b * steps + best) * width + k])
          best = t;
      out.data[(b * steps + best) * width + k] = g;
    }
  return out;
}

Tensor elementwise(const Tensor &x, double (*f)(double)) {
  Tensor out = x;
  for (double &v : out.data)
    v = f(v);
  return out;
}

double relu(double x) { return x > 0 ? x : 0; }
double tanhOf(double x) { return std::tanh(x); }

Tensor softmax(const Tensor &x) {
  Tensor out = x;
  const int64_t width = x.shape.back(), rows = x.size() / width;
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, sum = 0;
    for (int64_t k = 0; k < width; ++k)
      m = std::max(m, x.data[r * width + k]);
    for (int64_t k = 0; k < width; ++k)
      sum += std::exp(x.data[r * width + k] - m);
    for (int64_t k = 0; k < width; ++k)
      out.data[r * width + k] = std::exp(x.data[r * width + k] - m) / sum;
  }
  return out;
}

Tensor loss(OpKind kind, const Tensor &pred, const Tensor &target) {
  Tensor out(std::vector<int64_t>{});
  const int64_t batch = pred.shape[0];
  double total = 0;
  if (kind == OpKind::SoftmaxCrossEntropy) {
    const int64_t classes = pred.shape[1];
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t label = static_cast<int64_t>(target.data[b]);
      if (label < 0 || label >= classes)
        throw std::invalid_argument("class id " + std::to_string(label) + " out of range");
      double m = -INFINITY, sum = 0;
      for (int64_t k = 0; k < classes; ++k)
        m = std::max(m, pred.data[b * classes + k]);
      for (int64_t k = 0; k < classes; ++k)
        sum += std::exp(pred.data[b * classes + k] - m);
      total += m + std::log(sum) - pred.data[b * classes + label];
    }
    out.data[0] = total / batch;
    return out;
  }
  const int64_t n = pred.size();
  for (int64_t i = 0; i < n; ++i) {
    const double p = pred.data[i], t = target.data[i];
    switch (kind) {
    case OpKind::Mse: total += (p - t) * (p - t); break;
    case OpKind::Mae: total += std::fabs(p - t); break;
    default: // bce_with_logits: max(p,0) - p*t + log(1 + exp(-|p|))
      total += std::max(p, 0.0) - p * t + std::log1p(std::exp(-std::fabs(p)));
    }
  }
  out.data[0] = total / n;
  return out;
}


/// d loss / d prediction, the mean over the elements (over the batch for
/// softmax cross-entropy), as the losses above define it.
Tensor lossGrad(OpKind kind, const Tensor &pred, const Tensor &target) {
  Tensor out(pred.shape);
  if (kind == OpKind::SoftmaxCrossEntropy) {
    const int64_t batch = pred.shape[0], classes = pred.shape[1];
    Tensor p = softmax(pred);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < classes; ++k)
        out.data[b * classes + k] = (p.data[b * classes + k] - (k == static_cast<int64_t>(target.data[b]))) / batch;
    return out;
  }
  const double n = static_cast<double>(pred.size());
  for (int64_t i = 0; i < pred.size(); ++i) {
    const double d = pred.data[i] - target.data[i];
    out.data[i] = kind == OpKind::Mse   ? 2 * d / n
                  : kind == OpKind::Mae ? (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) / n
                                        : (sigmoid(pred.data[i]) - target.data[i]) / n;
  }
  return out;
}

/// Back-propagation through time of one layer and direction: recomputes the
/// forward gates, then runs the recurrence backwards. Returns [B,T,2*G*H]:
/// the gradients of the input-side pre-activations, then of the hidden-side
/// ones (equal for LSTM; for GRU's n gate the hidden side is scaled by r).
/// With lengths, a sample of length L has steps 0..L-1 only (the gradients
/// of the steps from L on are 0, and their dy is not read).
Tensor recurrentGrad(bool lstm, const Tensor &x, const Tensor &wih, const Tensor &whh, const Tensor &bih,
                     const Tensor &bhh, const Tensor &dy, const Tensor *lengths, int64_t H, bool reverse) {
  const int64_t B = x.shape[0], Tall = x.shape[1], I = x.shape[2], G = ir::gateCount(lstm ? ir::CellKind::Lstm : ir::CellKind::Gru), GH = G * H;
  const std::vector<int64_t> length = lengthsOf(lengths, B, Tall);
  Tensor out({B, Tall, 2 * GH});
  for (int64_t b = 0; b < B; ++b) {
    const int64_t T = length[b]; // the steps of this sample; rows are still Tall apart
    // Forward, keeping what the backward pass needs; index s is the step in
    // processing order, h[s] and c[s] the state before it.
    std::vector<std::vector<double>> xs(T, std::vector<double>(GH)), hs(T, std::vector<double>(GH));
    std::vector<std::vector<double>> h(T + 1, std::vector<double>(H, 0.0)), c(T + 1, std::vector<double>(H, 0.0));
    std::vector<int64_t> order(T);
    for (int64_t s = 0; s < T; ++s)
      order[s] = reverse ? T - 1 - s : s;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = order[s];
      for (int64_t row = 0; row < GH; ++row) {
        double a = bih.data[row], r = bhh.data[row];
        for (int64_t k = 0; k < I; ++k)
          a += wih.data[row * I + k] * x.data[(b * Tall + t) * I + k];
        for (int64_t k = 0; k < H; ++k)
          r += whh.data[row * H + k] * h[s][k];
        xs[s][row] = a;
        hs[s][row] = r;
      }
      for (int64_t j = 0; j < H; ++j) {
        if (lstm) {
          const double i = sigmoid(xs[s][j] + hs[s][j]), f = sigmoid(xs[s][H + j] + hs[s][H + j]);
          const double g = std::tanh(xs[s][2 * H + j] + hs[s][2 * H + j]), o = sigmoid(xs[s][3 * H + j] + hs[s][3 * H + j]);
          c[s + 1][j] = f * c[s][j] + i * g;
          h[s + 1][j] = o * std::tanh(c[s + 1][j]);
        } else {
          const double r = sigmoid(xs[s][j] + hs[s][j]), z = sigmoid(xs[s][H + j] + hs[s][H + j]);
          const double n = std::tanh(xs[s][2 * H + j] + r * hs[s][2 * H + j]);
          h[s + 1][j] = (1 - z) * n + z * h[s][j];
        }
      }
    }
    // Backward.
    std::vector<double> dhNext(H, 0.0), dcNext(H, 0.0), dIn(GH), dHid(GH);
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = order[s];
      std::vector<double> dhPrev(H, 0.0);
      for (int64_t j = 0; j < H; ++j) {
        const double dh = dy.data[(b * Tall + t) * H + j] + dhNext[j];
        if (lstm) {
          const double i = sigmoid(xs[s][j] + hs[s][j]), f = sigmoid(xs[s][H + j] + hs[s][H + j]);
          const double g = std::tanh(xs[s][2 * H + j] + hs[s][2 * H + j]), o = sigmoid(xs[s][3 * H + j] + hs[s][3 * H + j]);
          const double tc = std::tanh(c[s + 1][j]);
          const double dc = dh * o * (1 - tc * tc) + dcNext[j];
          dIn[j] = dc * g * i * (1 - i);
          dIn[H + j] = dc * c[s][j] * f * (1 - f);
          dIn[2 * H + j] = dc * i * (1 - g * g);
          dIn[3 * H + j] = dh * tc * o * (1 - o);
          dcNext[j] = dc * f;
          for (int64_t k = 0; k < G; ++k)
            dHid[k * H + j] = dIn[k * H + j];
        } else {
          const double r = sigmoid(xs[s][j] + hs[s][j]), z = sigmoid(xs[s][H + j] + hs[s][H + j]);
          const double n = std::tanh(xs[s][2 * H + j] + r * hs[s][2 * H + j]);
          const double dn = dh * (1 - z) * (1 - n * n);
          dIn[j] = dn * hs[s][2 * H + j] * r * (1 - r);
          dIn[H + j] = dh * (h[s][j] - n) * z * (1 - z);
          dIn[2 * H + j] = dn;
          dHid[j] = dIn[j];
          dHid[H + j] = dIn[H + j];
          dHid[2 * H + j] = dn * r;
          dhPrev[j] += dh * z;
        }
      }
      for (int64_t row = 0; row < GH; ++row)
        for (int64_t k = 0; k < H; ++k)
          dhPrev[k] += dHid[row] * whh.data[row * H + k];
      dhNext = dhPrev;
      for (int64_t row = 0; row < GH; ++row) {
        out.data[(b * Tall + t) * 2 * GH + row] = dIn[row];
        out.data[(b * Tall + t) * 2 * GH + GH + row] = dHid[row];
      }
    }
  }
  return out;
}

Tensor slice(const Tensor &x, int64_t axis, int64_t offset, int64_t width) {
  std::vector<int64_t> shape = x.shape;
  shape[axis] = width;
  Tensor out(shape);
  const int64_t outer = product(x.shape, 0, axis), inner = product(x.shape, axis + 1);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < width; ++k)
      for (int64_t e = 0; e < inner; ++e)
        out.data[(o * width + k) * inner + e] = x.data[(o * x.shape[axis] + offset + k) * inner + e];
  return out;
}

std::vector<int64_t> concreteShape(const ir::TensorType &type, int64_t batch) {
  std::vector<int64_t> shape;
  for (const ir::Dim &d : type.dims)
    shape.push_back(d.isSymbolic() ? batch : d.size);
  return shape;
}

} // namespace

Tensor::Tensor(std::vector<int64_t> s) : shape(std::move(s)), data(product(shape), 0.0) {}
int64_t Tensor::size() const { return product(shape); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<Tensor> evaluate(const ir::Graph &graph, const std::map<std::string, Tensor> &feeds,
                             const EvalOptions &options) {
  std::vector<Tensor> values(graph.size());
  std::vector<bool> known(graph.size(), true);
  int64_t batch = -1;
  for (size_t id = 0; id < graph.size(); ++id) {
    const ir::Op &op = graph.op(id);
    auto in = [&](size_t k) -> const Tensor & { return values[op.operands[k]]; };
    auto lengths = [&](const ir::Op &o) -> const Tensor * {
      std::optional<ir::ValueId> l = ir::lengthsOf(o);
      return l ? &values[*l] : nullptr;
    };
    bool ready = true;
    for (ir::ValueId operand : op.operands)
      ready = ready && known[operand];
    if (!ready) { // depends on a target that was not given: not evaluated
      known[id] = false;
      continue;
    }
    if (ir::isSource(op.kind)) {
      auto it = feeds.find(op.name);
      if (it == feeds.end() && op.kind == OpKind::Target) {
        known[id] = false;
        continue;
      }
      if (it == feeds.end())
        throw std::invalid_argument("no value for '" + op.name + "'");
      if (batch < 0 && op.type.rank() && op.type.dims[0].isSymbolic())
        batch = it->second.shape.empty() ? -1 : it->second.shape[0];
      if (it->second.shape != concreteShape(op.type, batch))
        throw std::invalid_argument("'" + op.name + "' has the wrong shape");
      values[id] = it->second;
      continue;
    }
    switch (op.kind) {
    case OpKind::Embedding: {
      const Tensor &ids = in(0), &table = in(1);
      const int64_t vocab = table.shape[0], dim = table.shape[1];
      std::vector<int64_t> shape = ids.shape;
      shape.push_back(dim);
      Tensor out(shape);
      for (int64_t i = 0; i < ids.size(); ++i) {
        const int64_t id = static_cast<int64_t>(ids.data[i]);
        if (id < 0 || id >= vocab)
          throw std::invalid_argument("token id " + std::to_string(id) + " out of range");
        for (int64_t k = 0; k < dim; ++k)
          out.data[i * dim + k] = table.data[id * dim + k];
      }
      values[id] = out;
      break;
    }
    case OpKind::Lstm:
    case OpKind::Gru:
      values[id] = recurrent(op.kind, in(0), in(1), in(2), in(3), in(4), lengths(op), ir::recurrentFacts(op).hidden,
                             ir::recurrentFacts(op).reverse);
      break;
    case OpKind::Dense: values[id] = dense(in(0), in(1), op.operands.size() > 2 ? &in(2) : nullptr); break;
    case OpKind::Dropout:
    case OpKind::DropoutGrad: {
      values[id] = in(0);
      const double p = op.attrs.getNumber("p");
      const uint64_t stream = op.kind == OpKind::Dropout ? static_cast<uint64_t>(ir::dropoutStream(graph, static_cast<ir::ValueId>(id)))
                                                         : static_cast<uint64_t>(op.attrs.getInt("stream"));
      if (options.training)
        for (int64_t i = 0; i < values[id].size(); ++i)
          values[id].data[i] *= rnnc_dropout_uniform(options.seed, options.step, stream, i) >= p ? 1.0 / (1.0 - p) : 0.0;
      break;
    }
    case OpKind::Identity: values[id] = in(0); break;
    case OpKind::Concat: {
      std::vector<const Tensor *> parts;
      for (size_t k = 0; k < op.operands.size(); ++k)
        parts.push_back(&in(k));
      values[id] = concat(parts, op.attrs.getInt("axis"));
      break;
    }
    case OpKind::First:
    case OpKind::Last: values[id] = step(in(0), op.kind == OpKind::Last, lengths(op)); break;
    case OpKind::Mean:
    case OpKind::Max: values[id] = pool(in(0), op.kind == OpKind::Max, lengths(op)); break;
    case OpKind::Relu: values[id] = elementwise(in(0), relu); break;
    case OpKind::Tanh: values[id] = elementwise(in(0), tanhOf); break;
    case OpKind::Sigmoid: values[id] = elementwise(in(0), sigmoid); break;
    case OpKind::Softmax: values[id] = softmax(in(0)); break;
    case OpKind::Mse:
    case OpKind::Mae:
    case OpKind::BceWithLogits:
    case OpKind::SoftmaxCrossEntropy: values[id] = loss(op.kind, in(0), in(1)); break;
    case OpKind::LossGrad: values[id] = lossGrad(ir::lossKindOf(op), in(0), in(1)); break;
    case OpKind::DenseGradInput: {
      const Tensor &dy = in(0), &w = in(1);
      const int64_t units = w.shape[0], width = w.shape[1], rows = dy.size() / units;
      std::vector<int64_t> shape = dy.shape;
      shape.back() = width;
      Tensor out(shape);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < units; ++u)
          for (int64_t k = 0; k < width; ++k)
            out.data[r * width + k] += dy.data[r * units + u] * w.data[u * width + k];
      values[id] = out;
      break;
    }
    case OpKind::DenseGradWeight: {
      const Tensor &dy = in(0), &x = in(1);
      const int64_t units = dy.shape.back(), width = x.shape.back(), rows = dy.size() / units;
      Tensor out({units, width});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < units; ++u)
          for (int64_t k = 0; k < width; ++k)
            out.data[u * width + k] += dy.data[r * units + u] * x.data[r * width + k];
      values[id] = out;
      break;
    }
    case OpKind::SumRows: {
      const int64_t units = in(0).shape.back();
      Tensor out({units});
      for (int64_t i = 0; i < in(0).size(); ++i)
        out.data[i % units] += in(0).data[i];
      values[id] = out;
      break;
    }
    case OpKind::RecurrentGrad:
      values[id] = recurrentGrad(ir::recurrentFacts(op).lstm(), in(0), in(1), in(2), in(3), in(4), in(6), lengths(op),
                                 ir::recurrentFacts(op).hidden, ir::recurrentFacts(op).reverse);
      break;
    case OpKind::ShiftSteps: {
      const Tensor &y = in(0);
      const int64_t B = y.shape[0], T = y.shape[1], H = y.shape[2];
      const bool reverse = op.attrs.getBool("reverse");
      Tensor out(y.shape);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          const int64_t from = reverse ? t + 1 : t - 1;
          if (from >= 0 && from < T)
            for (int64_t k = 0; k < H; ++k)
              out.data[(b * T + t) * H + k] = y.data[(b * T + from) * H + k];
        }
      values[id] = out;
      break;
    }
    case OpKind::Slice:
      values[id] = slice(in(0), op.attrs.getInt("axis"), op.attrs.getInt("offset"), op.attrs.getInt("width"));
      break;
    case OpKind::StepGrad: {
      const Tensor &dy = in(0);
      const int64_t B = dy.shape[0], F = dy.shape[1], T = op.attrs.getInt("steps"), index = op.attrs.getInt("index");
      const Tensor *lengthsIn = lengths(op);
      const std::vector<int64_t> length = lengthsOf(lengthsIn, B, T);
      Tensor out({B, T, F});
      for (int64_t b = 0; b < B; ++b) {
        const int64_t t = lengthsIn ? length[b] - 1 : index;
        for (int64_t k = 0; k < F; ++k)
          out.data[(b * T + t) * F + k] = dy.data[b * F + k];
      }
      values[id] = out;
      break;
    }
    case OpKind::MeanGrad: values[id] = poolGrad(in(0), nullptr, op.attrs.getInt("steps"), lengths(op)); break;
    case OpKind::MaxGrad: values[id] = poolGrad(in(0), &in(1), in(1).shape[1], lengths(op)); break;
    case OpKind::EmbeddingGrad: {
      const Tensor &ids = in(0), &dy = in(1);
      const int64_t vocab = op.attrs.getInt("vocab"), dim = dy.shape.back();
      Tensor out({vocab, dim});
      for (int64_t i = 0; i < ids.size(); ++i)
        for (int64_t k = 0; k < dim; ++k)
          out.data[static_cast<int64_t>(ids.data[i]) * dim + k] += dy.data[i * dim + k];
      values[id] = out;
      break;
    }
    case OpKind::ActivationGrad: {
      const Tensor &dy = in(0), &y = in(1);
      const std::string fn = op.attrs.getString("fn");
      Tensor out(dy.shape);
      if (fn == "softmax") {
        const int64_t width = y.shape.back(), rows = y.size() / width;
        for (int64_t r = 0; r < rows; ++r) {
          double dot = 0;
          for (int64_t k = 0; k < width; ++k)
            dot += dy.data[r * width + k] * y.data[r * width + k];
          for (int64_t k = 0; k < width; ++k)
            out.data[r * width + k] = y.data[r * width + k] * (dy.data[r * width + k] - dot);
        }
      } else {
        for (int64_t i = 0; i < dy.size(); ++i) {
          const double v = y.data[i];
          out.data[i] = dy.data[i] * (fn == "relu" ? (v > 0 ? 1.0 : 0.0) : fn == "tanh" ? 1 - v * v : v * (1 - v));
        }
      }
      values[id] = out;
      break;
    }
    case OpKind::Add: {
      Tensor out = in(0);
      for (int64_t i = 0; i < out.size(); ++i)
        out.data[i] += in(1).data[i];
      values[id] = out;
      break;
    }
    default: throw std::logic_error("reference: no rule for this op");

    }
  }
  return values;
}

} // namespace rnnc::reference
