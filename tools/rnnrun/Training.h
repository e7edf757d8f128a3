//===- Training.h - rnnrun's train / eval / predict command -----*- C++ -*-===//
#pragma once

#include "runtime/loader/Loader.h"
#include "runtime/train/Trainer.h"
#include "tools/rnnrun/Distributed.h"

#include <boost/program_options.hpp>

#include <string>

/// Trains, evaluates or predicts as the flags say; returns the exit status.
/// With a session (under mpirun), training is data-parallel across its ranks.
int runTraining(rnnc::runtime::Model &model, const boost::program_options::variables_map &vm,
                const std::string &modelPath, double loadSeconds, rnnc::distributed::Session *session = nullptr);
