//===- CsvSeries.cpp - Windows over a CSV time series ---------------------===//
#include "runtime/data/CsvSeries.h"

#include "runtime/support/InputFile.h"
#include "runtime/support/Text.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

namespace rnnc::data {
namespace {

constexpr size_t kMaxCellInMessage = 40;
constexpr const char *kSplitNames[] = {"train", "validation", "test"};

/// A CSV file's cells, trimmed and unquoted.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines; // the 1-based line number of each row
  char decimal = '.';
};

/// Per kept row: whether rows were dropped right before it, whether its
/// target was forward-filled.
struct RowFlags {
  std::vector<uint8_t> gapBefore, filledTarget;
};

/// The chosen columns: indices into the header, features then the target.
struct Columns {
  std::vector<size_t> features;
  size_t target = 0;
};

bool fail(std::string &error, const std::string &message) {
  error = message;
  return false;
}

std::string trim(const std::string &text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos)
    return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

/// `cell` cut to kMaxCellInMessage characters, for a message.
std::string brief(const std::string &cell) { return io::escapeForMessage(cell, kMaxCellInMessage); }

std::string quoted(const std::string &name) { return "'" + name + "'"; }

/// A finite number, the whole of `cell` (an optional '+' first); false for
/// anything else, "nan" and "inf" included.
bool parseNumber(const std::string &text, double &value, char decimal = '.') {
  std::string cell = text;
  if (decimal != '.') { // "3,14" -> "3.14"; a '.' is then no decimal mark
    if (cell.find('.') != std::string::npos)
      return false;
    std::replace(cell.begin(), cell.end(), decimal, '.');
  }
  const char *begin = cell.data(), *end = cell.data() + cell.size();
  if (begin != end && *begin == '+' && end - begin > 1 && begin[1] != '-')
    ++begin;
  auto [stop, status] = std::from_chars(begin, end, value);
  return status == std::errc() && stop == end && std::isfinite(value);
}

/// A raw cell trimmed; if it is wrapped in double quotes, without them, a
/// doubled quote inside standing for one quote.
std::string cleanCell(const std::string &raw) {
  std::string cell = trim(raw);
  if (cell.size() < 2 || cell.front() != '"' || cell.back() != '"')
    return cell;
  std::string inner;
  for (size_t i = 1; i + 1 < cell.size(); ++i) {
    inner += cell[i];
    if (cell[i] == '"' && cell[i + 1] == '"')
      ++i;
  }
  return trim(inner);
}

/// Splits one line at the commas outside double quotes.
std::vector<std::string> splitFields(const std::string &line, char separator) {
  std::vector<std::string> fields;
  bool inQuotes = false;
  size_t begin = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"')
      inQuotes = !inQuotes;
    else if (i == line.size() || (line[i] == separator && !inQuotes)) {
      fields.push_back(cleanCell(line.substr(begin, i - begin)));
      begin = i + 1;
    }
  }
  return fields;
}

/// Reads `path` into a table: 1) drop a UTF-8 BOM, a CR before each newline
/// and blank lines, 2) split the lines into cells, the first being the
/// header, 3) check that every row has as many fields as the header.
/// The separator a one-field line seems to use instead, or 0.
char likelySeparator(const std::string &line, char separator) {
  for (char candidate : {';', '\t', ',', '|'})
    if (candidate != separator && line.find(candidate) != std::string::npos)
      return candidate;
  return 0;
}

std::string separatorName(char c) {
  return c == '\t' ? std::string("a tab (\"\\t\")") : "'" + std::string(1, c) + "'";
}

constexpr uint64_t kMaxCsvBytes = 4ull << 30;

bool readTable(const std::string &path, const CsvOptions &options, CsvTable &table, std::string &error) {
  std::string bytes;
  if (io::readInputFile(path, "CSV file", kMaxCsvBytes, bytes, error) != io::ReadStatus::Ok ||
      !io::checkTextLayout(path, bytes, error))
    return false;
  std::string line;
  size_t pos = 0;
  for (int64_t lineNumber = 1; pos < bytes.size(); ++lineNumber) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos)
      end = bytes.size();
    line.assign(bytes, pos, end - pos);
    pos = end + 1;
    if (lineNumber == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0)
      line.erase(0, 3);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (trim(line).empty())
      continue;
    std::vector<std::string> cells = splitFields(line, options.separator);
    if (table.header.empty()) {
      table.header = std::move(cells);
    } else if (cells.size() != table.header.size()) {
      std::string hint;
      const std::string &suspect = table.header.size() == 1 ? table.header[0] : line;
      if (char other = (table.header.size() == 1 || cells.size() == 1) ? likelySeparator(suspect, options.separator) : 0)
        hint = "; the separator looks wrong: the file seems to use " + separatorName(other) + ", not " +
               separatorName(options.separator) + " (set separator in the model's csv data block)";
      return fail(error, path + ":" + std::to_string(lineNumber) + ": expected " +
                             std::to_string(table.header.size()) + " fields, as in the header, but found " +
                             std::to_string(cells.size()) + hint);
    } else {
      table.rows.push_back(std::move(cells));
      table.lines.push_back(lineNumber);
    }
  }
  if (table.header.empty())
    return fail(error, path + ": empty file (expected a header row, then data rows)");
  if (table.rows.empty())
    return fail(error, path + ": no data rows after the header");
  return true;
}

/// Decides whether a cell is missing: empty, or equal to one of the
/// naValues, as text or, when both are numbers, numerically.
class MissingCells {
public:
  MissingCells(const std::vector<std::string> &naValues, char decimal) : decimal(decimal) {
    for (const std::string &value : naValues) {
      texts.push_back(trim(value));
      double number = 0;
      if (parseNumber(texts.back(), number))
        numbers.push_back(number);
    }
  }

  bool operator()(const std::string &cell) const {
    double number = 0;
    return cell.empty() || std::find(texts.begin(), texts.end(), cell) != texts.end() ||
           (!numbers.empty() && (parseNumber(cell, number, decimal) || parseNumber(cell, number)) &&
            std::find(numbers.begin(), numbers.end(), number) != numbers.end());
  }

private:
  std::vector<std::string> texts;
  std::vector<double> numbers;
  char decimal;
};

std::string columnList(const std::vector<std::string> &header) {
  std::string list;
  for (const std::string &name : header)
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

/// Whether the first non-missing cell of `column` is a number.
bool isNumericColumn(const CsvTable &table, size_t column, const MissingCells &isMissing) {
  double number = 0;
  for (const std::vector<std::string> &row : table.rows)
    if (!isMissing(row[column]))
      return parseNumber(row[column], number, table.decimal);
  return false;
}

/// Finds the target and the features: the named ones, or every numeric
/// column when none are named. Unknown names are errors listing the columns.
bool chooseColumns(const std::string &path, const CsvTable &table, const CsvOptions &options,
                   const MissingCells &isMissing, Columns &columns, std::string &error) {
  const std::vector<std::string> &header = table.header;
  auto find = [&](const std::string &name, size_t &index) {
    index = static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
    if (index < header.size())
      return true;
    std::string hint;
    if (char other = header.size() == 1 ? likelySeparator(header[0], options.separator) : 0)
      hint = "; the header has one field: the separator looks wrong, the file seems to use " + separatorName(other) +
             ", not " + separatorName(options.separator) + " (set separator in the model's csv data block)";
    return fail(error, path + ": no column " + quoted(io::escapeForMessage(name)) + " (columns: " +
                           io::escapeForMessage(columnList(header)) + ")" + hint);
  };
  if (!find(options.target, columns.target))
    return false;
  for (const std::string &name : options.features) {
    size_t index = 0;
    if (!find(name, index))
      return false;
    if (std::count(options.features.begin(), options.features.end(), name) > 1)
      return fail(error, path + ": feature column " + quoted(name) + " is listed twice");
    columns.features.push_back(index);
  }
  if (options.features.empty())
    for (size_t index = 0; index < header.size(); ++index)
      if (isNumericColumn(table, index, isMissing))
        columns.features.push_back(index);
  if (columns.features.empty())
    return fail(error, path + ": no numeric columns to use as features (columns: " + columnList(header) + ")");
  return true;
}

/// The chosen cells of every kept row as numbers, row-major (the features,
/// then the target): missing cells handled as `options.missing` says, any
/// other non-numeric cell an error naming file:line:column.
bool parseValues(const std::string &path, const CsvTable &table, const Columns &columns, const CsvOptions &options,
                 const MissingCells &isMissing, std::vector<double> &values, RowFlags &flags, SeriesDataset &counts,
                 std::string &error) {
  std::vector<size_t> chosen = columns.features;
  chosen.push_back(columns.target);
  std::vector<double> row(chosen.size()), previous;
  bool gap = false;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    bool drop = false, filledTarget = false;
    for (size_t k = 0; k < chosen.size(); ++k) {
      const std::string &cell = table.rows[r][chosen[k]];
      std::string where = path + ":" + std::to_string(table.lines[r]) + ":" + std::to_string(chosen[k] + 1) + ": ";
      std::string column = "column " + quoted(table.header[chosen[k]]);
      if (!isMissing(cell)) {
        if (!parseNumber(cell, row[k], options.decimal))
          return fail(error, where + "non-numeric value " + quoted(brief(cell)) + " in " + column);
      } else if (options.missing == Missing::Error) {
        return fail(error, where + "missing value" + (cell.empty() ? "" : " " + quoted(brief(cell))) + " in " +
                               column + " (choose to drop or forward-fill missing values)");
      } else if (options.missing == Missing::Drop) {
        drop = true;
      } else if (previous.empty()) {
        return fail(error, where + "missing value in " + column + " in the first row; nothing to fill it from");
      } else {
        row[k] = previous[k];
        ++counts.filledCells;
        filledTarget |= k + 1 == chosen.size();
      }
    }
    if (drop) {
      ++counts.droppedRows;
      gap = true;
      continue;
    }
    values.insert(values.end(), row.begin(), row.end());
    flags.gapBefore.push_back(gap);
    flags.filledTarget.push_back(filledTarget);
    gap = false;
    previous = row;
  }
  return true;
}

/// The rows of train, validation and test, in time order. The fractions
/// must be valid, and a split given a share needs window+1 rows.
bool splitRows(const std::string &path, int64_t rows, const CsvOptions &options, std::array<int64_t, 3> &counts,
               std::string &error) {
  const std::vector<double> &split = options.split;
  if (split.size() != 3 || std::any_of(split.begin(), split.end(), [](double f) { return !(f >= 0); }) ||
      !(split[0] > 0) || std::abs(split[0] + split[1] + split[2] - 1) > 1e-6)
    return fail(error, path + ": the split needs three fractions (train > 0, validation >= 0, test >= 0) "
                              "summing to 1");
  auto boundary = [&](double fraction) {
    return std::min(rows, static_cast<int64_t>(std::floor(static_cast<double>(rows) * fraction + 1e-9)));
  };
  int64_t trainEnd = boundary(split[0]), validationEnd = boundary(split[0] + split[1]);
  counts = {trainEnd, validationEnd - trainEnd, rows - validationEnd};
  for (int i = 0; i < 3; ++i)
    if (split[i] > 0 && counts[i] < options.window + 1)
      return fail(error, path + ": the " + kSplitNames[i] + " split has " + std::to_string(counts[i]) + " of " +
                             std::to_string(rows) + " rows, but a window of " + std::to_string(options.window) +
                             " needs at least " + std::to_string(options.window + 1));
  return true;
}

/// Min-max scaling of column k of `values` (rows of `width`), fitted on the
/// first `trainRows` rows.
struct Scaler {
  double min = 0, max = 0;

  Scaler(const std::vector<double> &values, size_t width, size_t k, int64_t trainRows) {
    min = max = values[k];
    for (int64_t r = 0; r < trainRows; ++r) {
      min = std::min(min, values[static_cast<size_t>(r) * width + k]);
      max = std::max(max, values[static_cast<size_t>(r) * width + k]);
    }
  }
  float operator()(double value) const { return static_cast<float>((value - min) / scaleRange(min, max)); }
};

/// Cuts rows [begin, end) of the scaled values (features then the target per
/// row) into samples: for each t in [begin + window, end), x is the features
/// of rows t-window .. t-1 and y the target of row t.
SeriesSplit makeWindows(const std::vector<float> &scaled, const RowFlags &flags, int64_t features, int64_t window,
                        int64_t begin, int64_t end, int64_t &skipped) {
  SeriesSplit split;
  int64_t width = features + 1;
  int64_t lastGap = begin; // the latest row in [begin, t] with a dropped row before it
  for (int64_t t = begin + window; t < end; ++t) {
    for (int64_t r = std::max(lastGap + 1, t - window + 1); r <= t; ++r)
      if (flags.gapBefore[r])
        lastGap = r;
    if (lastGap > t - window || flags.filledTarget[t]) { // spans a dropped row, or its target was not observed
      ++skipped;
      continue;
    }
    ++split.count;
    for (int64_t r = t - window; r < t; ++r)
      split.x.insert(split.x.end(), scaled.begin() + r * width, scaled.begin() + r * width + features);
    split.y.push_back(scaled[static_cast<size_t>(t * width + features)]);
  }
  return split;
}

/// Steps 5 and 6 of loadCsvSeries: scale with the train rows' ranges and cut
/// the splits into windows.
void scaleAndWindow(const std::vector<double> &values, const RowFlags &flags, const std::array<int64_t, 3> &counts,
                    SeriesDataset &out) {
  size_t width = static_cast<size_t>(out.features) + 1;
  std::vector<Scaler> scalers;
  for (size_t k = 0; k < width; ++k)
    scalers.emplace_back(values, width, k, counts[0]);
  for (size_t k = 0; k + 1 < width; ++k) {
    out.featureMin.push_back(scalers[k].min);
    out.featureMax.push_back(scalers[k].max);
  }
  out.targetMin = scalers.back().min;
  out.targetMax = scalers.back().max;
  std::vector<float> scaled(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    scaled[i] = scalers[i % width](values[i]);
  int64_t validationBegin = counts[0], testBegin = counts[0] + counts[1];
  out.train = makeWindows(scaled, flags, out.features, out.window, 0, validationBegin, out.skippedWindows);
  out.validation = makeWindows(scaled, flags, out.features, out.window, validationBegin, testBegin, out.skippedWindows);
  out.test = makeWindows(scaled, flags, out.features, out.window, testBegin, out.rows, out.skippedWindows);
}

} // namespace

double SeriesDataset::denormalize(double y) const { return y * scaleRange(targetMin, targetMax) + targetMin; }

bool loadCsvSeries(const std::string &path, const CsvOptions &options, SeriesDataset &out, std::string &error) {
  if (options.window < 1)
    return fail(error, path + ": the window must be at least 1 row, got " + std::to_string(options.window));
  if (options.separator == options.decimal)
    return fail(error, path + ": the separator and the decimal mark are both '" + std::string(1, options.separator) + "'");
  CsvTable table;
  table.decimal = options.decimal;
  Columns columns;
  MissingCells isMissing(options.naValues, options.decimal);
  std::vector<double> values;
  std::array<int64_t, 3> counts{};
  RowFlags flags;
  SeriesDataset dataset;
  if (!readTable(path, options, table, error) || !chooseColumns(path, table, options, isMissing, columns, error) ||
      !parseValues(path, table, columns, options, isMissing, values, flags, dataset, error))
    return false;
  dataset.window = options.window;
  dataset.features = static_cast<int64_t>(columns.features.size());
  dataset.rows = static_cast<int64_t>(values.size() / (columns.features.size() + 1));
  if (!splitRows(path, dataset.rows, options, counts, error))
    return false;
  for (size_t index : columns.features)
    dataset.featureNames.push_back(table.header[index]);
  dataset.target = table.header[columns.target];
  scaleAndWindow(values, flags, counts, dataset);
  out = std::move(dataset);
  return true;
}

} // namespace rnnc::data
