// StepPattern against the reference's matcher.go grammar and Go's strconv.ParseUint(s, 0, 64).
#include "scheduler/step_pattern.h"

#include <gtest/gtest.h>

#include <string>

#include "host/go_strconv.h"

namespace cb {
namespace {

std::string parse_error(const std::string& text) {
  try {
    StepPattern::parse(text);
  } catch (const StepPatternError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(StepPattern, NeverAndDefault) {
  for (const StepPattern& p :
       {StepPattern(), StepPattern::parse(""), StepPattern::parse("never")}) {
    EXPECT_EQ(p.kind(), StepPattern::Kind::kNever);
    EXPECT_FALSE(p.matches(0));
    EXPECT_FALSE(p.matches(12345));
    EXPECT_EQ(p.next_match(0), StepPattern::kNoMatch);
  }
  EXPECT_EQ(StepPattern::parse("never").repr(), "never");
}

TEST(StepPattern, Always) {
  const StepPattern p = StepPattern::parse("always");
  EXPECT_TRUE(p.matches(0));
  EXPECT_TRUE(p.matches(UINT64_MAX));
  EXPECT_EQ(p.next_match(77), 77u);
}

TEST(StepPattern, Exact) {
  const StepPattern p = StepPattern::parse("=123");
  EXPECT_EQ(p.kind(), StepPattern::Kind::kExact);
  EXPECT_EQ(p.value(), 123u);
  EXPECT_TRUE(p.matches(123));
  EXPECT_FALSE(p.matches(122));
  EXPECT_FALSE(p.matches(124));
  EXPECT_EQ(p.next_match(0), 123u);
  EXPECT_EQ(p.next_match(123), 123u);
  EXPECT_EQ(p.next_match(124), StepPattern::kNoMatch);
  EXPECT_EQ(StepPattern::parse("=0").next_match(0), 0u);
  EXPECT_EQ(StepPattern::parse("=0").next_match(1), StepPattern::kNoMatch);
  EXPECT_EQ(p.repr(), "=123");
}

TEST(StepPattern, Every) {
  const StepPattern p = StepPattern::parse("%1000");
  EXPECT_EQ(p.kind(), StepPattern::Kind::kEvery);
  EXPECT_TRUE(p.matches(0));  // 0 % N == 0: the reference matches step 0
  EXPECT_TRUE(p.matches(3000));
  EXPECT_FALSE(p.matches(3001));
  EXPECT_EQ(p.next_match(0), 0u);
  EXPECT_EQ(p.next_match(1), 1000u);
  EXPECT_EQ(p.next_match(1000), 1000u);
  EXPECT_EQ(p.next_match(1999), 2000u);
  EXPECT_TRUE(StepPattern::parse("%1").matches(12345));
  // Near the top: no multiple above, or the top itself.
  const StepPattern big = StepPattern::parse("%0x8000000000000000");
  EXPECT_EQ(big.next_match(1), 0x8000000000000000u);
  EXPECT_EQ(big.next_match(0x8000000000000001u), StepPattern::kNoMatch);
  const StepPattern three = StepPattern::parse("%3");  // 2^64-1 is a multiple of 3
  EXPECT_EQ(three.next_match(UINT64_MAX - 1), UINT64_MAX);
  EXPECT_TRUE(three.matches(UINT64_MAX));
  const StepPattern two = StepPattern::parse("%2");
  EXPECT_EQ(two.next_match(UINT64_MAX), StepPattern::kNoMatch);
  EXPECT_FALSE(two.matches(UINT64_MAX));
}

TEST(StepPattern, NextMatchAgreesWithMatches) {
  for (const char* text : {"never", "always", "=0", "=7", "=40", "%1", "%3", "%7", "%16"}) {
    const StepPattern p = StepPattern::parse(text);
    for (uint64_t s = 0; s < 60; ++s) {
      uint64_t want = StepPattern::kNoMatch;
      for (uint64_t t = s; t < 200; ++t) {
        if (p.matches(t)) {
          want = t;
          break;
        }
      }
      EXPECT_EQ(p.next_match(s), want) << text << " from " << s;
    }
  }
}

TEST(StepPattern, GoNumberSyntax) {
  EXPECT_EQ(StepPattern::parse("=0x10").value(), 16u);
  EXPECT_EQ(StepPattern::parse("=0XfF").value(), 255u);
  EXPECT_EQ(StepPattern::parse("%0x1_0").value(), 16u);
  EXPECT_EQ(StepPattern::parse("=0x_10").value(), 16u);  // underscore after a base prefix
  EXPECT_EQ(StepPattern::parse("=010").value(), 8u);     // leading 0 = octal, as in Go
  EXPECT_EQ(StepPattern::parse("=0o17").value(), 15u);
  EXPECT_EQ(StepPattern::parse("=0b101").value(), 5u);
  EXPECT_EQ(StepPattern::parse("=1_000_000").value(), 1000000u);
  EXPECT_EQ(StepPattern::parse("=0").value(), 0u);
  EXPECT_EQ(StepPattern::parse("=00").value(), 0u);
  EXPECT_EQ(StepPattern::parse("=18446744073709551615").value(), UINT64_MAX);
  EXPECT_EQ(StepPattern::parse("=0xffffffffffffffff").value(), UINT64_MAX);
}

TEST(StepPattern, ReferenceErrors) {
  EXPECT_EQ(parse_error("=abc"),
            "failed to parse step number: strconv.ParseUint: parsing \"abc\": invalid syntax");
  EXPECT_EQ(parse_error("="),
            "failed to parse step number: strconv.ParseUint: parsing \"\": invalid syntax");
  EXPECT_EQ(
      parse_error("%"),
      "failed to parse step interval number: strconv.ParseUint: parsing \"\": invalid syntax");
  EXPECT_EQ(
      parse_error("=18446744073709551616"),
      "failed to parse step number: strconv.ParseUint: parsing \"18446744073709551616\": value "
      "out of range");
  EXPECT_EQ(parse_error("%0x10000000000000000"),
            "failed to parse step interval number: strconv.ParseUint: parsing "
            "\"0x10000000000000000\": value out of range");
  EXPECT_EQ(parse_error("sometimes"), "unrecognized step matcher: \"sometimes\"");
  EXPECT_EQ(parse_error("Never"), "unrecognized step matcher: \"Never\"");
  EXPECT_EQ(parse_error("123"), "unrecognized step matcher: \"123\"");
  EXPECT_EQ(parse_error(" =1"), "unrecognized step matcher: \" =1\"");
  EXPECT_EQ(parse_error("tab\there"), "unrecognized step matcher: \"tab\\there\"");
  EXPECT_EQ(parse_error("\x01\xff"), "unrecognized step matcher: \"\\x01\\xff\"");
  for (const char* bad : {"=08", "=0x", "=0b2", "=-1", "=+1", "= 1", "=1 ", "=1e3", "=1_", "=_1",
                          "=1__0", "=0x_", "=1.0"}) {
    EXPECT_NE(parse_error(bad).find("invalid syntax"), std::string::npos) << bad;
  }
  // The reference accepts "%0" and then divides by zero; we refuse it up front.
  EXPECT_EQ(parse_error("%0"), "failed to parse step interval number: the interval must not be 0");
  EXPECT_EQ(parse_error("%0x0"),
            "failed to parse step interval number: the interval must not be 0");
}

TEST(StepPattern, GoQuote) {
  EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(go_quote("é"), "\"é\"");
  EXPECT_EQ(go_quote("\x7f\n"), "\"\\x7f\\n\"");
}

}  // namespace
}  // namespace cb
