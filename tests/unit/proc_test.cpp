// proc.hpp: the one /proc/PID/stat parser and its readers.
#include "proc.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace {

TEST(ProcStat, ParsesTheFieldsAfterTheLastParenthesis) {
  // A name with blanks and ')' in it: the fields count from the last ')'.
  std::string text = "4242 (a) b (c)) S 17 4242 4241 34817 4242 4194560 0 0 0 0 1 2 0 0 20 0 1 0 987654 0 0";
  welld::ProcStat st;
  ASSERT_TRUE(welld::parse_proc_stat(text, st));
  EXPECT_EQ(st.comm, "a) b (c)");
  EXPECT_EQ(st.state, 'S');
  EXPECT_EQ(st.ppid, 17);
  EXPECT_EQ(st.pgrp, 4242);
  EXPECT_EQ(st.session, 4241);
  EXPECT_EQ(st.tty_nr, 34817);
  EXPECT_EQ(st.flags, 4194560UL);
  EXPECT_EQ(st.start_time, 987654ULL);
  EXPECT_EQ(st.env_start, 0U);  // absent fields stay 0
}

TEST(ProcStat, ReadsTheEnvironmentBlockFields) {
  std::string text = "1 (x) S 0 1 1 0 -1 0";
  for (int field = 10; field <= 49; ++field) text += " 0";
  text += " 4096 8192 0\n";
  welld::ProcStat st;
  ASSERT_TRUE(welld::parse_proc_stat(text, st));
  EXPECT_EQ(st.env_start, 4096U);
  EXPECT_EQ(st.env_end, 8192U);
}

TEST(ProcStat, RefusesTextWithoutANameOrFields) {
  welld::ProcStat st;
  EXPECT_FALSE(welld::parse_proc_stat("", st));
  EXPECT_FALSE(welld::parse_proc_stat("12 comm S 1 2 3", st));
  EXPECT_FALSE(welld::parse_proc_stat("12 (comm) S 1", st));
}

TEST(ProcStat, ReadsTheCallersOwnStat) {
  std::string text;
  welld::ProcStat st;
  ASSERT_FALSE(welld::read_proc_stat(::getpid(), text, st));
  EXPECT_EQ(st.ppid, ::getppid());
  EXPECT_EQ(st.session, ::getsid(0));
  EXPECT_EQ(st.pgrp, ::getpgrp());
  EXPECT_GT(st.start_time, 0ULL);
  EXPECT_EQ(welld::process_comm(::getpid()), std::string(st.comm));
  std::string self;
  welld::ProcStat mine;
  ASSERT_FALSE(welld::read_proc_stat(0, self, mine));  // 0: /proc/self
  EXPECT_EQ(mine.start_time, st.start_time);
}

TEST(ProcStat, AGoneProcessIsAnError) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int ws = 0;
  ASSERT_EQ(::waitpid(child, &ws, 0), child);
  std::string text;
  welld::ProcStat st;
  EXPECT_TRUE(welld::read_proc_stat(child, text, st));
  EXPECT_EQ(welld::process_comm(child), "");
}

TEST(ProcStat, ClockTicksArePositive) { EXPECT_GT(welld::clock_ticks_per_second(), 0); }

}  // namespace
