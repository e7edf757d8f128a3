//===- Cancel.cpp - SIGINT / SIGTERM handlers --------------------------------===//
#include "runtime/support/Cancel.h"

namespace rnnc::io {

std::atomic<bool> gCancel{false};

namespace {

void onSignal(int) { gCancel.store(true); }

void route(int signal, struct sigaction *previous) {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, previous);
}

} // namespace

void installCancelHandlers() {
  route(SIGINT, nullptr);
  route(SIGTERM, nullptr);
}

CancelScope::CancelScope() {
  gCancel.store(false);
  route(SIGINT, &previousInt_);
  route(SIGTERM, &previousTerm_);
}

CancelScope::~CancelScope() {
  sigaction(SIGINT, &previousInt_, nullptr);
  sigaction(SIGTERM, &previousTerm_, nullptr);
}

} // namespace rnnc::io
