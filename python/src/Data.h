//===- Data.h - rnnc.datasets: runtime/train's data sets as NumPy arrays -*- C++ -*-===//
#pragma once

#include "python/src/Session.h"

#include <pybind11/pybind11.h>

#include <map>
#include <string>

namespace rnnc::python {

/// Binds a session to a data set's metadata (as a checkpoint or the loader
/// gives it): saved in its checkpoints, and the CSV target's range for errors
/// in the target's units.
void bindMetadata(Session &session, const std::map<std::string, std::string> &metadata);

/// Defines load_data, encode_reviews, csv_windows and denormalize.
void defineData(pybind11::module_ &module);

} // namespace rnnc::python
