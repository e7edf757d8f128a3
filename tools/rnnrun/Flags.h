//===- Flags.h - rnnrun's flags checked together, before any work -*- C++ -*-===//
#pragma once

#include <boost/program_options.hpp>

#include <string>

/// Refuses (with a message, for exit status 2) flags that conflict or that
/// cannot work: --eval with --resume or --predict, --predict with --resume,
/// JIT flags (--plan, --target-cpu, -O) for a model.so, -O outside 0-3,
/// --threads outside 1-64, a --data-dir that is not a directory, the same
/// file for two outputs, and every output path (--checkpoint, --json,
/// --plot) that could not be written or would replace a file that is not
/// of its kind (runtime/support/OutputFile.h). A `follower` (a rank other
/// than 0 under mpirun) reads no data and writes nothing: its --data-dir and
/// outputs are not checked (they need not exist on its machine).
bool checkFlags(const boost::program_options::variables_map &vm, const std::string &modelPath, bool follower = false);
