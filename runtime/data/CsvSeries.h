//===- CsvSeries.h - Windows over a CSV time series -----------*- C++ -*-===//
//
// Turns a CSV time series (one row per time step, e.g. ETTh1.csv) into
// supervised samples for a one-step-ahead forecaster:
//
//   x = the feature columns of rows t-window .. t-1      (window x features)
//   y = the target column of row t
//
// The rows are split chronologically into train, validation and test, each
// sample lying entirely inside one split, and every column is min-max scaled
// with the train rows' range.
//
// Errors in the file or in the options are user errors: loadCsvSeries
// returns false and sets `error`, naming file:line:column where there is one.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnc::data {

/// What to do with a missing cell (empty, or one of the naValues).
enum class Missing { Error, Drop, Ffill };

struct CsvOptions {
  /// The column to predict.
  std::string target;
  /// The input columns; empty: every numeric column (a column is numeric if
  /// its first non-missing data cell parses as a number), the target
  /// included if numeric.
  std::vector<std::string> features;
  /// Rows of history per sample (at least 1).
  int64_t window = 24;
  /// Fractions of the rows for train, validation and test, in time order:
  /// each >= 0, summing to 1 within 1e-6. A split given 0 stays empty.
  std::vector<double> split = {0.7, 0.1, 0.2};
  /// Cells equal to one of these after trimming (numerically for numbers:
  /// "-200" matches "-200.0") are missing, like empty cells.
  std::vector<std::string> naValues;
  Missing missing = Missing::Error;
  /// The field separator (a European export: ';') and the decimal mark
  /// ('.' or ','); the language's csv block sets them (separator, decimal).
  char separator = ',';
  char decimal = '.';
};

/// The scale of a min-max range: max - min, or 1 for a constant column (so
/// a constant training range never divides by zero nor hides errors).
inline double scaleRange(double min, double max) { return max > min ? max - min : 1.0; }

struct SeriesSplit {
  int64_t count = 0;
  std::vector<float> x; // count * window * features, normalized
  std::vector<float> y; // count, normalized target
};

struct SeriesDataset {
  int64_t window = 0, features = 0;
  std::vector<std::string> featureNames;
  std::string target;
  /// The train rows' range of each feature and of the target; a value v is
  /// stored as (v - min) / scaleRange(min, max).
  std::vector<double> featureMin, featureMax;
  double targetMin = 0, targetMax = 1;
  SeriesSplit train, validation, test;
  /// Rows used, after missing cells were handled.
  int64_t rows = 0;
  /// Missing values: rows dropped (Drop), cells filled (Ffill), windows not
  /// made because they would cross a dropped row or score a filled target.
  int64_t droppedRows = 0, filledCells = 0, skippedWindows = 0;

  /// A normalized target value back in the target's units.
  double denormalize(double y) const;
};

/// Reads the CSV at `path` and makes the windowed splits: 1) parse it (header
/// row; commas; optional double quotes around cells; CRLF and a UTF-8 BOM
/// accepted; blank lines skipped), every row needing the header's number of
/// fields, 2) choose the feature and target columns, 3) parse their cells,
/// handling missing ones as `options.missing` says (Error: fail; Drop: drop
/// the row; Ffill: the previous row's value, failing on the first row); a
/// non-numeric cell that is not missing is always an error, 4) split the rows
/// in time order, each non-empty split needing window+1 rows, 5) fit min-max
/// scaling on the train rows, 6) cut every split into windows: a window never
/// spans a dropped row, and none has a forward-filled target (it would be
/// scored as if observed). The file is read through io::readInputFile (a
/// directory, UTF-16 text, CR-only line endings get a message naming the
/// problem); a header of one field that holds another separator says so.
bool loadCsvSeries(const std::string &path, const CsvOptions &options, SeriesDataset &out, std::string &error);

} // namespace rnnc::data
