#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "welld/parse.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kYear = std::chrono::milliseconds(366LL * 24 * 3600 * 1000);

TEST(ParseDuration, UnitsFractionsAndPlainSeconds) {
  EXPECT_EQ(welld::parse_duration("250ms"), 250ms);
  EXPECT_EQ(welld::parse_duration("10s"), 10s);
  EXPECT_EQ(welld::parse_duration("10"), 10s);
  EXPECT_EQ(welld::parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(welld::parse_duration("2m"), 2min);
  EXPECT_EQ(welld::parse_duration("5min"), 5min);
  EXPECT_EQ(welld::parse_duration("1h"), 1h);
  for (const char* bad : {"", "s", "1.", "1.s", ".5s", "1.2345s", "-1s", "10 s", "1d", "1.5.5s"}) {
    std::string error;
    EXPECT_FALSE(welld::parse_duration(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(ParseDuration, FractionsOfAMillisecondAreRefusedNotTruncated) {
  EXPECT_EQ(welld::parse_duration("1.0ms"), 1ms);
  EXPECT_EQ(welld::parse_duration("0.001s"), 1ms);
  for (const char* finer : {"1.5ms", "0.5ms", "0.1ms", "2.25ms"}) {
    std::string error;
    EXPECT_FALSE(welld::parse_duration(finer, &error)) << finer;
    EXPECT_NE(error.find("whole milliseconds only"), std::string::npos) << error;
  }
}

TEST(ParseDuration, NeverMoreThanAYearEvenWithAFraction) {
  EXPECT_EQ(welld::parse_duration("8784h"), kYear);
  // Found by fuzzing: the whole part was bounded, the fraction came on top.
  std::string error;
  EXPECT_FALSE(welld::parse_duration("8784.49h", &error));
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
  EXPECT_FALSE(welld::parse_duration("527040.5m"));
  EXPECT_FALSE(welld::parse_duration("31622400.001s"));
  EXPECT_EQ(welld::parse_duration("8783.999h"), kYear - 3600ms);
}

TEST(ParseSignal, NamesNumbersAndRealtime) {
  EXPECT_EQ(welld::parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(welld::parse_signal("sigterm"), SIGTERM);
  EXPECT_EQ(welld::parse_signal("9"), SIGKILL);
  EXPECT_EQ(welld::parse_signal("RTMIN+2"), SIGRTMIN + 2);
  EXPECT_EQ(welld::parse_signal("RTMAX-1"), SIGRTMAX - 1);
  for (const char* bad : {"", "0", "FOO", "RTMIN-1", "RTMAX+1", "99"}) EXPECT_FALSE(welld::parse_signal(bad)) << bad;
  for (int sig = 1; sig <= SIGRTMAX; ++sig) EXPECT_EQ(welld::parse_signal(welld::signal_name(sig)), sig) << sig;
}

TEST(ParseUmask, OctalUpTo0777) {
  EXPECT_EQ(welld::parse_umask("022"), 022u);
  EXPECT_EQ(welld::parse_umask("0777"), 0777u);
  for (const char* bad : {"", "8", "0x1", "1000", "00000", "-1"}) EXPECT_FALSE(welld::parse_umask(bad)) << bad;
}

TEST(ParseUserGroup, UserAndOptionalGroup) {
  auto ug = welld::parse_user_group("www:www-data");
  ASSERT_TRUE(ug);
  EXPECT_EQ(ug->user, "www");
  EXPECT_EQ(ug->group, "www-data");
  EXPECT_EQ(welld::parse_user_group("33")->group, "");
  for (const char* bad : {"", ":g", "u:", "a:b:c"}) EXPECT_FALSE(welld::parse_user_group(bad)) << bad;
}

TEST(SplitList, SkipsEmptyItemsOnly) {
  EXPECT_EQ(welld::split_list("a,b,,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(welld::split_list(",x y,"), (std::vector<std::string>{"x y"}));
  EXPECT_TRUE(welld::split_list(",,").empty());
  EXPECT_TRUE(welld::split_list("").empty());
}

TEST(ParseRlimit, NamesSuffixesAndOrder) {
  auto r = welld::parse_rlimit("RLIMIT_NOFILE=1024:4096");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->resource, RLIMIT_NOFILE);
  EXPECT_EQ(r->soft, 1024u);
  EXPECT_EQ(r->hard, 4096u);
  EXPECT_EQ(welld::parse_rlimit("as=1G")->hard, rlim_t{1} << 30);
  EXPECT_EQ(welld::parse_rlimit("core=unlimited")->soft, RLIM_INFINITY);
  for (const char* bad :
       {"nofile", "bogus=1", "nofile=", "nofile=1:", "nofile=10:5", "nofile=unlimited:5", "nofile=-1", "nofile=1X"}) {
    EXPECT_FALSE(welld::parse_rlimit(bad)) << bad;
  }
}

TEST(ParseRlimit, AValueReadsTheSameWithOrWithoutASuffix) {
  // Found by fuzzing: 1194096T was accepted but the same number in digits
  // (19 of them) was refused.
  auto suffixed = welld::parse_rlimit("nofile=1194096T");
  ASSERT_TRUE(suffixed);
  auto digits = welld::parse_rlimit("nofile=" + std::to_string(suffixed->soft));
  ASSERT_TRUE(digits);
  EXPECT_EQ(digits->soft, suffixed->soft);
  EXPECT_EQ(welld::parse_rlimit("nofile=4611686018427387904")->soft, rlim_t{1} << 62);
  // Beyond the range, out of range for long long too: refused, never misread.
  EXPECT_FALSE(welld::parse_rlimit("nofile=4611686018427387905"));
  EXPECT_FALSE(welld::parse_rlimit("nofile=9999999999999999999"));
  EXPECT_FALSE(welld::parse_rlimit("nofile=99999999999999999999999"));
}

TEST(ParseErrors, AreOneLineWhateverTheInput) {
  std::string nasty("x\n\x1b[31m\0y", 9);
  std::string error;
  EXPECT_FALSE(welld::parse_duration(nasty, &error));
  EXPECT_EQ(error.find_first_of(std::string("\n\x1b\0", 3)), std::string::npos) << error;
  EXPECT_FALSE(welld::parse_rlimit("nofile=" + nasty, &error));
  EXPECT_EQ(error.find_first_of(std::string("\n\x1b\0", 3)), std::string::npos) << error;
}

}  // namespace
