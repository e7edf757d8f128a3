//===- Distributed.h - Data-parallel training over MPI -----------*- C++ -*-===//
//
// rnnrun under mpirun: every rank runs its chunks of each global batch and
// the chunks' gradients are gathered, in chunk order, on every rank, which
// applies the same update (docs/distributed.md has the rule). The model.so
// knows nothing of MPI; this file is the only one that calls it.
#pragma once

#include "runtime/checkpoint/Checkpoint.h"
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
/// The rank the launcher gave this process, before MPI_Init (0 if none).
int launchRank();

class Session {
public:
  /// MPI_Init; errors on the world communicator are returned, not fatal.
  Session(int *argc, char ***argv);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  /// Every rank's `value` equals rank 0's; otherwise sets `error` on every
  /// rank ("rank 1, 2 " + `difference`) and returns false.
  bool agree(uint64_t value, const std::string &difference, std::string &error);
  /// Data loaded once: rank 0 passes its `status` (0: `data` loaded) and
  /// sends its training split (its lengths included); the other ranks, which
  /// read no data, receive it into `data.train` (their validation and test splits stay empty: rank
  /// 0 alone evaluates). Returns rank 0's status on every rank; when it is not
  /// 0 the ranks end together (finished()).
  int shareData(train::LoadedData &data, int status);
  /// --resume: rank 0 alone reads the checkpoint and passes its `status` (0:
  /// `ckpt` loaded and checked) and sends `ckpt` to the other ranks, which
  /// read no checkpoint file and receive it into `ckpt`. Returns rank 0's
  /// status on every rank; when it is not 0 the ranks end together.
  int shareCheckpoint(checkpoint::Checkpoint &ckpt, int status);
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
  /// Waits until every rank has come here (MPI_Ibarrier), polling and then
  /// sleeping: MPI's blocking calls spin, and a rank waiting for rank 0's
  /// checkpoint, validation or data loading would take a core from it.
  int arrive();
  /// Runs `call` (a collective) under the watchdog, after arrive() if
  /// `arriveFirst` (where the others may come much later).
  template <class F> int collective(F call, bool arriveFirst = false);
  /// MPI_Bcast of rank 0's bytes (`what`, for the error), under the watchdog.
  void broadcast(void *data, size_t bytes, const char *what);
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
/// `modelPath`) from rank 0's, or were given other options than rank 0
/// (`options`: the flags that decide the data and the training, as text).
bool checkSameRun(Session &session, const std::string &modelPath, const std::string &options, std::string &error);
/// "communication 12.3 ms per step" for the report.
std::string commSummary(const Session &session);

/// The FNV-1a hash (io::fnv1a64) of a file's bytes (0 if it cannot be read).
uint64_t hashFile(const std::string &path);

} // namespace rnnc::distributed
