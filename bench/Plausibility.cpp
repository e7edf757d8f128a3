//===- Plausibility.cpp - Figures the benchmark must not believe ----------===//
#include "bench/Plausibility.h"

#include <algorithm>
#include <cstdio>

namespace rnnc::bench {
namespace {

std::string seconds(double s) {
  char text[32];
  if (s < 1e-3)
    std::snprintf(text, sizeof text, "%.3g us", s * 1e6);
  else if (s < 1)
    std::snprintf(text, sizeof text, "%.3g ms", s * 1e3);
  else
    std::snprintf(text, sizeof text, "%.3g s", s);
  return text;
}

std::string threadsText(int n) { return std::to_string(n) + (n == 1 ? " thread" : " threads"); }

} // namespace

std::string implausibility(const Case &c, const std::vector<Case> &cases, const PlausibilityRules &rules) {
  if (c.seconds < 0)
    return "";
  if (c.repetitions.size() >= 2) {
    auto [low, high] = std::minmax_element(c.repetitions.begin(), c.repetitions.end());
    if (*low > 0 && *high > rules.repetitionSpread * *low)
      return "repetitions from " + seconds(*low) + " to " + seconds(*high);
  }
  // The fastest figure of the same workload and engine on fewer threads.
  const Case *fewer = nullptr;
  for (const Case &o : cases)
    if (&o != &c && o.workload == c.workload && o.engine == c.engine && o.threads < c.threads && o.seconds > 0 &&
        (!fewer || o.seconds < fewer->seconds))
      fewer = &o;
  if (fewer && c.seconds > rules.threadSlowdown * fewer->seconds)
    return seconds(c.seconds) + " on " + threadsText(c.threads) + ", " + seconds(fewer->seconds) + " on " +
           threadsText(fewer->threads);
  // Against each figure of the same workload and engine on more threads.
  for (const Case &o : cases)
    if (&o != &c && o.workload == c.workload && o.engine == c.engine && o.threads > c.threads && o.seconds > 0 &&
        c.seconds > rules.superlinear * o.threads / c.threads * o.seconds)
      return seconds(c.seconds) + " on " + threadsText(c.threads) + ", " + seconds(o.seconds) + " on " +
             threadsText(o.threads);
  return "";
}

int settleImplausible(std::vector<Case> &cases, const std::function<void(const std::vector<Case *> &)> &rerun,
                      const PlausibilityRules &rules) {
  std::vector<Case *> suspects;
  for (Case &c : cases) {
    c.implausible.clear();
    if (!implausibility(c, cases, rules).empty())
      suspects.push_back(&c);
  }
  if (!suspects.empty()) {
    rerun(suspects);
    for (Case *c : suspects)
      ++c->reruns;
  }
  // Judged again against the new figures, all at once, so that no case is
  // judged against a figure that is itself still to be replaced.
  std::vector<std::string> reasons;
  for (const Case &c : cases)
    reasons.push_back(implausibility(c, cases, rules));
  int marked = 0;
  for (size_t k = 0; k < cases.size(); ++k)
    if (!reasons[k].empty()) {
      cases[k].implausible = reasons[k];
      ++marked;
    }
  return marked;
}

} // namespace rnnc::bench
