// src/control.cpp: finding, signalling and stopping a daemon through its PID
// file, and the one stop sequence; here on children of the test that write
// their own welld PID file.
#include "welld/control.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "support/test_support.hpp"
#include "welld/pidfile.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

enum class Child { plain, ignores_term_and_usr1, own_session };

// A child that writes `pidfile` (welld's PID file with its identity) unless
// it is empty, and waits; returned once the file is written.
t::ProcessGuard daemon_child(const std::string& pidfile, Child kind) {
  return t::paused_child([&] {
    if (kind == Child::ignores_term_and_usr1) {
      ::signal(SIGTERM, SIG_IGN);
      ::signal(SIGUSR1, SIG_IGN);
    }
    if (kind == Child::own_session && ::setsid() < 0) return false;
    return pidfile.empty() || !welld::write_pidfile(pidfile.c_str(), ::getpid());
  });
}

TEST(FindDaemon, ALiveDaemonIsPinnedAMissingFileIsAbsent) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  EXPECT_EQ(welld::find_daemon(pidfile).file.state, welld::PidfileState::absent);
  t::ProcessGuard child = daemon_child(pidfile, Child::plain);
  ASSERT_GT(child.pid(), 0);
  welld::DaemonLookup found = welld::find_daemon(pidfile);
  EXPECT_EQ(found.file.state, welld::PidfileState::running) << found.file.reason;
  EXPECT_EQ(found.file.pid, child.pid());
  ASSERT_TRUE(found.process);
  EXPECT_EQ(found.process.pid(), child.pid());
  EXPECT_TRUE(found.mismatch.empty());
}

TEST(FindDaemon, AMatchThatFailsIsRunningUnpinnedWithTheReason) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  t::ProcessGuard child = daemon_child(pidfile, Child::plain);
  ASSERT_GT(child.pid(), 0);
  welld::DaemonLookup found = welld::find_daemon(pidfile, {.name = "welld-no-such"});
  EXPECT_EQ(found.file.state, welld::PidfileState::running);
  EXPECT_FALSE(found.process);
  EXPECT_FALSE(found.mismatch.empty());
}

TEST(DistrustReason, OnlyRootOrTheCallerAndNoGroupOrOtherWrite) {
  welld::PidfileInfo file;
  file.owner = ::geteuid();
  file.mode = 0644;
  EXPECT_EQ(welld::distrust_reason(file, {}), "");
  file.mode = 0664;
  EXPECT_NE(welld::distrust_reason(file, {}), "");
  file.mode = 0646;
  EXPECT_NE(welld::distrust_reason(file, {}), "");
  file.mode = 0644;
  file.owner = 12345;
  if (::geteuid() != 12345) {
    EXPECT_NE(welld::distrust_reason(file, {}), "");
  }
  EXPECT_EQ(welld::distrust_reason(file, {.trust_any = true}), "");
}

TEST(StopDaemon, StopsTheDaemonAndRemovesItsFile) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  t::ProcessGuard child = daemon_child(pidfile, Child::plain);
  ASSERT_GT(child.pid(), 0);
  welld::StopResult r = welld::stop_daemon(pidfile, SIGTERM, 30s);
  EXPECT_EQ(r.outcome, welld::StopOutcome::stopped) << r.reason;
  EXPECT_EQ(r.pid, child.pid());
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_TRUE(child.wait_gone(10s));
  EXPECT_FALSE(t::exists(pidfile));
  welld::StopResult again = welld::stop_daemon(pidfile, SIGTERM, 30s);
  EXPECT_EQ(again.outcome, welld::StopOutcome::not_running);
}

TEST(StopDaemon, ADaemonIgnoringTheSignalIsKilledAfterTheTimeout) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  t::ProcessGuard child = daemon_child(pidfile, Child::ignores_term_and_usr1);
  ASSERT_GT(child.pid(), 0);
  welld::StopResult r = welld::stop_daemon(pidfile, welld::kRecordedSignal, 200ms);
  EXPECT_EQ(r.outcome, welld::StopOutcome::killed) << r.reason;
  EXPECT_EQ(r.signal, SIGTERM);  // nothing recorded: the default
  EXPECT_EQ(r.timeout, 200ms);
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(StopDaemon, AStaleFileIsNotRunningAndRemoved) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  {
    t::ProcessGuard child = daemon_child(pidfile, Child::plain);
    ASSERT_GT(child.pid(), 0);
  }  // killed without removing its file
  ASSERT_TRUE(t::exists(pidfile));
  welld::StopResult r = welld::stop_daemon(pidfile, SIGTERM, 30s);
  EXPECT_EQ(r.outcome, welld::StopOutcome::not_running) << r.reason;
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(SignalDaemon, SentIgnoredAndNotRunning) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  EXPECT_EQ(welld::signal_daemon(pidfile, SIGHUP).outcome, welld::SignalOutcome::not_running);
  t::ProcessGuard child = daemon_child(pidfile, Child::ignores_term_and_usr1);
  ASSERT_GT(child.pid(), 0);
  welld::SignalResult cont = welld::signal_daemon(pidfile, SIGCONT);
  EXPECT_EQ(cont.outcome, welld::SignalOutcome::sent) << cont.reason;
  EXPECT_EQ(cont.pid, child.pid());
  EXPECT_FALSE(cont.blocked);
  welld::SignalResult usr1 = welld::signal_daemon(pidfile, SIGUSR1);
  EXPECT_EQ(usr1.outcome, welld::SignalOutcome::ignored);
  EXPECT_TRUE(t::alive(child.pid()));
}

TEST(ScopeOf, TheCallersOwnSessionIsNeverTheScope) {
  t::ProcessGuard same = daemon_child("", Child::plain);
  t::ProcessGuard leader = daemon_child("", Child::own_session);
  ASSERT_GT(same.pid(), 0);
  ASSERT_GT(leader.pid(), 0);
  welld::Process a, b;
  ASSERT_FALSE(welld::Process::open_child(same.pid(), a));
  ASSERT_FALSE(welld::Process::open_child(leader.pid(), b));
  EXPECT_EQ(welld::scope_of(a).session, -1);
  EXPECT_EQ(welld::scope_of(b).session, leader.pid());
}

TEST(StopProcess, SignalThenKillAndAnExitedMainIsStopped) {
  t::ProcessGuard stubborn = daemon_child("", Child::ignores_term_and_usr1);
  ASSERT_GT(stubborn.pid(), 0);
  welld::Process main;
  ASSERT_FALSE(welld::Process::open_child(stubborn.pid(), main));
  welld::StopResult killed = welld::stop_process(main, {}, {.signal = SIGTERM, .timeout = 100ms});
  EXPECT_EQ(killed.outcome, welld::StopOutcome::killed) << killed.reason;
  EXPECT_FALSE(main.present());

  t::ProcessGuard polite = daemon_child("", Child::plain);
  ASSERT_GT(polite.pid(), 0);
  welld::Process other;
  ASSERT_FALSE(welld::Process::open_child(polite.pid(), other));
  welld::StopResult stopped = welld::stop_process(other, {}, {});
  EXPECT_EQ(stopped.outcome, welld::StopOutcome::stopped) << stopped.reason;
  EXPECT_EQ(stopped.others, 0);
}

}  // namespace
