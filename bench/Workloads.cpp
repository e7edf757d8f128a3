//===- Workloads.cpp - The benchmark cases: W1-W6 and the scaling sweep ---===//
#include "bench/Workloads.h"

#include "runtime/data/DataDir.h"
#include "runtime/data/Imdb.h"
#include "runtime/loader/Loader.h"
#include "runtime/train/Batching.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

namespace rnnc::bench {
namespace {

/// Loads `library` into `model` and makes an instance of it for `batch` on
/// `threads`, its parameters initialized from seed 1; throws on failure.
rnnc_instance *openInstance(const std::string &library, int64_t batch, int threads,
                            std::unique_ptr<runtime::Model> &model) {
  std::string error;
  model = runtime::openSharedLibrary(library, error);
  if (!model)
    throw std::runtime_error(error);
  rnnc_instance *instance = model->create(batch);
  if (!instance)
    throw std::runtime_error("out of memory creating an instance of " + library);
  model->initParams(instance, 1);
  if (int32_t status = model->setThreads(instance, threads)) {
    model->destroy(instance);
    throw std::runtime_error(std::string("rnnc_set_threads: ") + rnnc_binding_status_message(status));
  }
  return instance;
}

/// A compiled model with one instance, random inputs and targets.
class RnncRun {
public:
  RnncRun(const std::string &library, int64_t batch, int threads) : batch(batch) {
    instance = openInstance(library, batch, threads, model);
    const rnnc_model_info &info = model->info();
    std::mt19937 rng(42);
    int64_t classes = info.num_outputs ? info.outputs[0].dims[info.outputs[0].rank - 1] : 2;
    auto fill = [&](const rnnc_tensor_desc &d, bool isTarget) {
      int64_t n = batch;
      for (int r = 1; r < d.rank; ++r)
        n *= d.dims[r];
      std::vector<float> buffer(n);
      if (d.dtype == RNNC_I32) {
        int64_t bound = isTarget ? classes : (d.offset > 0 ? d.offset : 2);
        std::uniform_int_distribution<int32_t> dist(0, int32_t(bound - 1));
        auto *ids = reinterpret_cast<int32_t *>(buffer.data());
        for (int64_t i = 0; i < n; ++i)
          ids[i] = dist(rng);
      } else {
        std::uniform_real_distribution<float> dist(0.0f, 1.0f);
        for (auto &v : buffer)
          v = dist(rng);
      }
      return buffer;
    };
    for (int i = 0; i < info.num_inputs; ++i)
      inputs.push_back(fill(info.inputs[i], false));
    for (int i = 0; i < info.train.num_targets; ++i)
      targets.push_back(fill(info.train.targets[i], true));
    for (int i = 0; i < info.num_outputs; ++i) {
      int64_t n = batch;
      for (int r = 1; r < info.outputs[i].rank; ++r)
        n *= info.outputs[i].dims[r];
      outputs.emplace_back(n);
    }
    for (auto &b : inputs)
      inputPtrs.push_back(b.data());
    for (auto &b : targets)
      targetPtrs.push_back(b.data());
    for (auto &b : outputs)
      outputPtrs.push_back(b.data());
  }
  ~RnncRun() {
    if (instance)
      model->destroy(instance);
  }
  void forward() { check(model->forward(instance, batch, inputPtrs.data(), outputPtrs.data())); }
  void trainStep() {
    float loss;
    check(model->trainStep(instance, batch, inputPtrs.data(), targetPtrs.data(), &loss));
  }

private:
  static void check(int32_t status) {
    if (status != RNNC_OK)
      throw std::runtime_error(rnnc_binding_status_message(status));
  }
  std::unique_ptr<runtime::Model> model;
  rnnc_instance *instance = nullptr;
  int64_t batch;
  std::vector<std::vector<float>> inputs, targets, outputs;
  std::vector<const void *> inputPtrs, targetPtrs;
  std::vector<float *> outputPtrs;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// What one workload does with a compiled model.
enum class Mode { Train, Forward };

struct Workload {
  std::string id, name;
  std::string modelName, modelSource; // rnnc's model
  int64_t batch;
  Mode mode;
  int repeatSteps = 1;      // W2: optimizer steps per run
  double perRun = 1;        // W3: samples per run
  RecurrentShape dnnl;      // the same recurrent layers for oneDNN
  bool slow = false;
};

Case rnncCase(const Settings &s, const Workload &w, const std::string &library, const std::string &plan,
              int threads) {
  Case c;
  c.workload = w.name, c.id = w.id, c.engine = plan, c.threads = threads, c.slow = w.slow;
  c.perRun = w.perRun;
  c.flops = recurrentFlops(w.dnnl) * (w.mode == Mode::Train ? 3 : 1) * w.repeatSteps;
  c.prepare = [library, w, threads]() -> std::function<void()> {
    auto run = std::make_shared<RnncRun>(library, w.batch, threads);
    if (w.mode == Mode::Forward)
      return [run] { run->forward(); };
    int steps = w.repeatSteps;
    return [run, steps] {
      for (int i = 0; i < steps; ++i)
        run->trainStep();
    };
  };
  return c;
}

/// A one-thread case of rnnc's code under a label of its own (the ablation).
Case rnncCaseLabel(const Settings &s, const Workload &w, const std::string &library, const std::string &label) {
  Case c = rnncCase(s, w, library, "symbolic", 1);
  c.engine = label;
  return c;
}

#ifdef RNNC_HAVE_DNNL
Case dnnlCase(const Workload &w, int threads) {
  Case c;
  c.workload = w.name, c.id = w.id, c.engine = "oneDNN", c.threads = threads, c.slow = w.slow;
  c.perRun = w.perRun;
  bool training = w.mode == Mode::Train;
  c.flops = recurrentFlops(w.dnnl) * (training ? 3 : 1) * w.repeatSteps;
  RecurrentShape shape = w.dnnl;
  int steps = w.repeatSteps;
  c.prepare = [shape, training, threads, steps]() -> std::function<void()> {
    setDnnlThreads(threads);
    auto stack = std::make_shared<DnnlStack>(shape, training);
    return [stack, threads, steps] {
      setDnnlThreads(threads);
      for (int i = 0; i < steps; ++i)
        stack->run();
    };
  };
  return c;
}
#endif

bool wanted(const Settings &s, const std::string &id) {
  if (s.only.empty())
    return true;
  for (auto &o : s.only)
    if (o == id)
      return true;
  return false;
}

} // namespace

double recurrentFlops(const RecurrentShape &s) {
  const double G = s.gru ? 3 : 4, D = s.bidirectional ? 2 : 1;
  double total = 0;
  for (int l = 0; l < s.layers; ++l) {
    double I = l == 0 ? double(s.input) : D * double(s.hidden);
    total += 2 * G * double(s.hidden) * (I + double(s.hidden)) * D;
  }
  return total * double(s.steps) * double(s.batch);
}

std::string seriesModel(bool gru, int64_t steps) {
  std::ostringstream m;
  m << "// BENCHMARKS.md's time-series network: I=43 -> " << (gru ? "GRU" : "LSTM")
    << " 64 -> dense 1 -> dropout 0.01 -> dense 1, MSE on every step, Adam.\n"
    << "model series {\n"
    << "  input  x: f32[batch, " << steps << ", 43]\n"
    << "  target y: f32[batch, " << steps << "]\n"
    << "  h    = " << (gru ? "gru" : "lstm") << "(x, hidden=64)\n"
    << "  d1   = dense(h, units=1)\n"
    << "  drop = dropout(d1, p=0.01)\n"
    << "  pred = dense(drop, units=1)\n"
    << "  loss mse(pred, y)\n"
    << "  optimizer adam(lr=0.001)\n"
    << "}\n";
  return m.str();
}

std::string compileModel(const Settings &s, const std::string &name, const std::string &source,
                         const std::string &plan, const std::string &flags, const std::string &tag) {
  std::string rnnPath = s.workDir + "/" + name + ".rnn";
  std::string soPath = s.workDir + "/" + name + "." + plan + tag + ".so";
  {
    std::ofstream out(rnnPath);
    out << source;
    if (!out)
      throw std::runtime_error("cannot write " + rnnPath);
  }
  std::string command = "'" + s.rnnc + "' '" + rnnPath + "' --plan=" + plan + " --target-cpu=" + s.targetCpu + " " + flags + " -o '" + soPath + "' 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    throw std::runtime_error("cannot run " + s.rnnc);
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe))
    output.append(buffer, n);
  int status = pclose(pipe);
  if (status != 0)
    throw std::runtime_error("rnnc failed on " + rnnPath + ":\n" + output);
  return soPath;
}

std::vector<Case> workloadCases(const Settings &s) {
  std::vector<Workload> workloads;
  for (bool gru : {false, true}) {
    std::string cell = gru ? "gru" : "lstm";
    std::string w1 = gru ? "W6" : "W1";
    RecurrentShape series{gru, 1077, 1, 43, 64, 1, false};
    workloads.push_back({w1, w1 + " " + cell + " epoch (one sequence of 1077)", "series_" + cell + "_1077",
                         seriesModel(gru, 1077), 1, Mode::Train, 1, 1, series});
    if (!gru) {
      RecurrentShape one{false, 1, 1, 43, 64, 1, false};
      workloads.push_back({"W2", "W2 lstm epoch (1077 steps of batch 1)", "series_lstm_1", seriesModel(false, 1),
                           1, Mode::Train, 1077, 1, one});
      RecurrentShape predict{false, 359, 1, 43, 64, 1, false};
      workloads.push_back({"W3", "W3 lstm prediction, per sample (359 as one sequence)", "series_lstm_359",
                           seriesModel(false, 359), 1, Mode::Forward, 1, 359, predict});
      workloads.push_back({"W3", "W3 lstm latency of one step (T=1, B=1)", "series_lstm_1", seriesModel(false, 1),
                           1, Mode::Forward, 1, 1, one});
    }
    std::string w4 = gru ? "W6" : "W4", w5 = gru ? "W6" : "W5";
    std::string imdb = readFile(s.sourceDir + "/models/imdb_bi" + cell + ".rnn");
    RecurrentShape layers256{gru, 256, 256, 64, 128, 2, true};
    RecurrentShape layers1 = layers256;
    layers1.batch = 1;
    Workload train{w4, w4 + " imdb " + cell + " train step (B=256)", "imdb_bi" + cell, imdb, 256, Mode::Train,
                   1, 1, layers256};
    train.slow = true;
    Workload infer{w5, w5 + " imdb " + cell + " inference (B=256)", "imdb_bi" + cell, imdb, 256, Mode::Forward,
                   1, 1, layers256};
    infer.slow = true;
    workloads.push_back(train);
    workloads.push_back(infer);
    workloads.push_back({w5, w5 + " imdb " + cell + " latency of one review (B=1)", "imdb_bi" + cell, imdb, 1,
                         Mode::Forward, 1, 1, layers1});
  }

  std::vector<Case> cases;
  std::map<std::string, std::string> compiled; // name.plan -> library
  auto library = [&](const Workload &w, const std::string &plan) {
    std::string key = w.modelName + "." + plan;
    auto it = compiled.find(key);
    if (it != compiled.end())
      return it->second;
    std::fprintf(stderr, "compiling %s (%s plan)\n", w.modelName.c_str(), plan.c_str());
    return compiled[key] = compileModel(s, w.modelName, w.modelSource, plan);
  };
  for (int threads : s.threads)
    for (const Workload &w : workloads) {
      if (!wanted(s, w.id))
        continue;
      cases.push_back(rnncCase(s, w, library(w, "symbolic"), "symbolic", threads));
      if (s.imperative)
        cases.push_back(rnncCase(s, w, library(w, "imperative"), "imperative", threads));
#ifdef RNNC_HAVE_DNNL
      if (s.onednn)
        cases.push_back(dnnlCase(w, threads));
#endif
    }
  return cases;
}

std::vector<int32_t> imdbTrainLengths(const Settings &s, std::string &source) {
  std::vector<std::string> searched;
  const std::string location = data::findData(data::dataSearchPath(s.dataDir),
                                              {"aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz", "aclImdb"}, searched);
  if (!location.empty()) {
    data::ImdbOptions options; // what rnnrun loads for a model with lengths
    options.vocab = 20000;
    options.maxlen = 256;
    options.leftAligned = true;
    options.cacheDir = data::cacheDirectory();
    data::ImdbDataset set;
    std::string error;
    if (data::loadImdb(location, options, set, error,
                       [](const std::string &message) { std::fprintf(stderr, "W7: %s\n", message.c_str()); })) {
      source = location + " (its " + std::to_string(set.train.count) + " training reviews)";
      return set.train.lengths;
    }
    std::fprintf(stderr, "W7: %s; using the stored lengths\n", error.c_str());
  }
  // "LENGTH COUNT" lines, '#' comments.
  const std::string path = s.sourceDir + "/bench/imdb_train_lengths.txt";
  std::istringstream in(readFile(path));
  std::vector<int32_t> lengths;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    int32_t length = 0;
    int64_t count = 0;
    if (std::sscanf(line.c_str(), "%d %lld", &length, reinterpret_cast<long long *>(&count)) != 2 || length < 1 ||
        length > 256 || count < 0)
      throw std::runtime_error(path + ": not a 'LENGTH COUNT' line: " + line);
    lengths.insert(lengths.end(), static_cast<size_t>(count), length);
  }
  if (lengths.empty())
    throw std::runtime_error(path + ": no lengths");
  source = "bench/imdb_train_lengths.txt (the IMDB training split's lengths, stored; the data set was not found)";
  return lengths;
}

namespace {

/// W7's batches: kW7Batches batches of B rows, left-aligned random token ids
/// up to each row's length, then 0.
struct LengthBatches {
  std::vector<std::vector<int32_t>> tokens, lengths;
  double realTokens = 0; // all batches
};

LengthBatches w7Batches(const std::vector<int32_t> &all, bool bucket, int64_t B, int64_t T) {
  train::BatchingOptions options;
  options.batch = B;
  options.bucket = bucket;
  options.window = train::kDefaultBucketWindow;
  const std::vector<int64_t> order = train::epochOrder(int64_t(all.size()), all.data(), options, 42 * 1000003);
  const int64_t steps = int64_t(all.size()) / B; // full batches
  // The batches at the quantiles (2k+1)/2K of the batches' real tokens: a
  // few batches that stand for the epoch (bucketed batches differ widely).
  std::vector<int64_t> byTokens(static_cast<size_t>(steps)), tokensOf(static_cast<size_t>(steps), 0);
  std::iota(byTokens.begin(), byTokens.end(), 0);
  for (int64_t b = 0; b < steps; ++b)
    for (int64_t r = 0; r < B; ++r)
      tokensOf[size_t(b)] += std::min<int32_t>(all[size_t(order[size_t(b * B + r)])], int32_t(T));
  std::stable_sort(byTokens.begin(), byTokens.end(), [&](int64_t a, int64_t b) { return tokensOf[size_t(a)] < tokensOf[size_t(b)]; });
  LengthBatches out;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> word(2, 19999);
  for (int k = 0; k < kW7Batches; ++k) {
    const int64_t b = byTokens[size_t((2 * k + 1) * steps / (2 * kW7Batches))];
    std::vector<int32_t> tokens(size_t(B * T), 0), lengths(static_cast<size_t>(B));
    for (int64_t r = 0; r < B; ++r) {
      lengths[size_t(r)] = std::min<int32_t>(all[size_t(order[size_t(b * B + r)])], int32_t(T));
      for (int64_t t = 0; t < lengths[size_t(r)]; ++t)
        tokens[size_t(r * T + t)] = word(rng);
      out.realTokens += lengths[size_t(r)];
    }
    out.tokens.push_back(std::move(tokens));
    out.lengths.push_back(std::move(lengths));
  }
  return out;
}

/// A model with a lengths input run on W7's batches.
class LengthsRun {
public:
  LengthsRun(const std::string &library, const LengthBatches &batches, int64_t batch, int threads)
      : batches(batches), batch(batch) {
    instance = openInstance(library, batch, threads, model);
    const rnnc_model_info &info = model->info();
    if (info.num_inputs != 2)
      throw std::runtime_error(library + ": W7 needs a model with token and lengths inputs");
    for (int32_t i = 0; i < info.num_inputs; ++i)
      if (info.inputs[i].rank == 1)
        lengthsInput = i;
    std::mt19937 rng(42);
    labels.resize(size_t(batch));
    for (int32_t &label : labels)
      label = int32_t(rng() % 2);
    int64_t width = 1;
    for (int r = 1; r < info.outputs[0].rank; ++r)
      width *= info.outputs[0].dims[r];
    output.resize(size_t(batch * width));
  }
  ~LengthsRun() {
    if (instance)
      model->destroy(instance);
  }
  void run(bool training) {
    for (size_t k = 0; k < batches.tokens.size(); ++k) {
      const void *inputs[2];
      inputs[lengthsInput] = batches.lengths[k].data();
      inputs[1 - lengthsInput] = batches.tokens[k].data();
      const void *targets[] = {labels.data()};
      float *outputs[] = {output.data()};
      float loss;
      const int32_t status = training ? model->trainStep(instance, batch, inputs, targets, &loss)
                                      : model->forward(instance, batch, inputs, outputs);
      if (status != RNNC_OK)
        throw std::runtime_error(rnnc_binding_status_message(status));
    }
  }

private:
  std::unique_ptr<runtime::Model> model;
  rnnc_instance *instance = nullptr;
  const LengthBatches &batches;
  int64_t batch;
  int lengthsInput = 1;
  std::vector<int32_t> labels;
  std::vector<float> output;
};

} // namespace

std::vector<Case> lengthCases(const Settings &s, std::string &source) {
  std::vector<Case> cases;
  if (!wanted(s, "W7"))
    return cases;
  const std::vector<int32_t> lengths = imdbTrainLengths(s, source);
  const int64_t B = 256, T = 256;
  std::fprintf(stderr, "W7: lengths of %s\n", source.c_str());
  auto batches = std::make_shared<std::map<bool, LengthBatches>>();
  for (bool bucket : {false, true})
    (*batches)[bucket] = w7Batches(lengths, bucket, B, T);
  const std::string model = readFile(s.sourceDir + "/bench/w7_bilstm_len.rnn");
  std::map<std::string, std::string> libraries;
  for (const std::string plan : {"symbolic", "imperative"})
    if (plan == "symbolic" || s.imperative) {
      std::fprintf(stderr, "compiling imdb_bilstm_len (%s plan)\n", plan.c_str());
      libraries[plan] = compileModel(s, "imdb_bilstm_len", model, plan);
    }
  RecurrentShape token{false, 1, 1, 64, 128, 2, true}; // one step of one sample
  for (int threads : s.threads)
    for (Mode mode : {Mode::Train, Mode::Forward})
      for (bool bucket : {false, true})
        for (const auto &[plan, library] : libraries) {
          const LengthBatches &mine = (*batches)[bucket];
          const bool training = mode == Mode::Train;
          Case c;
          c.workload = std::string("W7 imdb lstm ") + (training ? "train step" : "inference") + ", IMDB lengths" +
                       (bucket ? ", bucketed" : "") + " (B=256)";
          c.id = "W7", c.engine = plan, c.threads = threads, c.slow = true;
          c.perRun = kW7Batches;
          c.flops = recurrentFlops(token) * mine.realTokens * (training ? 3 : 1);
          c.realTokens = mine.realTokens / kW7Batches;
          c.paddedTokens = double(B * T);
          c.paddedWorkload = training ? "W4 imdb lstm train step (B=256)" : "W5 imdb lstm inference (B=256)";
          std::string lib = library;
          c.prepare = [lib, batches, bucket, training, threads, B]() -> std::function<void()> {
            auto run = std::make_shared<LengthsRun>(lib, (*batches)[bucket], B, threads);
            return [run, training] { run->run(training); };
          };
          cases.push_back(std::move(c));
        }
  return cases;
}

std::vector<Case> ablationCases(const Settings &s) {
  std::vector<Case> cases;
  if (!wanted(s, "ablation"))
    return cases;
  struct Variant {
    std::string label, plan, flags, tag;
  };
  const Variant variants[] = {
      {"symbolic", "symbolic", "", ""},
      {"symbolic --no-fuse", "symbolic", "--no-fuse", ".nofuse"},
      {"symbolic --no-hoist", "symbolic", "--no-hoist", ".nohoist"},
      {"symbolic --no-memplan", "symbolic", "--no-memplan", ".nomemplan"},
      {"symbolic, all three off", "symbolic", "--no-fuse --no-hoist --no-memplan", ".none"},
      {"imperative", "imperative", "", ""},
  };
  struct Model {
    std::string name;
    RecurrentShape shape;
  };
  const Model models[] = {{"etth1_lstm", {false, 24, 32, 7, 64, 1, false}},
                          {"imdb_bilstm", {false, 256, 32, 64, 128, 2, true}}};
  for (const Model &m : models) {
    std::string source = readFile(s.sourceDir + "/models/" + m.name + ".rnn");
    std::vector<std::string> libraries;
    for (const Variant &v : variants) {
      std::fprintf(stderr, "compiling %s (%s)\n", m.name.c_str(), v.label.c_str());
      libraries.push_back(compileModel(s, "ablation_" + m.name, source, v.plan, v.flags, v.tag));
    }
    for (Mode mode : {Mode::Train, Mode::Forward}) {
      Workload w{"ablation",
                 "ablation " + m.name + (mode == Mode::Train ? " train step" : " forward") + " (B=32)",
                 m.name, source, 32, mode, 1, 1, m.shape};
      for (size_t k = 0; k < std::size(variants); ++k)
        cases.push_back(rnncCaseLabel(s, w, libraries[k], variants[k].label));
    }
  }
  return cases;
}

std::vector<Case> scalingCases(const Settings &s) {
  // One LSTM layer, I=64, forward (inference); the base point is T=64, H=128,
  // B=64 on one thread, and each sweep varies one of them.
  struct Point {
    std::string sweep;
    int64_t steps, hidden, batch;
    int threads;
    double value;
  };
  std::vector<Point> points;
  for (int64_t t : {16, 32, 64, 128, 256, 512})
    points.push_back({"steps", t, 128, 64, 1, double(t)});
  for (int64_t h : {32, 64, 128, 256, 512, 1024})
    points.push_back({"hidden", 64, h, 64, 1, double(h)});
  for (int64_t b : {1, 4, 16, 64, 256})
    points.push_back({"batch", 64, 128, b, 1, double(b)});
  for (int threads : s.threads)
    points.push_back({"threads", 64, 128, 64, threads, double(threads)});

  std::vector<Case> cases;
  std::map<std::string, std::string> compiled; // model name -> library
  for (const Point &p : points) {
    std::ostringstream name, source;
    name << "lstm_T" << p.steps << "_H" << p.hidden;
    source << "model " << name.str() << " {\n  input x: f32[batch, " << p.steps << ", 64]\n"
           << "  target y: f32[batch]\n  h = lstm(x, hidden=" << p.hidden << ", returns=\"last\")\n"
           << "  pred = dense(h, units=1)\n  loss mse(pred, y)\n  optimizer adam()\n}\n";
    std::string &lib = compiled[name.str()];
    if (lib.empty())
      lib = compileModel(s, name.str(), source.str(), "symbolic");
    RecurrentShape shape{false, p.steps, p.batch, 64, p.hidden, 1, false};
    std::ostringstream label;
    label << "scaling " << p.sweep << " T=" << p.steps << " H=" << p.hidden << " B=" << p.batch;
    Workload w{"scaling", label.str(), name.str(), source.str(), p.batch, Mode::Forward, 1, 1, shape};
    std::vector<Case> pair{rnncCase(s, w, lib, "symbolic", p.threads)};
#ifdef RNNC_HAVE_DNNL
    if (s.onednn)
      pair.push_back(dnnlCase(w, p.threads));
#endif
    for (Case &c : pair) {
      c.sweep = p.sweep, c.sweepValue = p.value;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

} // namespace rnnc::bench
