#include "bench/latency.hpp"

#include <gtest/gtest.h>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

TEST(Latency, MillisecondsConvertThroughChrono) {
  EXPECT_DOUBLE_EQ(Milliseconds(std::chrono::microseconds(250)).count(), 0.25);
  EXPECT_DOUBLE_EQ(Milliseconds(std::chrono::duration<double>(1.5)).count(), 1500.0);
}

TEST(Latency, ToString) {
  EXPECT_EQ(to_string(Milliseconds(3.41234)), "3.412 ms");
  EXPECT_EQ(to_string(Milliseconds(0.0123456)), "0.01235 ms");
  const Latency l{.time = Milliseconds(3.41234), .statistic = Statistic::P90, .batch = 8, .dtype = DType::F32};
  EXPECT_EQ(to_string(l), "p90=3.412 ms batch=8 dtype=f32");
}

TEST(Latency, StatisticNamesRoundTrip) {
  for (const Statistic s : {Statistic::Min, Statistic::P10, Statistic::Median, Statistic::P90, Statistic::P99,
                            Statistic::Mean}) {
    EXPECT_EQ(parse_statistic(to_string(s)), s) << to_string(s);
  }
}

TEST(Latency, UnknownStatisticNamesTheValue) {
  try {
    parse_statistic("p95");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("statistic=p95 must be one of"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hwnas
