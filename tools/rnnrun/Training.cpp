//===- Training.cpp - Flags to data, trainer, checkpoint and report -------===//
#include "tools/rnnrun/Training.h"

#include "runtime/state/TrainingState.h"
#include "runtime/train/Datasets.h"
#include "runtime/train/Report.h"
#include "runtime/checkpoint/Metadata.h"
#include "runtime/support/Cancel.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"
#include "runtime/support/Text.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <iostream>
#include <sys/stat.h>

namespace po = boost::program_options;
using namespace rnnc;

namespace {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitInterrupted = 3;

double fileSize(const std::string &path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : -1;
}

int fail(const std::string &message) {
  if (io::cancelRequested()) { // a long phase stopped on SIGINT / SIGTERM
    std::cerr << "rnnrun: interrupted: " << message << "\n";
    return kExitInterrupted;
  }
  std::cerr << "rnnrun: error: " << message << "\n";
  return kExitError;
}

/// The most --predict input read at once (reviews or a CSV file).
constexpr uint64_t kMaxPredictInput = 1ull << 30;

/// Prediction on raw input: IMDB reviews (one per line) or a CSV file.
/// CSV prediction: one line per window of the file, in the target's units.
int predictSeries(runtime::Model &model, train::Trainer &trainer, const train::DataFlags &flags,
                  const std::map<std::string, std::string> &metadata, const std::string &source, int64_t batch) {
  if (source == "-")
    return fail("--predict for a time-series model takes a CSV file, not standard input");
  train::CsvPredictionInput input;
  std::string error;
  const auto normalization = metadata.find("normalization");
  if (!train::loadCsvForPrediction(model.info(), flags, source, normalization == metadata.end() ? "" : normalization->second,
                                   input, error))
    return fail(error);
  std::vector<float> outputs;
  if (!trainer.predict(input.split, batch, outputs, error))
    return fail(error);
  std::cout << "window,prediction,actual\n";
  for (size_t i = 0; i < outputs.size(); ++i)
    std::cout << i << "," << train::denormalizeTarget(outputs[i], input.targetMin, input.targetMax) << ","
              << input.actual[i] << "\n";
  return kExitOk;
}

int predict(runtime::Model &model, rnnc_instance *instance, train::Trainer &trainer, const train::LoadedData &data,
            const std::string &source, int64_t batch) {
  // Stdin and FIFOs are read with a poll loop that stops on Ctrl-C.
  std::string bytes, error;
  if (io::readInputFile(source, "--predict input", kMaxPredictInput, bytes, error) != io::ReadStatus::Ok)
    return fail(error);
  if (!io::checkTextLayout(source, bytes, error))
    return fail(error);
  std::vector<std::string> reviews;
  std::istringstream in(bytes);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (!line.empty())
      reviews.push_back(io::repairUtf8(line));
  }
  const int64_t maxlen = model.info().inputs[checkpoint::dataInputOf(model.info())].dims[1];
  train::Split split;
  split.count = static_cast<int64_t>(reviews.size());
  split.inputWidth = maxlen;
  split.idInputs = true;
  const bool lengths = checkpoint::lengthsInputOf(model.info()) >= 0;
  split.ids = train::encodeReviews(reviews, data.vocab, maxlen, lengths ? &split.lengths : nullptr);
  std::vector<float> outputs;
  if (!trainer.predict(split, batch, outputs, error))
    return fail(error);
  std::cout << "label,probability_positive,review\n";
  for (size_t i = 0; i < reviews.size(); ++i) {
    const float a = outputs[2 * i], b = outputs[2 * i + 1];
    const double positive = 1.0 / (1.0 + std::exp(a - b));
    std::cout << (positive >= 0.5 ? "pos" : "neg") << "," << positive << ",\"" << io::escapeForMessage(reviews[i], 60)
              << "\"\n";
  }
  return kExitOk;
}

/// The flags that decide the data and the training, as text: every rank of
/// a data-parallel run must be given the same.
std::string runOptions(const po::variables_map &vm) {
  std::ostringstream out;
  for (const char *name : {"data", "data-dir", "limit", "seed", "missing", "na-values", "batch", "epochs", "lr",
                           "drop-last", "threads", "resume", "plan", "target-cpu", "opt"}) {
    if (!vm.count(name))
      continue;
    const boost::any &value = vm[name].value();
    out << (out.tellp() > 0 ? " --" : "--") << name;
    if (const auto *v = boost::any_cast<std::string>(&value))
      out << " " << *v;
    else if (const auto *v = boost::any_cast<std::vector<std::string>>(&value))
      for (const std::string &item : *v)
        out << " " << item;
    else if (const auto *v = boost::any_cast<int64_t>(&value))
      out << " " << *v;
    else if (const auto *v = boost::any_cast<uint64_t>(&value))
      out << " " << *v;
    else if (const auto *v = boost::any_cast<int32_t>(&value))
      out << " " << *v;
    else if (const auto *v = boost::any_cast<float>(&value))
      out << " " << *v;
  }
  return out.str();
}

/// runTraining; `trained` is set once training has returned on this rank
/// without a failure (under mpirun, every rank is then at the same step).
int trainAndReport(runtime::Model &model, const po::variables_map &vm, const std::string &modelPath,
                   double loadSeconds, distributed::Session *session, bool &trained) {
  const bool follower = session && session->rank() != 0; // a rank other than 0: trains, writes and prints nothing
  const auto wallStart = std::chrono::steady_clock::now();
  const rnnc_model_info &info = model.info();

  train::DataFlags flags;
  if (vm.count("data"))
    flags.data = vm["data"].as<std::string>();
  if (vm.count("data-dir"))
    flags.dataDir = vm["data-dir"].as<std::string>();
  flags.limit = vm["limit"].as<int64_t>();
  flags.seed = vm["seed"].as<uint64_t>();
  flags.quiet = vm.count("quiet") > 0 || follower;
  if (vm.count("missing")) {
    flags.missing = vm["missing"].as<std::string>();
    if (flags.missing != "error" && flags.missing != "drop" && flags.missing != "ffill") {
      std::cerr << "rnnrun: error: --missing takes error, drop or ffill, got '" << flags.missing << "'\n";
      return kExitUsage;
    }
  }
  if (vm.count("na-values"))
    flags.naValues = vm["na-values"].as<std::vector<std::string>>();
  if (flags.limit < 0) {
    std::cerr << "rnnrun: error: --limit must be at least 0\n";
    return kExitUsage;
  }

  train::TrainOptions options = train::trainOptionsOf(info);
  if (vm.count("batch"))
    options.batch = vm["batch"].as<int64_t>();
  if (vm.count("epochs"))
    options.epochs = vm["epochs"].as<int64_t>();
  options.lr = vm.count("lr") ? vm["lr"].as<float>() : 0;
  options.seed = flags.seed;
  options.quiet = flags.quiet;
  options.dropLast = vm.count("drop-last") > 0;
  if (vm.count("checkpoint"))
    options.checkpoint = vm["checkpoint"].as<std::string>();
  if (options.epochs < 0 || options.batch < 1 || (vm.count("lr") && !(options.lr > 0))) {
    std::cerr << "rnnrun: error: --epochs must be >= 0, --batch >= 1 and --lr > 0\n";
    return kExitUsage;
  }
  const bool evalOnly = vm.count("eval") > 0, resume = vm.count("resume") > 0, testLast = vm.count("test-last") > 0;
  const bool predicting = vm.count("predict") > 0;
  if ((evalOnly || resume || predicting) && options.checkpoint.empty() && !(predicting && false)) {
    if (evalOnly || resume) {
      std::cerr << "rnnrun: error: --eval and --resume need --checkpoint PATH\n";
      return kExitUsage;
    }
  }

  if (predicting && options.checkpoint.empty())
    return fail("--predict needs the trained parameters: --checkpoint PATH");

  // 1. Data. Prediction needs none of it when the checkpoint holds the
  // vocabulary or the normalization (every checkpoint rnnrun writes does).
  train::LoadedData data;
  std::string error;
  std::map<std::string, std::string> saved;
  if (predicting) {
    checkpoint::Checkpoint ckpt;
    if (!checkpoint::load(options.checkpoint, checkpoint::limitsFor(info), ckpt, error))
      return fail(error);
    saved = ckpt.metadata;
  }
  const bool fromCheckpoint = predicting && (saved.count("vocab") || saved.count("normalization"));
  if (session && (predicting || evalOnly))
    return fail("--eval and --predict run in one process: add --no-distributed or run them without mpirun");
  if (session && !distributed::checkSameRun(*session, modelPath, runOptions(vm), error))
    return fail(error);
  if (session) {
    // Rank 0 alone reads the data (and builds the IMDB cache) and sends the
    // training split to the others, which read nothing: the steps' shuffle is
    // global, so each rank's rows change every epoch. Rank 0 alone evaluates.
    int status = kExitOk;
    if (!follower && !train::loadData(info, flags, data, error))
      status = fail(error);
    train::DataFlags bound = flags;
    bound.dataDir.clear(); // the followers need not have the data directory
    if (follower && !train::bindData(info, bound, data, error))
      status = fail(error); // the model's own binding: rank 0 fails the same way
    if (const int shared = session->shareData(data, status); shared != kExitOk)
      return follower ? shared : status;
  } else if (!(fromCheckpoint ? train::bindData(info, flags, data, error) : train::loadData(info, flags, data, error))) {
    return fail(error);
  }
  options.metadata = data.metadata;
  if (!flags.quiet && !fromCheckpoint)
    std::cerr << data.description << "\n";

  // 2. An instance, its parameters from the seed or a checkpoint.
  rnnc_instance *instance = model.create(options.batch);
  if (!instance)
    return fail("cannot allocate an instance for batch " + std::to_string(options.batch));
  std::unique_ptr<rnnc_instance, std::function<void(rnnc_instance *)>> owner(instance, [&](rnnc_instance *i) { model.destroy(i); });
  train::initParameters(model, instance, flags.seed);
  const int32_t threads = vm["threads"].as<int32_t>(); // in range: checkFlags
  if (model.setThreads(instance, threads) != RNNC_OK)
    return fail("cannot allocate working memory for " + std::to_string(threads) + " threads");
  runtime::TrainingProgress progress;
  progress.dataSeed = flags.seed;
  std::map<std::string, std::string> metadata;
  if (session && resume) {
    // Rank 0 alone reads and checks the checkpoint and sends it to the
    // others, which need no copy of it; every rank loads the same bytes.
    checkpoint::Checkpoint ckpt;
    int status = kExitOk;
    if (!follower && !(checkpoint::load(options.checkpoint, checkpoint::limitsFor(info), ckpt, error) &&
                       runtime::loadTrainingState(ckpt, options.checkpoint, model, instance, progress, metadata, error)))
      status = fail(error);
    if (const int shared = session->shareCheckpoint(ckpt, status); shared != kExitOk)
      return follower ? shared : status;
    if (follower && !runtime::loadTrainingState(ckpt, options.checkpoint, model, instance, progress, metadata, error))
      return fail(error); // rank 0 loaded the same bytes into the same model
  } else if (!options.checkpoint.empty() && (evalOnly || resume || predicting)) {
    if (!runtime::loadTrainingState(options.checkpoint, model, instance, progress, metadata, error))
      return fail(error);
    if (predicting && metadata.count("vocab") && // the vocabulary the model was trained with
        !checkpoint::parseVocabulary(metadata["vocab"], info.inputs[checkpoint::dataInputOf(info)].offset, data.vocab,
                                     error))
      return fail(options.checkpoint + ": " + error);
    if (predicting && data.kind == "imdb" && data.vocab.size() < 3)
      return fail(options.checkpoint + ": the checkpoint holds no vocabulary, and none was loaded");
    if (!resume)
      progress = {};
  }
  train::Trainer trainer(model, instance, data.loss, data.classes, train::denormalizeTarget, &data);
  if (session) {
    options.step = [&, threads](int64_t n, const void *const *in, const void *const *tg, float *loss, bool &stop) {
      return session->step(model, instance, threads, n, in, tg, loss, stop);
    };
    if (follower) {
      options.checkpoint.clear();
      options.interruptCheckpoint.clear();
    }
  }
  if (predicting && data.kind == "csv")
    return predictSeries(model, trainer, flags, metadata, vm["predict"].as<std::string>(), options.batch);
  if (predicting)
    return predict(model, instance, trainer, data, vm["predict"].as<std::string>(), options.batch);

  // 3. Train.
  train::RunReport report;
  report.model = info.model_name;
  report.plan = info.plan;
  report.source = modelPath;
  report.librarySizeBytes = modelPath.size() > 3 && modelPath.substr(modelPath.size() - 3) == ".so" ? fileSize(modelPath) : -1;
  report.loadSeconds = loadSeconds;
  report.data = data.description;
  report.batch = options.batch;
  const int64_t batches = (data.train.count + options.batch - 1) / options.batch;
  report.epochDefinition = std::to_string(data.train.count) + " samples in " + std::to_string(batches) +
                           " optimizer steps of batch " + std::to_string(options.batch);
  if (options.bucket && !data.train.lengths.empty())
    report.epochDefinition += ", bucketed by length (sorted in windows of " + std::to_string(options.bucketWindow) +
                              " batches, batches shuffled)";
  int status = kExitOk;
  if (!evalOnly) {
    train::TrainResult result = trainer.train(data.train, data.validation, options, progress, report.history, error);
    if (result == train::TrainResult::Failed)
      return fail(error);
    trained = true;
    if (result == train::TrainResult::Interrupted) {
      if (!follower) { // rank 0 wrote the checkpoint; the others stopped after the same step and say nothing
        std::ostringstream line; // one write: mpirun's output forwarding does not cut it
        line << "rnnrun: interrupted at epoch " << progress.epoch + 1 << ", step " << progress.step
             << "; checkpoint written to " << trainer.checkpointPath << " (continue with --resume --checkpoint "
             << trainer.checkpointPath << ")\n";
        std::cerr << line.str() << std::flush;
      }
      status = kExitInterrupted;
    }
  } else {
    trained = true;
  }

  if (follower)
    return status;
  if (session)
    report.data += "; data-parallel on " + std::to_string(session->size()) + " ranks x " + std::to_string(threads) +
                   " threads, " + distributed::commSummary(*session);

  // 4. Test, baseline, report.
  if (status == kExitOk && data.test.count > 0) {
    if (!trainer.evaluate(data.test, options.batch, report.test, error))
      return fail(error);
    report.hasTest = true;
    // Model selection on the validation split: score the test split with the
    // parameters of the epoch of lowest validation loss too (the default
    // report), unless --test-last. Both figures are reported.
    if (!evalOnly && !testLast && trainer.restoreBestParameters() > 0) {
      report.testEpoch = trainer.bestEpoch;
      report.testLast = report.test;
      if (!trainer.evaluate(data.test, options.batch, report.test, error))
        return fail(error);
    }
    if (data.kind == "imdb") {
      report.baselineName = "majority class";
      report.baseline.accuracy = train::majorityBaseline(data.train.labels.empty() ? std::vector<int32_t>(data.train.y.begin(), data.train.y.end()) : data.train.labels,
                                                         data.test.labels.empty() ? std::vector<int32_t>(data.test.y.begin(), data.test.y.end()) : data.test.labels);
      report.baseline.count = data.test.count;
    } else {
      report.baselineName = "linear regression";
      std::vector<float> predictions = train::linearBaseline(data.train.x, data.train.y, data.train.inputWidth, data.test.x);
      report.baseline = train::score(train::Task::Regression, "mse", predictions, 1, data.test.y, {}, train::denormalizeTarget, &data);
    }
  }
  if (!trainer.checkpointPath.empty()) {
    report.checkpoint = trainer.checkpointPath;
    report.checkpointBytes = fileSize(trainer.checkpointPath);
  }
  if (trainer.predictSamples > 0) {
    report.predictSecondsPerSample = trainer.predictSeconds / trainer.predictSamples;
    report.predictSecondsPerBatch = report.predictSecondsPerSample * options.batch;
  }
  train::measureProcess(report, std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count() + loadSeconds);
  train::printReport(report, std::cout);
  if (vm.count("json") &&
      !io::writeFileAtomically(vm["json"].as<std::string>(), io::OutputKind::Json, train::reportJson(report), error))
    return fail("--json: " + error);
  if (vm.count("plot") &&
      !io::writeFileAtomically(vm["plot"].as<std::string>(), io::OutputKind::Svg, train::reportSvg(report), error))
    return fail("--plot: " + error);
  return status;
}

} // namespace

int runTraining(runtime::Model &model, const po::variables_map &vm, const std::string &modelPath, double loadSeconds,
                distributed::Session *session) {
  bool trained = false;
  const int status = trainAndReport(model, vm, modelPath, loadSeconds, session, trained);
  // Past training every rank ends together: the followers wait for rank 0
  // (its checkpoint, test and report) and all exit with the same status.
  return session && trained ? session->finish(status) : status;
}
