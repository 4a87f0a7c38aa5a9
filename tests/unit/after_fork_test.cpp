// after_fork.hpp: the async-signal-safe decimals every after-fork path uses.
#include "after_fork.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <string>

namespace {

using welld::detail::format_decimal;
using welld::detail::parse_decimal;

std::string formatted(unsigned long long value, size_t size = 32) {
  char buf[32];
  std::memset(buf, 'x', sizeof buf);
  size_t n = format_decimal(buf, size, value);
  EXPECT_EQ(n, std::strlen(buf));
  return buf;
}

bool parses(const std::string& text, unsigned long long& out) { return parse_decimal(text.data(), text.size(), out); }

TEST(AfterFork, FormatDecimalZeroAndLimits) {
  EXPECT_EQ(formatted(0), "0");
  EXPECT_EQ(formatted(7), "7");
  EXPECT_EQ(formatted(10), "10");
  EXPECT_EQ(formatted(4194304), "4194304");
  EXPECT_EQ(formatted(INT_MAX), "2147483647");
  EXPECT_EQ(formatted(ULLONG_MAX), "18446744073709551615");
}

TEST(AfterFork, FormatDecimalNeedsRoomForTheNul) {
  EXPECT_EQ(formatted(12345, 6), "12345");  // 5 digits and the NUL
  char buf[8];
  std::memset(buf, 'x', sizeof buf);
  EXPECT_EQ(format_decimal(buf, 5, 12345), 0U);  // no room for the NUL: nothing but ""
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(buf[1], 'x');
  EXPECT_EQ(format_decimal(buf, 1, 0), 0U);
  EXPECT_STREQ(buf, "");
  buf[0] = 'x';
  EXPECT_EQ(format_decimal(buf, 0, 0), 0U);  // nothing written at all
  EXPECT_EQ(buf[0], 'x');
  char max[21];
  EXPECT_EQ(format_decimal(max, sizeof max, ULLONG_MAX), 20U);
  EXPECT_EQ(format_decimal(max, sizeof max - 1, ULLONG_MAX), 0U);
}

TEST(AfterFork, ParseDecimalZeroAndLimits) {
  unsigned long long v = 99;
  ASSERT_TRUE(parses("0", v));
  EXPECT_EQ(v, 0U);
  ASSERT_TRUE(parses("42", v));
  EXPECT_EQ(v, 42U);
  ASSERT_TRUE(parses("007", v));
  EXPECT_EQ(v, 7U);
  ASSERT_TRUE(parses("18446744073709551615", v));
  EXPECT_EQ(v, ULLONG_MAX);
  ASSERT_TRUE(parses("00000000000000000001", v));  // 20 digits
  EXPECT_EQ(v, 1U);
}

TEST(AfterFork, ParseDecimalRefusesOverflow) {
  unsigned long long v = 99;
  EXPECT_FALSE(parses("18446744073709551616", v));   // ULLONG_MAX + 1
  EXPECT_FALSE(parses("99999999999999999999", v));   // 20 digits, too large
  EXPECT_FALSE(parses("000000000000000000001", v));  // 21 digits
  EXPECT_EQ(v, 99U);                                 // untouched
}

TEST(AfterFork, ParseDecimalRefusesNonDigits) {
  unsigned long long v = 99;
  EXPECT_FALSE(parses("", v));
  EXPECT_FALSE(parses("-1", v));
  EXPECT_FALSE(parses("+1", v));
  EXPECT_FALSE(parses(" 1", v));
  EXPECT_FALSE(parses("1 ", v));
  EXPECT_FALSE(parses("1\n", v));
  EXPECT_FALSE(parses("12a", v));
  EXPECT_FALSE(parses("0x10", v));
  EXPECT_FALSE(parses(std::string("1\0", 2), v));
  EXPECT_EQ(v, 99U);
  // Only `len` bytes count: what follows is not read.
  EXPECT_TRUE(parse_decimal("12abc", 2, v));
  EXPECT_EQ(v, 12U);
}

TEST(AfterFork, RoundTrip) {
  for (unsigned long long value : {0ULL, 1ULL, 9ULL, 10ULL, 99ULL, 100ULL, 1ULL << 32, ULLONG_MAX / 10, ULLONG_MAX}) {
    char buf[21];
    size_t n = format_decimal(buf, sizeof buf, value);
    unsigned long long back = 0;
    ASSERT_TRUE(parse_decimal(buf, n, back)) << buf;
    EXPECT_EQ(back, value);
  }
}

}  // namespace
