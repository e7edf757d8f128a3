//===- CsvSeriesTest.cpp - CSV time series: windows, splits, errors -------===//
#include "runtime/data/CsvSeries.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#ifndef RNNC_SHARED_DATA_DIR
#define RNNC_SHARED_DATA_DIR "/work/shared/data"
#endif

namespace rnnc::data {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

/// 20 rows: date, a = r, b = 5 (constant), target = 2r.
std::string rampCsv() {
  std::string text = "date,a,b,target\n";
  for (int r = 0; r < 20; ++r)
    text += "2016-07-01 " + std::to_string(r) + ":00:00," + std::to_string(r) + ",5," + std::to_string(2 * r) + "\n";
  return text;
}

class CsvSeriesTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("rnnc-csv-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  /// Writes `text` to a file called `name` in the test's directory.
  std::string write(const std::string &name, const std::string &text) {
    std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  SeriesDataset load(const std::string &path, const CsvOptions &options) {
    SeriesDataset data;
    std::string error;
    EXPECT_TRUE(loadCsvSeries(path, options, data, error)) << error;
    return data;
  }

  std::string loadError(const std::string &path, const CsvOptions &options) {
    SeriesDataset data;
    std::string error;
    EXPECT_FALSE(loadCsvSeries(path, options, data, error));
    return error;
  }

  /// Options for small files: target `target`, a window of 1, every row in train.
  static CsvOptions smallOptions(const std::string &target) {
    CsvOptions options;
    options.target = target;
    options.window = 1;
    options.split = {1, 0, 0};
    return options;
  }

  fs::path dir;
};

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST_F(CsvSeriesTest, WindowsTargetsAndSplits) {
  CsvOptions options;
  options.target = "target";
  options.window = 2;
  options.split = {0.5, 0.25, 0.25}; // rows 0-9, 10-14, 15-19
  SeriesDataset data = load(write("ramp.csv", rampCsv()), options);
  EXPECT_EQ(data.featureNames, Names({"a", "b", "target"})); // date is not numeric
  EXPECT_EQ(data.features, 3);
  EXPECT_EQ(data.window, 2);
  EXPECT_EQ(data.rows, 20);
  EXPECT_EQ(data.train.count, 8);
  EXPECT_EQ(data.validation.count, 3);
  EXPECT_EQ(data.test.count, 3);
  ASSERT_EQ(data.train.x.size(), 8u * 2u * 3u);
  // Train sample i: rows i and i+1 predict row i+2; a and target scale by 1/9, b is constant.
  for (int i = 0; i < 8; ++i) {
    for (int step = 0; step < 2; ++step) {
      const float *row = &data.train.x[static_cast<size_t>((i * 2 + step) * 3)];
      EXPECT_FLOAT_EQ(row[0], (i + step) / 9.0f);
      EXPECT_FLOAT_EQ(row[1], 0.0f);
      EXPECT_FLOAT_EQ(row[2], (i + step) / 9.0f);
    }
    EXPECT_FLOAT_EQ(data.train.y[static_cast<size_t>(i)], (i + 2) / 9.0f);
  }
  // The first validation sample: rows 10 and 11 predict row 12.
  EXPECT_FLOAT_EQ(data.validation.x[0], 10 / 9.0f);
  EXPECT_FLOAT_EQ(data.validation.x[3], 11 / 9.0f);
  EXPECT_FLOAT_EQ(data.validation.y[0], 12 / 9.0f);
  // The last test sample predicts row 19: target 38.
  EXPECT_FLOAT_EQ(data.test.y[2], 19 / 9.0f);
  EXPECT_NEAR(data.denormalize(data.test.y[2]), 38.0, 1e-4);
}

TEST_F(CsvSeriesTest, NormalizationIsFittedOnTrainOnly) {
  CsvOptions options;
  options.target = "target";
  options.window = 2;
  options.split = {0.5, 0.25, 0.25};
  SeriesDataset data = load(write("ramp.csv", rampCsv()), options);
  EXPECT_EQ(data.featureMin, std::vector<double>({0, 5, 0}));
  EXPECT_EQ(data.featureMax, std::vector<double>({9, 5, 18}));
  EXPECT_EQ(data.targetMin, 0);
  EXPECT_EQ(data.targetMax, 18);
  EXPECT_DOUBLE_EQ(data.denormalize(0.5), 9);
  EXPECT_DOUBLE_EQ(data.denormalize(2), 36);
}

TEST_F(CsvSeriesTest, NamedFeaturesKeepTheirOrder) {
  CsvOptions options;
  options.target = "target";
  options.features = {"b", "a"};
  options.window = 2;
  options.split = {0.5, 0.25, 0.25};
  SeriesDataset data = load(write("ramp.csv", rampCsv()), options);
  EXPECT_EQ(data.featureNames, Names({"b", "a"}));
  EXPECT_EQ(data.target, "target");
  EXPECT_FLOAT_EQ(data.train.x[3], 1 / 9.0f); // sample 0, step 1, feature a
  EXPECT_FLOAT_EQ(data.train.y[0], 2 / 9.0f);
}

TEST_F(CsvSeriesTest, EtthLayout) {
  std::string text = "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n";
  for (int r = 0; r < 10; ++r)
    text += "2016-07-01 0" + std::to_string(r) + ":00:00,5.8,2.0,1.6,0.46,4.2,1.34," + std::to_string(30 - r) + "\n";
  CsvOptions options;
  options.target = "OT";
  options.window = 2;
  options.split = {0.6, 0.2, 0.2};
  std::string error;
  SeriesDataset data;
  ASSERT_FALSE(loadCsvSeries(write("etth.csv", text), options, data, error)); // 2 rows per held-out split
  EXPECT_HAS(error, "the validation split has 2 of 10 rows, but a window of 2 needs at least 3");
  options.window = 1;
  data = load(write("etth.csv", text), options);
  EXPECT_EQ(data.featureNames, Names({"HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"}));
  EXPECT_EQ(data.train.count, 5);
  EXPECT_EQ(data.validation.count, 1);
  EXPECT_EQ(data.test.count, 1);
  EXPECT_NEAR(data.denormalize(data.test.y[0]), 21, 1e-4);
}

TEST_F(CsvSeriesTest, QuotesCrlfAndBom) {
  std::string path = write("quoted.csv", "\xEF\xBB\xBF\"date\", \"x\" ,\"y\"\r\n"
                                         "\"Jan 1, 2016\",1,\"10\"\r\n"
                                         "\"Jan 2, 2016\", 2 ,\"20\"\r\n"
                                         "\r\n"
                                         "\"Jan 3, 2016\",3,30\r\n");
  SeriesDataset data = load(path, smallOptions("y"));
  EXPECT_EQ(data.featureNames, Names({"x", "y"}));
  EXPECT_EQ(data.rows, 3);
  EXPECT_NEAR(data.denormalize(data.train.y[1]), 30, 1e-4);
}

TEST_F(CsvSeriesTest, MissingCellIsAnErrorByDefault) {
  std::string path = write("gaps.csv", "t,x,y\n1,1,10\n2,,20\n3,3,30\n");
  std::string error = loadError(path, smallOptions("y"));
  EXPECT_HAS(error, path + ":3:2: missing value in column 'x'");
}

TEST_F(CsvSeriesTest, NaValuesCompareNumerically) {
  std::string path = write("na.csv", "t,x,y\n1,1,10\n2,2,20\n3,3,-200.0\n4,4,40\n");
  CsvOptions options = smallOptions("y");
  EXPECT_EQ(load(path, options).rows, 4); // without naValues -200 is a number
  options.naValues = {" -200 "};
  EXPECT_HAS(loadError(path, options), path + ":4:3: missing value '-200.0' in column 'y'");
}

TEST_F(CsvSeriesTest, DropRemovesRowsWithMissingCells) {
  std::string path = write("gaps.csv", "t,x,y\n1,1,10\n2,,20\n3,3,-200\n4,4,40\n5,5,50\n");
  CsvOptions options = smallOptions("y");
  options.naValues = {"-200"};
  options.missing = Missing::Drop;
  SeriesDataset data = load(path, options);
  EXPECT_EQ(data.rows, 3);
  EXPECT_EQ(data.droppedRows, 2);
  // Rows 1, 4, 5 are kept; the window of row 4 would be row 1 across the
  // gap, so only row 5's (row 4) is made.
  ASSERT_EQ(data.train.count, 1);
  EXPECT_EQ(data.skippedWindows, 1);
  EXPECT_NEAR(data.denormalize(data.train.y[0]), 50, 1e-4);
}

TEST_F(CsvSeriesTest, WindowsNeverSpanADroppedRow) {
  // Derived cases: every pattern of dropped rows in a series of 12, window 1-3.
  for (int window = 1; window <= 3; ++window)
    for (int mask = 0; mask < 64; ++mask) {
      std::string text = "t,x,y\n";
      std::vector<int> kept;
      for (int r = 0; r < 12; ++r) {
        const bool drop = r >= 3 && r < 9 && (mask >> (r - 3) & 1);
        text += std::to_string(r) + "," + (drop ? "" : std::to_string(r)) + "," + std::to_string(r * 10) + "\n";
        if (!drop)
          kept.push_back(r);
      }
      CsvOptions options = smallOptions("y");
      options.window = window;
      options.split = {1.0, 0.0, 0.0};
      options.missing = Missing::Drop;
      options.features = {"x"};
      std::string error;
      SeriesDataset data;
      if (!loadCsvSeries(write("drop.csv", text), options, data, error))
        continue; // too few rows for the window: an error, not a window
      int64_t expected = 0;
      for (size_t t = window; t < kept.size(); ++t)
        expected += kept[t] - kept[t - window] == window;
      EXPECT_EQ(data.train.count, expected) << "mask " << mask << " window " << window;
      for (int64_t i = 0; i < data.train.count; ++i) { // x of the row before the target: one less
        const double y = data.denormalize(data.train.y[i]);
        const double x = data.featureMin[0] + data.train.x[i * window + window - 1] *
                                                  scaleRange(data.featureMin[0], data.featureMax[0]);
        EXPECT_NEAR(x, y / 10 - 1, 1e-3) << "mask " << mask;
      }
    }
}

TEST_F(CsvSeriesTest, FfillCarriesThePreviousValue) {
  std::string path = write("gaps.csv", "t,x,y\n1,1,10\n2,,20\n3,3,NA\n4,4,40\n");
  CsvOptions options = smallOptions("y");
  options.naValues = {"NA"};
  options.missing = Missing::Ffill;
  options.features = {"x"};
  SeriesDataset data = load(path, options);
  EXPECT_EQ(data.rows, 4);
  EXPECT_EQ(data.filledCells, 2);
  // The target of row 3 was filled, not observed: its window is never made
  // (never scored); rows 2 and 4 are the targets.
  ASSERT_EQ(data.train.count, 2);
  EXPECT_EQ(data.skippedWindows, 1);
  EXPECT_NEAR(data.denormalize(data.train.y[0]), 20, 1e-4);
  EXPECT_NEAR(data.denormalize(data.train.y[1]), 40, 1e-4);
  EXPECT_FLOAT_EQ(data.train.x[0], 0.0f); // x of row 1 (1), the minimum
}

TEST_F(CsvSeriesTest, AConstantTargetIsNotScaledToZero) {
  std::string path = write("constant.csv", "t,x,y\n1,1,5\n2,2,5\n3,3,5\n4,4,5\n5,5,9\n6,6,1\n");
  CsvOptions options = smallOptions("y");
  options.split = {0.5, 0.0, 0.5};
  SeriesDataset data = load(path, options);
  ASSERT_EQ(data.test.count, 2);
  EXPECT_NEAR(data.denormalize(data.test.y[0]), 9, 1e-4); // not 5: the range is never divided by zero
  EXPECT_NEAR(data.denormalize(data.test.y[1]), 1, 1e-4);
}

TEST_F(CsvSeriesTest, FfillCannotFillTheFirstRow) {
  std::string path = write("gaps.csv", "t,x,y\n1,,10\n2,2,20\n3,3,30\n");
  CsvOptions options = smallOptions("y");
  options.missing = Missing::Ffill;
  EXPECT_HAS(loadError(path, options), path + ":2:2: missing value in column 'x' in the first row");
}

TEST_F(CsvSeriesTest, NonNumericCellNamesLineColumnAndText) {
  std::string path = write("text.csv", "t,x,y\n1,1,10\n2,abc,20\n");
  EXPECT_HAS(loadError(path, smallOptions("y")), path + ":3:2: non-numeric value 'abc' in column 'x'");
  std::string longCell(60, 'z');
  path = write("long.csv", "t,x,y\n1,1,10\n2,2," + longCell + "\n");
  CsvOptions options = smallOptions("y");
  options.missing = Missing::Drop; // not a missing cell: still an error
  std::string error = loadError(path, options);
  EXPECT_HAS(error, path + ":3:3: non-numeric value '" + std::string(40, 'z') + "...' in column 'y'");
  EXPECT_EQ(error.find(longCell), std::string::npos);
}

TEST_F(CsvSeriesTest, RaggedRowIsAnError) {
  std::string path = write("ragged.csv", "t,x,y\n1,1,10\n2,2\n");
  EXPECT_HAS(loadError(path, smallOptions("y")), path + ":3: expected 3 fields, as in the header, but found 2");
}

TEST_F(CsvSeriesTest, EmptyAndHeaderOnlyFiles) {
  EXPECT_HAS(loadError(write("empty.csv", ""), smallOptions("y")), "empty.csv: empty file");
  EXPECT_HAS(loadError(write("header.csv", "t,x,y\r\n"), smallOptions("y")), "header.csv: no data rows");
  EXPECT_HAS(loadError((dir / "absent.csv").string(), smallOptions("y")), "absent.csv: cannot open");
}

TEST_F(CsvSeriesTest, UnknownColumnsListTheColumns) {
  std::string path = write("ramp.csv", rampCsv());
  EXPECT_HAS(loadError(path, smallOptions("OT")), path + ": no column 'OT' (columns: date, a, b, target)");
  CsvOptions options = smallOptions("target");
  options.features = {"a", "c"};
  EXPECT_HAS(loadError(path, options), "no column 'c' (columns: date, a, b, target)");
}

TEST_F(CsvSeriesTest, TooFewRowsOrBadSplit) {
  std::string path = write("ramp.csv", rampCsv());
  CsvOptions options;
  options.target = "target";
  EXPECT_HAS(loadError(path, options), "the train split has 14 of 20 rows, but a window of 24 needs at least 25");
  options.window = 2;
  options.split = {0.5, 0.5};
  EXPECT_HAS(loadError(path, options), "three fractions");
  options.split = {0.5, 0.3, 0.3};
  EXPECT_HAS(loadError(path, options), "summing to 1");
  options.split = {0.7, 0.1, 0.2};
  options.window = 0;
  EXPECT_HAS(loadError(path, options), "window must be at least 1");
}

TEST_F(CsvSeriesTest, SharedEtth1) {
  fs::path csv = fs::path(RNNC_SHARED_DATA_DIR) / "ETTh1.csv";
  if (!fs::exists(csv))
    GTEST_SKIP() << csv << " is not there";
  CsvOptions options;
  options.target = "OT";
  options.window = 24;
  options.split = {0.6, 0.2, 0.2};
  SeriesDataset data = load(csv.string(), options);
  EXPECT_EQ(data.rows, 17420);
  EXPECT_EQ(data.features, 7);
  EXPECT_EQ(data.featureNames, Names({"HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"}));
  EXPECT_EQ(data.train.count, 10452 - 24);
  EXPECT_EQ(data.validation.count, 3484 - 24);
  EXPECT_EQ(data.test.count, 3484 - 24);
  EXPECT_EQ(data.train.x.size(), static_cast<size_t>(data.train.count * 24 * 7));
  for (float y : data.train.y) {
    ASSERT_GE(y, 0.0f);
    ASSERT_LE(y, 1.0f);
  }
}

} // namespace
} // namespace rnnc::data
