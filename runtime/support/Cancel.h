//===- Cancel.h - SIGINT / SIGTERM as a flag every long phase checks -*- C++ -*-===//
//
// rnnrun installs the handlers once, before any long work; every long phase
// (data loading, training, evaluation, prediction, reading a FIFO or stdin)
// polls cancelRequested() and stops. The training loop keeps its guarantee:
// it finishes the current step and writes a checkpoint (exit status 3).
#pragma once

#include <atomic>
#include <csignal>

namespace rnnc::io {

/// Set by SIGINT and SIGTERM once the handlers are installed.
extern std::atomic<bool> gCancel;
inline bool cancelRequested() { return gCancel.load(std::memory_order_relaxed); }

/// Routes SIGINT and SIGTERM to gCancel for the rest of the process. No
/// SA_RESTART: a blocking read returns EINTR, so a reader sees the signal.
void installCancelHandlers();

/// For a host with handlers of its own (Python): clears gCancel and routes
/// SIGINT and SIGTERM to it while alive, then puts the host's handlers back.
class CancelScope {
public:
  CancelScope();
  ~CancelScope();
  CancelScope(const CancelScope &) = delete;
  CancelScope &operator=(const CancelScope &) = delete;

private:
  struct sigaction previousInt_, previousTerm_;
};

} // namespace rnnc::io
