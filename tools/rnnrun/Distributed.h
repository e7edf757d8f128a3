//===- Distributed.h - Data-parallel training over MPI -----------*- C++ -*-===//
//
// rnnrun under mpirun: every rank runs its chunks of each global batch and
// the chunks' gradients are gathered, in chunk order, on every rank, which
// applies the same update (docs/distributed.md has the rule). The model.so
// knows nothing of MPI; this file is the only one that calls it.
#pragma once

#include "runtime/loader/Loader.h"
#include "runtime/train/Datasets.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <string>
#include <vector>

namespace rnnc::distributed {

/// True when an MPI launcher (Open MPI's mpirun, or a PMI/PMIx one) started
/// this process.
bool launchedByMpirun();

class Session {
public:
  /// MPI_Init; errors on the world communicator are returned, not fatal.
  Session(int *argc, char ***argv);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  /// Every rank's `value` equals rank 0's; otherwise sets `error` (naming the
  /// ranks that differ and `what`) on every rank and returns false.
  bool agree(uint64_t value, const std::string &what, std::string &error);
  /// Waits for every rank.
  void barrier();
  /// Ends the job after a failure on this rank (all ranks stop).
  [[noreturn]] void abort(int code);
  /// The orderly end, once every rank is past training (completed, or
  /// stopped after the same step): waits for every rank (the followers for
  /// rank 0's checkpoint, test and report), with no watchdog, and returns the
  /// highest of the ranks' exit statuses, which every rank then exits with
  /// (after MPI_Finalize, in the destructor).
  int finish(int status);
  bool finished() const { return finished_; }

  /// One data-parallel step of a global batch of `batch` rows (every rank
  /// passes the whole batch; it runs its rows): rank r runs chunks r*T ..
  /// r*T+T-1 of the C = min(batch, ranks*T) chunks, every chunk's gradient
  /// is gathered in chunk order and applied on every rank. `interrupted`
  /// is or-ed over the ranks, so that all stop after the same step.
  int32_t step(runtime::Model &model, rnnc_instance *instance, int32_t threads, int64_t batch,
               const void *const *inputs, const void *const *targets, float *loss, bool &interrupted);

  double commSeconds = 0; ///< time in collectives, for the report
  int64_t steps = 0;

private:
  /// Runs `call` (a collective) under the watchdog.
  template <class F> int collective(F call);
  void watch();
  int rank_ = 0, size_ = 1;
  /// The watchdog: a collective still waiting after a stop signal (mpirun
  /// sends SIGTERM to the survivors when a rank dies, and they would wait for
  /// it forever) for 5 s or 3 times the longest step so far, whichever is
  /// longer (the others may still be computing their share of the step), or
  /// after RNNC_DISTRIBUTED_TIMEOUT seconds (default 600), ends the process
  /// with a message.
  std::atomic<double> collectiveSince_{0}; ///< 0: not in a collective
  std::atomic<double> longestStep_{0};
  bool finished_ = false;
  std::atomic<bool> done_{false};
  double timeout_ = 600;
  std::thread watchdog_;
  std::vector<float> send_, recv_;
};

/// Refuses a run whose ranks loaded a different model (file bytes of
/// `modelPath`) or different data (every split's samples) from rank 0's.
bool checkSameRun(Session &session, const std::string &modelPath, const train::LoadedData &data, std::string &error);
/// "communication 12.3 ms per step" for the report.
std::string commSummary(const Session &session);

/// FNV-1a over bytes, to compare what ranks loaded.
uint64_t hashBytes(const void *data, size_t bytes, uint64_t h = 1469598103934665603ull);
/// The hash of a file's bytes (0 if it cannot be read).
uint64_t hashFile(const std::string &path);

} // namespace rnnc::distributed
