//===- Report.cpp - The end-of-run table, its JSON and an SVG plot --------===//
#include "runtime/train/Report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sys/resource.h>

namespace rnnc::train {
namespace {

std::string number(double v, const char *format = "%.4f") {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string bytes(double b) {
  if (b < 0)
    return "-";
  if (b >= 1 << 20)
    return number(b / (1 << 20), "%.2f MiB");
  return number(b / 1024, "%.1f KiB");
}

nlohmann::json scoresJson(const Scores &s) {
  nlohmann::json j = {{"loss", s.loss}, {"count", s.count}};
  if (s.accuracy >= 0)
    j["accuracy"] = s.accuracy;
  if (s.r2 > -1e299)
    j["r2"] = s.r2, j["mae"] = s.mae, j["mape"] = s.mape;
  return j;
}

std::string metricLine(const Scores &s) {
  if (s.accuracy >= 0)
    return "loss " + number(s.loss) + ", accuracy " + number(s.accuracy);
  return "loss " + number(s.loss) + ", R2 " + number(s.r2) + ", MAE " + number(s.mae) + ", MAPE " + number(s.mape, "%.2f") + "%";
}

} // namespace

void measureProcess(RunReport &report, double wallSeconds) {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
  report.wallSeconds = wallSeconds;
  report.cpuUtilisation = wallSeconds > 0 ? cpu / wallSeconds : 0;
  report.peakResidentMiB = usage.ru_maxrss / 1024.0; // ru_maxrss is in KiB on Linux
}

void printReport(const RunReport &r, std::ostream &out) {
  auto row = [&](const std::string &name, const std::string &value) {
    out << "| " << name << std::string(name.size() < 34 ? 34 - name.size() : 1, ' ') << "| " << value << " |\n";
  };
  out << "\n| " << r.model << " (" << r.plan << " plan)" << std::string(r.model.size() + r.plan.size() < 26 ? 26 - r.model.size() - r.plan.size() : 1, ' ')
      << "| |\n|---|---|\n";
  row("data", r.data);
  if (!r.history.empty()) {
    double total = 0;
    for (const EpochRecord &e : r.history)
      total += e.seconds;
    row("training time per epoch", number(total / r.history.size(), "%.3f s") + " (epoch = " + r.epochDefinition + ")");
    row("epochs run", std::to_string(r.history.size()));
    row("final training loss", number(r.history.back().trainLoss));
    if (r.history.back().validation.count)
      row("final validation", metricLine(r.history.back().validation));
  }
  if (r.hasTest) {
    if (r.testEpoch > 0) {
      row("test (epoch " + std::to_string(r.testEpoch) + ": lowest validation loss)", metricLine(r.test));
      row("test (last epoch)", metricLine(r.testLast));
    } else {
      row("test", metricLine(r.test));
    }
    row(r.baselineName + " (baseline)", r.baseline.accuracy >= 0 ? "accuracy " + number(r.baseline.accuracy)
                                                                  : metricLine(r.baseline));
  }
  row("model library size", r.librarySizeBytes < 0 ? "- (JIT)" : bytes(r.librarySizeBytes));
  row("checkpoint size", r.checkpointBytes < 0 ? "-" : bytes(r.checkpointBytes) + " (" + r.checkpoint + ")");
  row("model load time", number(r.loadSeconds * 1e3, "%.2f ms"));
  row("prediction time per sample", number(r.predictSecondsPerSample * 1e6, "%.2f us"));
  row("prediction time per batch", number(r.predictSecondsPerBatch * 1e3, "%.3f ms") + " (batch " + std::to_string(r.batch) + ")");
  row("CPU utilisation", number(r.cpuUtilisation * 100, "%.0f%%") + " of one core, over " + number(r.wallSeconds, "%.1f s"));
  row("peak resident memory", number(r.peakResidentMiB, "%.1f MiB"));
}

std::string reportJson(const RunReport &r) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRecord &e : r.history)
    epochs.push_back({{"epoch", e.epoch}, {"train_loss", e.trainLoss}, {"seconds", e.seconds},
                      {"samples", e.samples}, {"samples_per_second", e.samplesPerSecond}, {"validation", scoresJson(e.validation)}});
  nlohmann::json j = {{"model", r.model}, {"plan", r.plan}, {"source", r.source}, {"data", r.data},
                      {"epoch_definition", r.epochDefinition}, {"epochs", epochs},
                      {"library_bytes", r.librarySizeBytes}, {"checkpoint_bytes", r.checkpointBytes},
                      {"load_seconds", r.loadSeconds}, {"predict_seconds_per_sample", r.predictSecondsPerSample},
                      {"predict_seconds_per_batch", r.predictSecondsPerBatch}, {"batch", r.batch},
                      {"cpu_utilisation", r.cpuUtilisation}, {"peak_resident_mib", r.peakResidentMiB},
                      {"wall_seconds", r.wallSeconds}};
  if (r.hasTest)
    j["test"] = scoresJson(r.test), j["baseline"] = {{"name", r.baselineName}, {"scores", scoresJson(r.baseline)}};
  if (r.hasTest && r.testEpoch > 0)
    j["test_epoch"] = r.testEpoch, j["test_last_epoch"] = scoresJson(r.testLast);
  return j.dump(2) + "\n";
}

std::string reportSvg(const RunReport &r) {
  const double width = 640, height = 360, left = 60, right = 20, top = 30, bottom = 40;
  std::vector<double> train, validation, metric;
  for (const EpochRecord &e : r.history) {
    train.push_back(e.trainLoss);
    validation.push_back(e.validation.count ? e.validation.loss : NAN);
    metric.push_back(e.validation.accuracy >= 0 ? e.validation.accuracy : e.validation.r2);
  }
  double high = 1e-9;
  for (double v : train)
    high = std::max(high, v);
  for (double v : validation)
    if (std::isfinite(v))
      high = std::max(high, v);
  const size_t n = std::max<size_t>(train.size(), 2);
  auto x = [&](size_t i) { return left + (width - left - right) * i / (n - 1); };
  auto y = [&](double v, double top_) { return top + (height - top - bottom) * (1 - std::clamp(v / top_, 0.0, 1.0)); };
  auto line = [&](const std::vector<double> &values, double scale, const char *color) {
    std::string points;
    for (size_t i = 0; i < values.size(); ++i)
      if (std::isfinite(values[i]))
        points += number(x(i), "%.1f") + "," + number(y(values[i], scale), "%.1f") + " ";
    return "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
  };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"360\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"640\" height=\"360\" fill=\"white\"/>\n";
  svg += "<text x=\"60\" y=\"18\">" + r.model + " (" + r.plan + "): loss per epoch (left axis, 0.." + number(high, "%.3g") +
         "); validation metric (0..1)</text>\n";
  svg += "<line x1=\"60\" y1=\"320\" x2=\"620\" y2=\"320\" stroke=\"black\"/><line x1=\"60\" y1=\"30\" x2=\"60\" y2=\"320\" stroke=\"black\"/>\n";
  for (size_t i = 0; i < train.size(); ++i)
    svg += "<text x=\"" + number(x(i) - 4, "%.1f") + "\" y=\"336\">" + std::to_string(i + 1) + "</text>\n";
  svg += line(train, high, "#1f77b4") + line(validation, high, "#ff7f0e") + line(metric, 1.0, "#2ca02c");
  svg += "<text x=\"440\" y=\"352\" fill=\"#1f77b4\">train loss</text><text x=\"510\" y=\"352\" fill=\"#ff7f0e\">val loss</text>"
         "<text x=\"570\" y=\"352\" fill=\"#2ca02c\">metric</text>\n</svg>\n";
  return svg;
}

} // namespace rnnc::train
