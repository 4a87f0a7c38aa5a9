// src/process.cpp: a live process pinned by pidfd, and the /proc and cgroup
// readers beside it.
#include "welld/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "support/test_support.hpp"
#include "welld/pidfile.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

TEST(Process, AChildIsPinnedSignalledAndReapedWithItsStatus) {
  t::ProcessGuard guard = t::paused_child([] { return true; });
  pid_t child = guard.pid();
  ASSERT_GT(child, 0);
  welld::Process p;
  ASSERT_FALSE(welld::Process::open_child(child, p));
  EXPECT_TRUE(p);
  EXPECT_EQ(p.pid(), child);
  EXPECT_TRUE(p.present());
  EXPECT_FALSE(p.exited());
  ASSERT_FALSE(p.signal(SIGTERM));
  int status = 0;
  ASSERT_TRUE(p.wait_exit(30s, &status));
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(p.present());
  EXPECT_EQ(p.signal(SIGTERM), std::errc::no_such_process);
  // Reaped: no longer a child to pin.
  welld::Process gone;
  EXPECT_EQ(welld::Process::open_child(child, gone), std::errc::no_such_process);
  EXPECT_EQ(welld::Process::open(child, 0, gone), std::errc::no_such_process);
}

// has_exited sees the exit (by pidfd, or without pidfd_open from /proc) and
// leaves the zombie to its parent: the status is still there to collect.
TEST(Process, HasExitedSeesAnExitWithoutReaping) {
  EXPECT_FALSE(welld::Process().has_exited());
  t::ProcessGuard guard = t::paused_child([] { return true; });
  welld::Process p;
  ASSERT_FALSE(welld::Process::open_child(guard.pid(), p));
  EXPECT_FALSE(p.has_exited());
  ASSERT_FALSE(p.signal(SIGTERM));
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!p.has_exited() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(p.has_exited());
  EXPECT_TRUE(p.present()) << "has_exited reaped it";
  int status = 0;
  ASSERT_TRUE(p.wait_exit(0ms, &status));
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(p.has_exited());
  EXPECT_FALSE(p.present());
}

TEST(Process, OpenChecksTheStartTime) {
  unsigned long long start = welld::process_start_time(::getpid());
  ASSERT_NE(start, 0U);
  welld::Process self;
  EXPECT_FALSE(welld::Process::open(::getpid(), start, self));
  EXPECT_EQ(self.pid(), ::getpid());
  welld::Process any;
  EXPECT_FALSE(welld::Process::open(::getpid(), 0, any));
  welld::Process other;
  EXPECT_EQ(welld::Process::open(::getpid(), start + 1, other), std::errc::no_such_process);
  EXPECT_FALSE(other);
}

TEST(Process, WaitExitTimesOutOnALiveProcess) {
  t::ProcessGuard guard = t::sleeping_child();
  welld::Process p;
  ASSERT_FALSE(welld::Process::open_child(guard.pid(), p));
  auto begin = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.wait_exit(100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 90ms);
  EXPECT_TRUE(p.present());
}

TEST(ProcessReaders, CommandLineSessionUptimeAndThePidList) {
  t::ProcessGuard guard = t::sleeping_child();
  // The fork's copy of the test runs until the exec: wait for the new image.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (t::proc_stat(guard.pid()).size() > 2 && t::proc_stat(guard.pid())[2] != "sleep" &&
         std::chrono::steady_clock::now() < deadline) {
    ::usleep(10000);
  }
  ASSERT_TRUE(t::wait_for_exec(guard.pid()));
  EXPECT_EQ(welld::process_command_line(guard.pid()), "sleep 1000");
  // Session 0 (a session made outside this PID namespace, as under some CI
  // runners) is no session to scope by: it reads as -1.
  pid_t own = ::getsid(0) > 0 ? ::getsid(0) : -1;
  EXPECT_EQ(welld::process_session(::getpid()), own);
  EXPECT_EQ(welld::process_session(guard.pid()), own);
  t::ProcessGuard leader = t::paused_child([] { return ::setsid() > 0; });
  ASSERT_GT(leader.pid(), 0);
  EXPECT_EQ(welld::process_session(leader.pid()), leader.pid());
  EXPECT_GE(welld::process_uptime(::getpid()), 0s);
  std::vector<pid_t> pids = welld::all_pids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), ::getpid()), pids.end());
  EXPECT_NE(std::find(pids.begin(), pids.end(), guard.pid()), pids.end());
  pid_t gone = guard.pid();
  guard.reset();
  EXPECT_EQ(welld::process_command_line(gone), "");
  EXPECT_EQ(welld::process_session(gone), -1);
  EXPECT_EQ(welld::process_uptime(gone), 0s);
}

TEST(Cgroup, ACgroupIsReadFromProcAndItsMembersFromCgroupProcs) {
  std::string mount = welld::cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy";
  std::string own = welld::process_cgroup(::getpid());
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(own[0], '/');
  std::string line = t::read_file("/proc/self/cgroup");
  EXPECT_NE(line.find("0::" + own + "\n"), std::string::npos) << line;
  std::vector<pid_t> members;
  std::error_code ec = welld::cgroup_members(mount + own, members);
  if (ec == std::errc::permission_denied) GTEST_SKIP() << "cgroup.procs not readable";
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_NE(std::find(members.begin(), members.end(), ::getpid()), members.end());
  EXPECT_TRUE(welld::cgroup_members(mount + "/welld-no-such-cgroup", members));
}

TEST(Cgroup, TheTestSwitchesForceTheFallbacks) {
  ::setenv("WELLD_TEST_NO_CGROUP", "1", 1);
  EXPECT_EQ(welld::cgroup2_mount(), "");
  ::unsetenv("WELLD_TEST_NO_CGROUP");
  ::setenv("WELLD_TEST_NO_CGROUP_KILL", "1", 1);
  std::string mount = welld::cgroup2_mount();
  if (!mount.empty()) {
    EXPECT_FALSE(welld::cgroup_has_kill(mount + welld::process_cgroup(::getpid())));
  }
  ::unsetenv("WELLD_TEST_NO_CGROUP_KILL");
}

}  // namespace
