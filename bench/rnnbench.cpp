//===- rnnbench.cpp - rnnc's plans against oneDNN on W1-W6 ----------------===//
//
// Runs the workloads of ../shared/docs/BENCHMARKS.md with rnnc's symbolic
// plan, its imperative plan and oneDNN's RNN primitives in one process, on
// each thread count; measures the machine's FMA peak in the same run; and
// writes a markdown table, JSON and the scaling plot. Timing is done by Google
// Benchmark: each figure is the median of repetitions after a warm-up run.
// See bench/README.md.
//===----------------------------------------------------------------------===//
#include "bench/Peak.h"
#include "bench/Plausibility.h"
#include "bench/Report.h"
#include "bench/Workloads.h"

#include "runtime/loader/Loader.h"

#include <benchmark/benchmark.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

namespace po = boost::program_options;
using namespace rnnc::bench;

namespace {

/// Keeps medians of the aggregate rows while printing the usual console output.
class MedianReporter : public benchmark::ConsoleReporter {
public:
  explicit MedianReporter(std::map<std::string, Case *> &cases) : ConsoleReporter(OO_Tabular), cases(cases) {}
  void ReportRuns(const std::vector<Run> &runs) override {
    std::vector<Run> medians;
    for (const Run &run : runs) {
      auto it = cases.find(run.run_name.function_name);
      if (it == cases.end())
        continue;
      Case &c = *it->second;
      const double seconds = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit) / c.perRun;
      if (run.run_type == Run::RT_Iteration) {
        if (run.repetition_index == 0)
          c.repetitions.clear(); // a rerun replaces the figures
        c.repetitions.push_back(seconds);
      } else if (run.aggregate_name == "median") {
        medians.push_back(run);
        c.seconds = seconds;
      }
    }
    ConsoleReporter::ReportRuns(medians);
  }

private:
  std::map<std::string, Case *> &cases;
};

/// Registers every case with Google Benchmark. A case is prepared (models
/// loaded, buffers filled, one warm-up run) before its first repetition and
/// released after its last, so only one case's memory is held at a time.
void registerCases(const std::vector<Case *> &cases, int repetitions, double minTime,
                   std::map<std::string, Case *> &byName) {
  struct Live {
    const Case *owner = nullptr;
    std::function<void()> run;
  };
  static Live live;
  for (Case *member : cases) {
    Case &c = *member;
    std::string name = c.workload + " / " + c.engine + " / " + std::to_string(c.threads) + " thread" +
                       (c.threads > 1 ? "s" : "");
    byName[name] = &c;
    Case *cp = &c;
    auto *b = benchmark::RegisterBenchmark(name.c_str(),
                                 [cp](benchmark::State &state) {
                                   if (live.owner != cp) {
                                     live.run = nullptr; // free the previous case first
                                     live.run = cp->prepare();
                                     live.owner = cp;
                                     live.run(); // warm-up
                                   }
                                   for (auto _ : state)
                                     live.run();
                                 });
    b->Repetitions(c.slow ? std::max(3, repetitions / 2) : repetitions)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    if (c.slow)
      b->Iterations(1); // seconds per run: one run per repetition
    else
      b->MinTime(minTime);
  }
}

/// The child process of --memory: peak resident memory of one training step.
int memoryChild(const std::string &library, int64_t batch) {
  auto rssKb = [](const char *field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind(field, 0) == 0)
        return std::stol(line.substr(std::strlen(field)));
    return -1L;
  };
  long before = rssKb("VmRSS:");
  std::string error;
  auto model = rnnc::runtime::openSharedLibrary(library, error);
  if (!model) {
    std::cerr << error << "\n";
    return 1;
  }
  const rnnc_model_info &info = model->info();
  rnnc_instance *instance = model->create(batch);
  if (!instance)
    return 1;
  model->initParams(instance, 1);
  std::vector<std::vector<int32_t>> buffers;
  std::vector<const void *> inputs, targets;
  for (int i = 0; i < info.num_inputs; ++i) {
    buffers.emplace_back(batch * info.inputs[i].dims[1], 1);
    inputs.push_back(buffers.back().data());
  }
  for (int i = 0; i < info.train.num_targets; ++i) {
    buffers.emplace_back(batch, 1);
    targets.push_back(buffers.back().data());
  }
  float loss;
  if (model->trainStep(instance, batch, inputs.data(), targets.data(), &loss) != RNNC_OK)
    return 1;
  std::cout << before << " " << rssKb("VmHWM:") << "\n";
  model->destroy(instance);
  return 0;
}

/// Runs --memory in a child process so that nothing else this process holds
/// (oneDNN, other models) counts.
MemoryResult measureMemory(const std::string &self, const std::string &library, int64_t batch) {
  MemoryResult result;
  std::string command = "'" + self + "' --memory-child '" + library + "' --batch " + std::to_string(batch);
  if (FILE *pipe = popen(command.c_str(), "r")) {
    long before = -1, peak = -1;
    if (std::fscanf(pipe, "%ld %ld", &before, &peak) == 2)
      result.baselineBytes = before * 1024.0, result.peakBytes = peak * 1024.0;
    pclose(pipe);
  }
  std::string error;
  auto model = rnnc::runtime::openSharedLibrary(library, error);
  if (model)
    result.paramElements = double(model->info().param_elements);
  return result;
}

/// --write-imdb-lengths: the histogram W7 falls back on, from the data set.
int writeImdbLengths(Settings settings, const std::string &path) {
  settings.sourceDir = RNNC_SOURCE_DIR;
  std::string source;
  std::vector<int32_t> lengths;
  try {
    lengths = imdbTrainLengths(settings, source);
  } catch (const std::exception &e) {
    std::cerr << "rnnbench: " << e.what() << "\n";
    return 1;
  }
  if (source.rfind("bench/", 0) == 0) {
    std::cerr << "rnnbench: the IMDB data set was not found (--data-dir)\n";
    return 1;
  }
  std::map<int32_t, int64_t> counts;
  for (int32_t length : lengths)
    ++counts[length];
  std::ostringstream out;
  out << "# W7 (bench/Workloads.cpp): the lengths of the IMDB training split as rnnrun feeds\n"
      << "# a model with lengths (tokenized, left-aligned, cut at 256 tokens): " << lengths.size()
      << " reviews.\n# Written by `rnnbench --write-imdb-lengths FILE` from " << source.substr(source.rfind('/') + 1)
      << ".\n# LENGTH COUNT\n";
  for (auto [length, count] : counts)
    out << length << " " << count << "\n";
  const std::string temporary = path + ".tmp";
  std::ofstream(temporary) << out.str();
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::cerr << "rnnbench: cannot write " << path << ": " << ec.message() << "\n";
    return 1;
  }
  std::cerr << "wrote " << path << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  po::options_description options("Options");
  std::string outDir, only;
  int repetitions = 5;
  double minTime = 0.3;
  Settings settings;
  std::string memoryLibrary, lengthsFile;
  int64_t batch = 256;
  // clang-format off
  options.add_options()
    ("help,h", "print this help and exit")
    ("out", po::value(&outDir)->default_value("bench-results"), "directory for bench.md, bench.json, scaling.svg and the compiled models")
    ("rnnc", po::value(&settings.rnnc), "the rnnc compiler (default: next to this program)")
    ("threads", po::value(&settings.threads)->multitoken(), "thread counts (default: 1 2)")
    ("only", po::value(&only), "comma-separated workload ids, e.g. W1,W4 (default: all)")
    ("repetitions", po::value(&repetitions)->default_value(5), "repetitions per figure (half, at least 3, for runs of seconds)")
    ("min-time", po::value(&minTime)->default_value(0.3), "seconds per repetition of the fast workloads")
    ("no-imperative", "skip rnnc's imperative plan")
    ("no-onednn", "skip oneDNN")
    ("no-scaling", "skip the scaling sweep")
    ("target-cpu", po::value(&settings.targetCpu)->default_value("host"), "rnnc --target-cpu (x86-64-v3 to profile under valgrind)")
    ("memory-child", po::value(&memoryLibrary), "(internal) peak memory of one training step of a model.so")
    ("batch", po::value(&batch)->default_value(256), "(internal) batch of --memory-child")
    ("data-dir", po::value(&settings.dataDir), "W7: where the IMDB set is (besides $RNN_DATA_DIR, ./data, ../shared/data)")
    ("write-imdb-lengths", po::value(&lengthsFile), "write the IMDB training split's lengths (W7's fallback, "
     "bench/imdb_train_lengths.txt) to this file and exit");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "rnnbench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: rnnbench [options]\n\nRuns BENCHMARKS.md's W1-W6 with rnnc's plans and oneDNN; "
                 "see bench/README.md.\n\n"
              << options;
    return 0;
  }
  if (!memoryLibrary.empty())
    return memoryChild(memoryLibrary, batch);
  if (!lengthsFile.empty())
    return writeImdbLengths(settings, lengthsFile);

  namespace fs = std::filesystem;
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  if (settings.rnnc.empty())
    settings.rnnc = (fs::path(self).parent_path() / "rnnc").string();
  settings.sourceDir = RNNC_SOURCE_DIR;
  settings.imperative = !vm.count("no-imperative");
  settings.scaling = !vm.count("no-scaling");
  settings.onednn = !vm.count("no-onednn");
  std::stringstream list(only);
  for (std::string id; std::getline(list, id, ',');)
    if (!id.empty())
      settings.only.push_back(id);
  fs::create_directories(outDir + "/models");
  settings.workDir = outDir + "/models";

  RunInfo run;
  run.command = "rnnbench";
  for (int i = 1; i < argc; ++i)
    run.command += std::string(" ") + argv[i];
  run.cpu = cpuName();
#ifdef RNNC_HAVE_DNNL
  run.dnnl = dnnlVersion();
#else
  run.dnnl = "no oneDNN (built without libdnnl-dev: scripts/setup.sh --bench)";
  settings.onednn = false;
#endif
  std::cerr << "measuring the FMA peak\n";
  for (int threads : settings.threads)
    run.peaks[threads] = measureFmaPeak(threads);

  Results results;
  std::vector<Case> &cases = results.cases, &scaling = results.scaling;
  try {
    cases = workloadCases(settings);
    for (Case &c : lengthCases(settings, run.lengthsSource))
      cases.push_back(std::move(c));
    results.ablation = ablationCases(settings);
    if (settings.scaling)
      scaling = scalingCases(settings);
  } catch (const std::exception &e) {
    std::cerr << "rnnbench: " << e.what() << "\n";
    return 1;
  }
  std::map<std::string, Case *> byName;
  repetitions = std::max(2, repetitions); // Google Benchmark gives no median of one
  const int scalingRepetitions = std::max(3, repetitions / 2);
  auto pointers = [](std::vector<Case> &list) {
    std::vector<Case *> out;
    for (Case &c : list)
      out.push_back(&c);
    return out;
  };
  registerCases(pointers(cases), repetitions, minTime, byName);
  registerCases(pointers(results.ablation), repetitions, minTime, byName);
  registerCases(pointers(scaling), scalingRepetitions, minTime, byName);
  char colorOff[] = "--benchmark_color=false";
  char *benchArgv[] = {argv[0], colorOff, nullptr};
  int benchArgc = 2;
  benchmark::Initialize(&benchArgc, benchArgv);
  MedianReporter reporter(byName);
  try {
    benchmark::RunSpecifiedBenchmarks(&reporter);
    // Figures that are implausible (bench/Plausibility.h) are measured once
    // more, after everything else; those that stay so are marked.
    auto rerun = [&](int reps) {
      return [&, reps](const std::vector<Case *> &suspects) {
        std::cerr << "measuring " << suspects.size() << " implausible figure(s) again\n";
        benchmark::ClearRegisteredBenchmarks();
        registerCases(suspects, reps, minTime, byName);
        benchmark::RunSpecifiedBenchmarks(&reporter);
      };
    };
    int marked = settleImplausible(cases, rerun(repetitions)) + settleImplausible(scaling, rerun(scalingRepetitions));
    if (marked)
      std::cerr << marked << " figure(s) stayed implausible: marked in the table\n";
  } catch (const std::exception &e) {
    std::cerr << "rnnbench: " << e.what() << "\n";
    return 1;
  }
  benchmark::Shutdown();

  MemoryResult &memory = results.memory;
  if (settings.only.empty() || std::find(settings.only.begin(), settings.only.end(), "W4") != settings.only.end()) {
    std::cerr << "measuring the memory of a W4 training step\n";
    std::string lib = settings.workDir + "/imdb_bilstm.symbolic.so";
    memory = measureMemory(self, lib, 256);
    memory.batch = 256;
    if (settings.imperative)
      memory.imperativePeakBytes =
          measureMemory(self, settings.workDir + "/imdb_bilstm.imperative.so", 256).peakBytes;
  }

  std::string markdown = markdownReport(run, results);
  std::cout << "\n" << markdown;
  std::ofstream(outDir + "/bench.md") << markdown;
  std::ofstream(outDir + "/bench.json") << jsonReport(run, results).dump(2) << "\n";
  if (!scaling.empty())
    std::ofstream(outDir + "/scaling.svg") << scalingSvg(scaling);
  std::cerr << "wrote " << outDir << "/bench.md, bench.json" << (scaling.empty() ? "" : ", scaling.svg") << "\n";
  return 0;
}
