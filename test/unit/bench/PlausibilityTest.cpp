//===- PlausibilityTest.cpp - rnnbench's implausible-figure rules ---------===//
//
// The rules and the table are checked with injected times: no timing is
// measured here (timings never gate a test).
//===----------------------------------------------------------------------===//
#include "bench/Plausibility.h"
#include "bench/Report.h"

#include <gtest/gtest.h>

using namespace rnnc::bench;

namespace {

const char *kW5 = "W5 imdb lstm inference (B=256)";

Case figure(const std::string &workload, const std::string &engine, int threads, std::vector<double> reps) {
  Case c;
  c.workload = workload;
  c.id = workload.substr(0, 2);
  c.engine = engine;
  c.threads = threads;
  c.flops = 1e9;
  c.repetitions = reps;
  std::vector<double> sorted = reps;
  std::sort(sorted.begin(), sorted.end());
  c.seconds = sorted[sorted.size() / 2];
  return c;
}

/// W5 on 1 and 2 threads for the symbolic plan and oneDNN; oneDNN's 2-thread
/// figure is `dnnl2` (the 16 s collapse measured while a build ran).
std::vector<Case> w5(double dnnl2) {
  return {figure(kW5, "symbolic", 1, {0.42, 0.43, 0.42}), figure(kW5, "oneDNN", 1, {0.35, 0.36, 0.35}),
          figure(kW5, "symbolic", 2, {0.22, 0.22, 0.23}), figure(kW5, "oneDNN", 2, {dnnl2, dnnl2, dnnl2})};
}

Case &find(std::vector<Case> &cases, const std::string &engine, int threads) {
  for (Case &c : cases)
    if (c.engine == engine && c.threads == threads)
      return c;
  throw std::runtime_error("no such case");
}

std::string report(const std::vector<Case> &cases) {
  RunInfo run;
  run.command = "rnnbench";
  run.peaks[1] = {"AVX-512", 100};
  run.peaks[2] = {"AVX-512", 200};
  Results results;
  results.cases = cases;
  return markdownReport(run, results);
}

/// Sets every given case's figures to `reps`.
std::function<void(const std::vector<Case *> &)> remeasure(std::vector<double> reps, int *calls = nullptr,
                                                             std::vector<std::string> *names = nullptr) {
  return [=](const std::vector<Case *> &suspects) {
    if (calls)
      ++*calls;
    for (Case *c : suspects) {
      if (names)
        names->push_back(c->engine + "/" + std::to_string(c->threads));
      *c = figure(c->workload, c->engine, c->threads, reps);
    }
  };
}

TEST(Plausibility, MoreThreadsMuchSlowerIsImplausible) {
  std::vector<Case> cases = w5(16.0);
  EXPECT_NE(implausibility(find(cases, "oneDNN", 2), cases), "");
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 1), cases), "");
  EXPECT_EQ(implausibility(find(cases, "symbolic", 2), cases), "");
  // A little slower on more threads (batch 1 loses to synchronisation): believed.
  cases = w5(0.35 * 1.2);
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 2), cases), "");
}

TEST(Plausibility, FewerThreadsFarSlowerThanTheThreadsExplainIsImplausible) {
  // oneDNN's W4 row measured 8.5 s on 1 thread and 1.5 s on 2 (5.7x for 2x
  // the threads): the 1-thread figure is the wrong one.
  std::vector<Case> cases = w5(0.2);
  find(cases, "oneDNN", 1) = figure(kW5, "oneDNN", 1, {8.4, 8.5, 8.5});
  find(cases, "oneDNN", 2) = figure(kW5, "oneDNN", 2, {1.5, 1.5, 1.5});
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 1), cases), "8.5 s on 1 thread, 1.5 s on 2 threads");
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 2), cases), "");
  // Up to 1.5 x 2 = 3x faster on 2 threads is believed (each core's cache).
  find(cases, "oneDNN", 1) = figure(kW5, "oneDNN", 1, {4.4, 4.4, 4.4});
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 1), cases), "");
  find(cases, "oneDNN", 1) = figure(kW5, "oneDNN", 1, {4.6, 4.6, 4.6});
  EXPECT_NE(implausibility(find(cases, "oneDNN", 1), cases), "");
  // With oneDNN's 2-thread figure unmeasured, the symbolic plan's does not count.
  find(cases, "oneDNN", 2).seconds = -1;
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 1), cases), "");
}

TEST(Plausibility, SpreadRepetitionsAreImplausible) {
  std::vector<Case> cases = w5(0.2);
  find(cases, "symbolic", 1) = figure(kW5, "symbolic", 1, {0.42, 0.43, 1.3});
  EXPECT_NE(implausibility(find(cases, "symbolic", 1), cases).find("repetitions"), std::string::npos);
  find(cases, "symbolic", 1) = figure(kW5, "symbolic", 1, {0.42, 0.45, 0.5});
  EXPECT_EQ(implausibility(find(cases, "symbolic", 1), cases), "");
}

TEST(Plausibility, UnmeasuredCasesNeitherFailNorCompare) {
  std::vector<Case> cases = w5(16.0);
  find(cases, "oneDNN", 1).seconds = -1; // not measured: nothing to compare with
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 2), cases), "");
  find(cases, "oneDNN", 2).seconds = -1;
  EXPECT_EQ(implausibility(find(cases, "oneDNN", 2), cases), "");
}

TEST(Plausibility, OnlySuspectsAreRerunAndARerunThatSettlesIsBelieved) {
  std::vector<Case> cases = w5(16.0);
  int calls = 0;
  std::vector<std::string> names;
  EXPECT_EQ(settleImplausible(cases, remeasure({0.2, 0.2, 0.21}, &calls, &names)), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(names, std::vector<std::string>{"oneDNN/2"});
  EXPECT_EQ(find(cases, "oneDNN", 2).seconds, 0.2);
  EXPECT_EQ(find(cases, "oneDNN", 2).implausible, "");
  std::string md = report(cases);
  EXPECT_NE(md.find("| 0.91x |"), std::string::npos) << md; // oneDNN's 0.2 s against the symbolic plan's 0.22 s
  EXPECT_EQ(md.find("see note"), std::string::npos) << md;
}

TEST(Plausibility, PlausibleRunsAreNotRerun) {
  std::vector<Case> cases = w5(0.2);
  int calls = 0;
  EXPECT_EQ(settleImplausible(cases, remeasure({9.0}, &calls)), 0);
  EXPECT_EQ(calls, 0);
  for (const Case &c : cases)
    EXPECT_EQ(c.reruns, 0);
}

TEST(Plausibility, AFigureThatStaysImplausibleIsMarkedWithoutARatio) {
  std::vector<Case> cases = w5(16.0);
  EXPECT_EQ(settleImplausible(cases, remeasure({15.0, 16.0, 16.5})), 1);
  const Case &bad = find(cases, "oneDNN", 2);
  EXPECT_EQ(bad.reruns, 1);
  EXPECT_NE(bad.implausible, "");
  std::string md = report(cases);
  // 16 s against the symbolic plan's 0.22 s would be a ratio of 72.73x.
  EXPECT_EQ(md.find("72.73x"), std::string::npos) << md;
  EXPECT_NE(md.find("16.00 s [1]"), std::string::npos) << md;
  EXPECT_NE(md.find("- (see note)"), std::string::npos) << md;
  EXPECT_NE(md.find("- [1] oneDNN, " + std::string(kW5) + ", 2 threads: 16 s on 2 threads, 350 ms on 1 thread, "
                    "also when measured again"),
            std::string::npos)
      << md;
  // The 1-thread table keeps its ratio (0.35 s / 0.42 s).
  EXPECT_NE(md.find("| 0.83x |"), std::string::npos) << md;
  RunInfo run;
  Results results;
  results.cases = cases;
  nlohmann::json j = jsonReport(run, results);
  EXPECT_EQ(j["results"][3]["implausible"], bad.implausible);
  EXPECT_EQ(j["results"][3]["reruns"], 1);
}

} // namespace
