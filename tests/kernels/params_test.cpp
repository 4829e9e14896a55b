#include "kernels/params.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

const std::vector<ParamSpec>& specs() {
  static const std::vector<ParamSpec> kSpecs = {
      {.name = "k", .default_value = "3", .min = 1, .max = 9, .help = "an integer"},
      {.name = "eps",
       .default_value = "1e-05",
       .min = 0,
       .max = 1,
       .help = "a real",
       .kind = ParamSpec::Kind::Real},
      {.name = "shape",
       .default_value = "1x2",
       .min = 1,
       .max = 64,
       .help = "a list",
       .kind = ParamSpec::Kind::IntegerList},
      {.name = "act", .default_value = "none", .choices = {"none", "relu"}, .help = "a word"},
  };
  return kSpecs;
}

Params parse(std::string_view key) { return Params::from_key("op", specs(), key); }

void expect_invalid(std::string_view key, const std::string& needle) {
  try {
    parse(key);
    ADD_FAILURE() << key << ": expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Params, DefaultsAndCanonicalKey) {
  const Params p = parse("op:act=relu");
  EXPECT_EQ(p.key(), "op:k=3,eps=1e-05,shape=1x2,act=relu");
  EXPECT_EQ(p.integer("k"), 3);
  EXPECT_EQ(p.real("eps"), 1e-5);
  EXPECT_EQ(p.integers("shape"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(p.word("act"), "relu");
}

TEST(Params, RealsAndLists) {
  const Params p = parse("op:eps=0.001,shape=1x56x56x64,k=9");
  EXPECT_EQ(p.real("eps"), 0.001);
  EXPECT_EQ(p.integers("shape"), (std::vector<std::int64_t>{1, 56, 56, 64}));
  EXPECT_EQ(parse("op:eps=1").real("eps"), 1.0);
  EXPECT_EQ(parse("op:eps=2.5e-1").real("eps"), 0.25);
  EXPECT_EQ(parse("op:shape=7").integers("shape"), (std::vector<std::int64_t>{7}));
}

TEST(Params, ErrorsNameTheKeyAndTheRule) {
  expect_invalid("op:k=10", "op: k=10 is out of range [1, 9]");
  expect_invalid("op:eps=2", "op: eps=2 is out of range [0, 1]");
  expect_invalid("op:eps=-1e-5", "eps=-1e-5 is out of range [0, 1]");
  expect_invalid("op:eps=nan", "op: eps=nan is not a finite decimal number");
  expect_invalid("op:eps=inf", "eps=inf is not a finite decimal number");
  expect_invalid("op:eps=1e-5x", "eps=1e-5x is not a finite decimal number");
  expect_invalid("op:eps=", "eps= is not a finite decimal number");
  expect_invalid("op:shape=1x0x3", "op: shape=1x0x3 has item 1=0 out of range [1, 64]");
  expect_invalid("op:shape=1xx3", "op: shape=1xx3 is not a list of integers joined by 'x'");
  expect_invalid("op:shape=2x", "shape=2x is not a list of integers");
  expect_invalid("op:shape=", "shape= is not a list of integers");
  expect_invalid("op:shape=2.5", "shape=2.5 is not a list of integers");
  expect_invalid("op:act=gelu", "op: act=gelu is not one of none, relu");
  expect_invalid("op:q=1", "op: unknown key 'q'; keys are k, eps, shape, act");
}

}  // namespace
}  // namespace hwnas
