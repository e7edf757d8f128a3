//===- Report.cpp - The benchmark's markdown table, JSON and plot ---------===//
#include "bench/Report.h"

#include "runtime/train/Batching.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

namespace rnnc::bench {
namespace {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

std::string duration(double seconds) {
  if (seconds < 0)
    return "-";
  if (seconds < 1e-3)
    return fixed(seconds * 1e6, seconds < 1e-5 ? 2 : 1) + " us";
  if (seconds < 1)
    return fixed(seconds * 1e3, seconds < 1e-2 ? 2 : 1) + " ms";
  return fixed(seconds, 2) + " s";
}

const Case *find(const std::vector<Case> &cases, const std::string &workload, const std::string &engine,
                 int threads) {
  for (const Case &c : cases)
    if (c.workload == workload && c.engine == engine && c.threads == threads && c.seconds >= 0)
      return &c;
  return nullptr;
}

double gflops(const Case &c) { return c.flops / (c.seconds * c.perRun) / 1e9; }

double peakFraction(const RunInfo &run, const Case &c) {
  auto it = run.peaks.find(c.threads);
  return it == run.peaks.end() ? -1 : gflops(c) / it->second.gflops;
}

std::string percent(double fraction) { return fraction < 0 ? "-" : fixed(fraction * 100, 0) + "%"; }

/// "2.31x": how many times faster the symbolic plan is than `other`; none
/// when either figure is implausible (bench/Plausibility.h).
std::string speedup(const Case *symbolic, const Case *other) {
  if (!symbolic || !other)
    return "-";
  if (!symbolic->implausible.empty() || !other->implausible.empty())
    return "- (see note)";
  return fixed(other->seconds / symbolic->seconds, 2) + "x";
}

/// Collects the notes on implausible figures: the table shows "[n]" after
/// such a time, and the note says why and that a rerun did not change it.
class Notes {
public:
  /// The time of `c`, with its note's mark when it has one.
  std::string time(const Case &c) {
    if (c.implausible.empty())
      return duration(c.seconds);
    notes_.push_back(c.engine + ", " + c.workload + ", " + std::to_string(c.threads) + " thread" +
                     (c.threads > 1 ? "s" : "") + ": " + c.implausible + (c.reruns ? ", also when measured again" : "") +
                     "; no ratio is given for it");
    return duration(c.seconds) + " [" + std::to_string(notes_.size()) + "]";
  }
  std::string time(const Case *c) { return c ? time(*c) : "-"; }
  /// The notes since the last flush, as a paragraph, and clears them.
  std::string flush() {
    std::string out;
    if (notes_.empty())
      return out;
    out = "\nImplausible figures (the machine is shared; each was measured again and stayed so):\n\n";
    for (size_t k = 0; k < notes_.size(); ++k)
      out += "- [" + std::to_string(k + 1 + flushed_) + "] " + notes_[k] + ".\n";
    flushed_ += notes_.size();
    notes_.clear();
    return out;
  }

private:
  std::vector<std::string> notes_;
  size_t flushed_ = 0;
};

std::vector<std::string> workloadsInOrder(const std::vector<Case> &cases) {
  std::vector<std::string> names;
  for (const Case &c : cases)
    if (std::find(names.begin(), names.end(), c.workload) == names.end())
      names.push_back(c.workload);
  return names;
}

std::vector<int> threadCounts(const std::vector<Case> &cases) {
  std::vector<int> counts;
  for (const Case &c : cases)
    if (std::find(counts.begin(), counts.end(), c.threads) == counts.end())
      counts.push_back(c.threads);
  std::sort(counts.begin(), counts.end());
  return counts;
}

/// BENCHMARKS.md's memory budget for W4 (LSTM): parameters, Adam's two
/// moments, the activations a backward pass must keep (the embedding output;
/// per layer, direction and step the four gate activations, the cell state
/// and the output) and one batch of input (token ids and labels).
double memoryBudgetBytes(const MemoryResult &m) {
  const double B = double(m.batch), T = 256, E = 64, H = 128, G = 4, layerDirections = 4;
  double parameters = m.paramElements, optimizer = 2 * m.paramElements;
  double activations = B * T * (E + layerDirections * (G + 2) * H);
  double input = B * T + B;
  return 4 * (parameters + optimizer + activations + input);
}

std::string megabytes(double bytes) { return bytes < 0 ? "-" : fixed(bytes / (1 << 20), 0) + " MiB"; }

} // namespace

std::string cpuName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      name = line.substr(line.find(':') + 2);
      break;
    }
  return name + " (" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores)";
}

std::string markdownReport(const RunInfo &run, const Results &results) {
  const std::vector<Case> &cases = results.cases, &scaling = results.scaling;
  const MemoryResult &memory = results.memory;
  std::ostringstream md;
  Notes notes;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  md << "# rnnc benchmark: symbolic plan, imperative plan, oneDNN\n\n"
     << "Measured " << date << " on " << run.cpu << " with " << run.dnnl << ", by `" << run.command
     << "` (see bench/README.md).\n\n"
     << "FMA peak, measured in the same run (" << (run.peaks.empty() ? "" : run.peaks.begin()->second.isa)
     << ", independent FMA chains per core):";
  for (auto &[threads, peak] : run.peaks)
    md << " " << fixed(peak.gflops, 1) << " GFLOP/s on " << threads << " thread" << (threads > 1 ? "s" : "") << ";";
  md << "\n\nEach time is the median of repetitions after a warm-up run (Google Benchmark). GFLOP/s count the "
        "recurrent layers only, as BENCHMARKS.md does (2*G*H*(I+H) per step, sample and direction; training "
        "3x). rnnc's rows time the whole model (embedding, dense layers, loss and Adam included); oneDNN's rows "
        "time its RNN primitives alone (forward_training + backward for training, forward_inference otherwise), "
        "which makes oneDNN's figures an underestimate of a full step. The last two columns are how many times "
        "faster the symbolic plan is.\n";
  for (int threads : threadCounts(cases)) {
    md << "\n## " << threads << " thread" << (threads > 1 ? "s" : "") << "\n\n"
       << "| workload | rnnc symbolic | GFLOP/s | % of peak | rnnc imperative | oneDNN | oneDNN % of peak | "
          "symbolic vs oneDNN | symbolic vs imperative |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const std::string &w : workloadsInOrder(cases)) {
      const Case *s = find(cases, w, "symbolic", threads), *i = find(cases, w, "imperative", threads),
                 *d = find(cases, w, "oneDNN", threads);
      md << "| " << w << " | " << notes.time(s) << " | " << (s ? fixed(gflops(*s), 1) : "-")
         << " | " << (s ? percent(peakFraction(run, *s)) : "-") << " | " << notes.time(i)
         << " | " << notes.time(d) << " | " << (d ? percent(peakFraction(run, *d)) : "-")
         << " | " << speedup(s, d) << " | " << speedup(s, i) << " |\n";
    }
    md << notes.flush();
  }

  // W7: each variable-length row against its padded row of the same run.
  if (std::any_of(cases.begin(), cases.end(), [](const Case &c) { return c.realTokens > 0; })) {
    md << "\n## W7: variable lengths (" << run.lengthsSource << ")\n\n"
       << "Each row times " << kW7Batches << " batches of 256 reviews of an epoch (at the quantiles of the batches' real tokens) of "
          "bench/w7_bilstm_len.rnn (W4's network with lengths) "
          "(per batch below): shuffled as without bucketing, or bucketed as rnnrun trains it (sorted in windows of "
       << train::kDefaultBucketWindow << " batches). Real tokens are the reviews' own lengths; the padded row is W4 or W5 "
          "(every review 256 tokens) in this run. Target (issue 14): time <= 1.15 x (real / padded tokens) x the "
          "padded time.\n\n"
       << "| workload | engine | threads | time per batch | real tokens per batch | real tokens/s | padded row | "
          "(real / padded) x padded time | ratio (target <= 1.15) |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const Case &c : cases) {
      if (c.realTokens <= 0 || c.seconds < 0)
        continue;
      const Case *padded = find(cases, c.paddedWorkload, c.engine, c.threads);
      const double share = c.realTokens / c.paddedTokens;
      md << "| " << c.workload << " | " << c.engine << " | " << c.threads << " | " << notes.time(c) << " | "
         << fixed(c.realTokens, 0) << " (" << percent(share) << ") | " << fixed(c.realTokens / c.seconds, 0) << " | "
         << (padded ? notes.time(*padded) + ", " + fixed(c.paddedTokens / padded->seconds, 0) + " tokens/s" : "-")
         << " | " << (padded ? duration(share * padded->seconds) : "-") << " | "
         << (padded && c.implausible.empty() && padded->implausible.empty()
                 ? fixed(c.seconds / (share * padded->seconds), 2)
                 : "-")
         << " |\n";
    }
    md << notes.flush();
  }

  // The targets of issue 6, checked against this run.
  struct Target {
    std::string what, measured;
    bool met;
  };
  std::vector<Target> targets;
  // Only figures that are believed take part in the targets.
  auto believed = [](const Case *c) { return c && c->implausible.empty() ? c : nullptr; };
  auto sym = [&](const std::string &w, int t) { return believed(find(cases, w, "symbolic", t)); };
  auto dnn = [&](const std::string &w, int t) { return believed(find(cases, w, "oneDNN", t)); };
  auto fasterAndPeak = [&](const std::string &w, const std::string &label) {
    const Case *s = sym(w, 2), *d = dnn(w, 2);
    if (!s || !d)
      return;
    double f = peakFraction(run, *s);
    targets.push_back({label + ", 2 threads: faster than oneDNN and >= 65% of peak",
                       duration(s->seconds) + ", " + percent(f) + " of peak; oneDNN " + duration(d->seconds),
                       s->seconds < d->seconds && f >= 0.65});
  };
  fasterAndPeak("W4 imdb lstm train step (B=256)", "W4 train step");
  fasterAndPeak("W5 imdb lstm inference (B=256)", "W5 inference B=256");
  auto atMost = [&](const std::string &w, int threads, double limit, const std::string &label) {
    if (const Case *s = sym(w, threads))
      targets.push_back({label, duration(s->seconds), s->seconds <= limit});
  };
  atMost("W5 imdb lstm latency of one review (B=1)", 2, 3.5e-3, "W5 latency B=1, 2 threads: <= 3.5 ms");
  atMost("W1 lstm epoch (one sequence of 1077)", 1, 3e-3, "W1 epoch with Adam: <= 3 ms");
  atMost("W2 lstm epoch (1077 steps of batch 1)", 1, 6e-3, "W2 Keras-style epoch: <= 6 ms");
  atMost("W3 lstm prediction, per sample (359 as one sequence)", 1, 1e-6, "W3 prediction: <= 1 us per sample");
  atMost("W3 lstm latency of one step (T=1, B=1)", 1, 1.5e-6, "W3 single-step latency: <= 1.5 us");
  // W6: the GRU rows' ratio to oneDNN's lbr_gru, against the LSTM rows' ratio
  // to oneDNN's LSTM (met when within 10%).
  const std::pair<std::string, std::string> pairs[] = {
      {"W1 lstm epoch (one sequence of 1077)", "W6 gru epoch (one sequence of 1077)"},
      {"W4 imdb lstm train step (B=256)", "W6 imdb gru train step (B=256)"},
      {"W5 imdb lstm inference (B=256)", "W6 imdb gru inference (B=256)"}};
  for (auto &[lstm, gru] : pairs)
    for (int threads : threadCounts(cases)) {
      const Case *sl = sym(lstm, threads), *dl = dnn(lstm, threads), *sg = sym(gru, threads),
                 *dg = dnn(gru, threads);
      if (!sl || !dl || !sg || !dg)
        continue;
      double rl = dl->seconds / sl->seconds, rg = dg->seconds / sg->seconds;
      targets.push_back({gru + ", " + std::to_string(threads) + " thread(s): the LSTM row's ratio to oneDNN",
                         fixed(rg, 2) + "x vs " + fixed(rl, 2) + "x", rg >= 0.9 * rl});
    }
  for (const std::string &w : {std::string("W4 imdb lstm train step (B=256)"),
                               std::string("W5 imdb lstm inference (B=256)")}) {
    const Case *one = sym(w, 1), *two = sym(w, 2);
    if (one && two)
      targets.push_back({w + ": 2-thread speed-up >= 1.8x", fixed(one->seconds / two->seconds, 2) + "x",
                         one->seconds / two->seconds >= 1.8});
  }
  for (const Case &c : cases) { // issue 14
    if (c.realTokens <= 0 || c.engine != "symbolic")
      continue;
    const Case *s = believed(&c), *padded = sym(c.paddedWorkload, c.threads);
    if (!s || !padded)
      continue;
    const double ratio = s->seconds / (s->realTokens / s->paddedTokens * padded->seconds);
    targets.push_back({c.workload + ", " + std::to_string(c.threads) + " thread(s): <= 1.15x (real / padded tokens) x " +
                           c.paddedWorkload.substr(0, 2) + "'s time",
                       fixed(ratio, 2) + "x (" + duration(s->seconds) + " vs " +
                           duration(s->realTokens / s->paddedTokens * padded->seconds) + ")",
                       ratio <= 1.15});
  }
  if (memory.peakBytes > 0) {
    double budget = memoryBudgetBytes(memory);
    targets.push_back({"W4 peak resident memory <= 1.5x (parameters + Adam state + kept activations + input)",
                       megabytes(memory.peakBytes) + " = " + fixed(memory.peakBytes / budget, 2) + "x of " +
                           megabytes(budget),
                       memory.peakBytes <= 1.5 * budget});
  }
  md << "\n## Targets (issues 6 and 14; figures set for a 2-core AVX2 machine)\n\n| target | measured | met |\n|---|---|---|\n";
  for (const Target &t : targets)
    md << "| " << t.what << " | " << t.measured << " | " << (t.met ? "yes" : "**no**") << " |\n";
  if (std::any_of(cases.begin(), cases.end(), [](const Case &c) { return !c.implausible.empty(); }))
    md << "\nTargets whose figures are implausible (see the notes under the tables) are left out.\n";

  if (memory.peakBytes > 0) {
    md << "\n## Memory of a W4 training step (B=" << memory.batch << ", measured in a child process)\n\n"
       << "| | resident |\n|---|---|\n"
       << "| process before the model was loaded | " << megabytes(memory.baselineBytes) << " |\n"
       << "| peak, symbolic plan | " << megabytes(memory.peakBytes) << " |\n";
    if (memory.imperativePeakBytes > 0)
      md << "| peak, imperative plan | " << megabytes(memory.imperativePeakBytes) << " |\n";
    md << "| budget: parameters " << megabytes(4 * memory.paramElements) << ", Adam state "
       << megabytes(8 * memory.paramElements)
       << ", kept activations (the embedding output; per layer, direction and step the 4 gates the forward pass "
          "keeps for the backward pass, the cell state and the output) and one batch of input | "
       << megabytes(memoryBudgetBytes(memory)) << " |\n";
  }

  if (!results.ablation.empty()) {
    // One column per workload: the time, and how many times slower than the
    // full symbolic plan.
    std::vector<std::string> workloads = workloadsInOrder(results.ablation), labels;
    for (const Case &c : results.ablation)
      if (std::find(labels.begin(), labels.end(), c.engine) == labels.end())
        labels.push_back(c.engine);
    md << "\n## Where the symbolic plan's advantage comes from (1 thread; time, and x slower than the full "
          "symbolic plan)\n\n| plan |";
    for (const std::string &w : workloads)
      md << " " << w.substr(std::string("ablation ").size()) << " |";
    md << "\n|---|";
    for (size_t k = 0; k < workloads.size(); ++k)
      md << "---|";
    md << "\n";
    for (const std::string &label : labels) {
      md << "| " << label << " |";
      for (const std::string &w : workloads) {
        const Case *c = find(results.ablation, w, label, 1), *base = find(results.ablation, w, "symbolic", 1);
        md << " " << (c ? duration(c->seconds) : "-");
        if (c && base && label != "symbolic")
          md << " (" << fixed(c->seconds / base->seconds, 2) << "x)";
        md << " |";
      }
      md << "\n";
    }
  }

  if (!scaling.empty()) {
    md << "\n## Scaling: one LSTM layer, I=64, forward; base point T=64, H=128, B=64, 1 thread (scaling.svg)\n\n"
       << "| sweep | value | rnnc symbolic | GFLOP/s | oneDNN | GFLOP/s | symbolic vs oneDNN |\n"
       << "|---|---|---|---|---|---|---|\n";
    for (const Case &c : scaling) {
      if (c.engine != "symbolic")
        continue;
      const Case *d = nullptr;
      for (const Case &o : scaling)
        if (o.engine == "oneDNN" && o.sweep == c.sweep && o.sweepValue == c.sweepValue && o.seconds >= 0)
          d = &o;
      md << "| " << c.sweep << " | " << c.sweepValue << " | " << (c.seconds >= 0 ? notes.time(c) : "-") << " | "
         << (c.seconds >= 0 ? fixed(gflops(c), 1) : "-") << " | " << notes.time(d) << " | "
         << (d ? fixed(gflops(*d), 1) : "-") << " | " << (c.seconds >= 0 ? speedup(&c, d) : "-") << " |\n";
    }
    md << notes.flush();
  }
  return md.str();
}

nlohmann::json jsonReport(const RunInfo &run, const Results &results) {
  const std::vector<Case> &cases = results.cases, &scaling = results.scaling;
  const MemoryResult &memory = results.memory;
  nlohmann::json j;
  j["command"] = run.command;
  j["cpu"] = run.cpu;
  j["onednn"] = run.dnnl;
  for (auto &[threads, peak] : run.peaks)
    j["fma_peak_gflops"][std::to_string(threads)] = {{"isa", peak.isa}, {"gflops", peak.gflops}};
  if (!run.lengthsSource.empty())
    j["w7_lengths"] = run.lengthsSource;
  auto rows = [&](const std::vector<Case> &list) {
    nlohmann::json out = nlohmann::json::array();
    for (const Case &c : list) {
      nlohmann::json row{{"workload", c.workload}, {"id", c.id},         {"engine", c.engine},
                         {"threads", c.threads},   {"flops", c.flops},   {"seconds", c.seconds},
                         {"per", c.perRun > 1 ? "sample" : "run"}};
      if (c.seconds >= 0) {
        row["gflops"] = gflops(c);
        row["peak_fraction"] = peakFraction(run, c);
        row["repetitions"] = c.repetitions;
        row["reruns"] = c.reruns;
        if (!c.implausible.empty())
          row["implausible"] = c.implausible;
      }
      if (!c.sweep.empty())
        row["sweep"] = c.sweep, row["value"] = c.sweepValue;
      if (c.realTokens > 0) {
        row["per"] = "batch";
        row["real_tokens"] = c.realTokens, row["padded_tokens"] = c.paddedTokens, row["padded_row"] = c.paddedWorkload;
        if (c.seconds > 0)
          row["real_tokens_per_second"] = c.realTokens / c.seconds;
      }
      out.push_back(row);
    }
    return out;
  };
  j["results"] = rows(cases);
  j["scaling"] = rows(scaling);
  j["ablation"] = rows(results.ablation);
  if (memory.peakBytes > 0)
    j["memory_w4"] = {{"baseline_bytes", memory.baselineBytes},
                      {"peak_bytes", memory.peakBytes},
                      {"imperative_peak_bytes", memory.imperativePeakBytes},
                      {"budget_bytes", memoryBudgetBytes(memory)},
                      {"batch", memory.batch}};
  return j;
}

std::string scalingSvg(const std::vector<Case> &scaling) {
  const char *sweeps[] = {"steps", "hidden", "batch", "threads"};
  const char *titles[] = {"sequence length T", "hidden size H", "batch size B", "threads"};
  const int panelW = 380, panelH = 260, left = 60, bottom = 40, top = 30, right = 20;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << 2 * panelW << "\" height=\"" << 2 * panelH + 30
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"18\" font-size=\"13\">One LSTM layer, forward: time (log scale) vs each size; "
         "<tspan fill=\"#1f77b4\">rnnc symbolic</tspan>, <tspan fill=\"#ff7f0e\">oneDNN</tspan></text>\n";
  for (int p = 0; p < 4; ++p) {
    int ox = (p % 2) * panelW, oy = 30 + (p / 2) * panelH;
    std::vector<const Case *> points;
    for (const Case &c : scaling)
      if (c.sweep == sweeps[p] && c.seconds > 0)
        points.push_back(&c);
    if (points.empty())
      continue;
    double xmin = 1e300, xmax = 0, ymin = 1e300, ymax = 0;
    for (const Case *c : points) {
      xmin = std::min(xmin, c->sweepValue), xmax = std::max(xmax, c->sweepValue);
      ymin = std::min(ymin, c->seconds), ymax = std::max(ymax, c->seconds);
    }
    double lx0 = std::log2(xmin), lx1 = std::max(std::log2(xmax), lx0 + 1);
    double ly0 = std::floor(std::log10(ymin)), ly1 = std::max(std::ceil(std::log10(ymax)), ly0 + 1);
    int w = panelW - left - right, h = panelH - top - bottom;
    auto X = [&](double v) { return ox + left + (std::log2(v) - lx0) / (lx1 - lx0) * w; };
    auto Y = [&](double s) { return oy + top + h - (std::log10(s) - ly0) / (ly1 - ly0) * h; };
    svg << "<rect x=\"" << ox + left << "\" y=\"" << oy + top << "\" width=\"" << w << "\" height=\"" << h
        << "\" fill=\"none\" stroke=\"#888\"/>\n"
        << "<text x=\"" << ox + left + w / 2 << "\" y=\"" << oy + panelH - 8 << "\" text-anchor=\"middle\">"
        << titles[p] << "</text>\n";
    for (double d = ly0; d <= ly1; d += 1) {
      double y = Y(std::pow(10, d));
      svg << "<line x1=\"" << ox + left << "\" x2=\"" << ox + left + w << "\" y1=\"" << y << "\" y2=\"" << y
          << "\" stroke=\"#ddd\"/><text x=\"" << ox + left - 4 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
          << duration(std::pow(10, d)) << "</text>\n";
    }
    for (const Case *c : points)
      if (c->engine == "symbolic")
        svg << "<text x=\"" << X(c->sweepValue) << "\" y=\"" << oy + top + h + 14 << "\" text-anchor=\"middle\">"
            << c->sweepValue << "</text>\n";
    for (auto [engine, color] : {std::pair{"symbolic", "#1f77b4"}, std::pair{"oneDNN", "#ff7f0e"}}) {
      svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
      for (const Case *c : points)
        if (c->engine == engine)
          svg << X(c->sweepValue) << "," << Y(c->seconds) << " ";
      svg << "\"/>\n";
      for (const Case *c : points)
        if (c->engine == engine)
          svg << "<circle cx=\"" << X(c->sweepValue) << "\" cy=\"" << Y(c->seconds) << "\" r=\"3\" fill=\""
              << color << "\"/>\n";
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

} // namespace rnnc::bench
