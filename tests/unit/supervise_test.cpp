// The supervisor's pure parts (src/supervise.cpp): the restart policy and its
// parsers, the backoff, the restart budget, and the published state file. The
// loop itself runs real processes in tests/integration/supervise_cli_test.cpp.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "welld/supervise.hpp"

namespace {

namespace t = welld::test;
using namespace std::chrono_literals;

TEST(RestartPolicy, NamesParseAndComeBack) {
  for (auto w : {welld::RestartWhen::always, welld::RestartWhen::on_failure, welld::RestartWhen::on_abnormal,
                 welld::RestartWhen::never}) {
    EXPECT_EQ(welld::parse_restart_when(welld::to_string(w)), w);
  }
  std::string error;
  EXPECT_FALSE(welld::parse_restart_when("sometimes", &error));
  EXPECT_EQ(error, "unknown restart policy 'sometimes' (always, on-failure, on-abnormal or never)");
}

TEST(RestartPolicy, TheLimitIsCountSlashInterval) {
  welld::RestartPolicy p;
  ASSERT_TRUE(welld::parse_restart_limit("3/2s", p));
  EXPECT_EQ(p.limit, 3U);
  EXPECT_EQ(p.interval, 2s);
  std::string error;
  for (const char* bad : {"3", "0/1s", "x/1s", "3/", "3/0s", "3/1x", "-1/1s"}) {
    EXPECT_FALSE(welld::parse_restart_limit(bad, p, &error)) << bad;
    EXPECT_NE(error.find("expected COUNT/INTERVAL"), std::string::npos) << bad;
  }
  EXPECT_EQ(p.limit, 3U);  // untouched by the failures
}

TEST(RestartPolicy, EachPolicyRestartsWhatItSays) {
  const int ok = W_EXITCODE(0, 0);
  const int three = W_EXITCODE(3, 0);
  const int killed = SIGSEGV;  // as waitpid stores "killed by SIGSEGV"
  welld::RestartPolicy p;
  p.when = welld::RestartWhen::always;
  EXPECT_TRUE(welld::restarts_after(p, ok));
  EXPECT_TRUE(welld::restarts_after(p, killed));
  p.when = welld::RestartWhen::never;
  EXPECT_FALSE(welld::restarts_after(p, killed));
  p.when = welld::RestartWhen::on_failure;
  EXPECT_FALSE(welld::restarts_after(p, ok));
  EXPECT_TRUE(welld::restarts_after(p, three));
  EXPECT_TRUE(welld::restarts_after(p, killed));
  EXPECT_TRUE(welld::restarts_after(p, -1));  // an end we could not see counts as a failure
  p.success_exits = {3};
  EXPECT_FALSE(welld::restarts_after(p, three));
  EXPECT_TRUE(welld::ended_well(p, three));
  p.when = welld::RestartWhen::on_abnormal;
  EXPECT_FALSE(welld::restarts_after(p, W_EXITCODE(1, 0)));
  EXPECT_TRUE(welld::restarts_after(p, killed));
}

TEST(RestartPolicy, AWatchdogTimeoutIsAnAbnormalEndWhateverItsStatus) {
  const int ok = W_EXITCODE(0, 0);  // a child that caught SIGABRT and exited 0
  welld::RestartPolicy p;
  for (auto when : {welld::RestartWhen::always, welld::RestartWhen::on_failure, welld::RestartWhen::on_abnormal}) {
    p.when = when;
    EXPECT_TRUE(welld::restarts_after(p, ok, true)) << welld::to_string(when);
    EXPECT_TRUE(welld::restarts_after(p, SIGABRT, true)) << welld::to_string(when);
    EXPECT_TRUE(welld::restarts_after(p, -1, true)) << welld::to_string(when);
  }
  p.when = welld::RestartWhen::on_abnormal;
  EXPECT_FALSE(welld::restarts_after(p, ok, false));
  p.when = welld::RestartWhen::never;
  EXPECT_FALSE(welld::restarts_after(p, SIGABRT, true));
}

TEST(Backoff, DoublesFromTheDelayUpToTheCapAndStartsOver) {
  welld::RestartPolicy p;
  p.delay = 100ms;
  p.max_delay = 700ms;
  welld::Backoff b(p);
  EXPECT_EQ(b.peek(), 100ms);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 700ms);
  EXPECT_EQ(b.next(), 700ms);
  b.reset();
  EXPECT_EQ(b.next(), 100ms);
  p.delay = 0ms;  // no delay at all: it stays zero
  welld::Backoff zero(p);
  EXPECT_EQ(zero.next(), 0ms);
  EXPECT_EQ(zero.next(), 0ms);
}

TEST(RestartBudget, AllowsTheLimitWithinTheIntervalThenRefuses) {
  welld::RestartPolicy p;
  p.limit = 2;
  p.interval = 10s;
  welld::RestartBudget budget(p);
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_TRUE(budget.spend(t0));
  EXPECT_TRUE(budget.spend(t0 + 1s));
  EXPECT_FALSE(budget.spend(t0 + 2s));
  EXPECT_EQ(budget.used(t0 + 2s), 2U);
  // Once the first one is older than the interval, one more is allowed.
  EXPECT_TRUE(budget.spend(t0 + 10s));
  EXPECT_FALSE(budget.spend(t0 + 10s));
}

TEST(SupervisorState, FormatsAndParsesBack) {
  welld::SupervisorState s;
  s.supervisor = {1234, 99};
  s.phase = welld::SupervisorPhase::backoff;
  s.generation = 7;
  s.child = {0, 0};
  s.restarts = 6;
  s.last_status = W_EXITCODE(1, 0);
  s.delay_ms = 400;
  s.next_start_ms = 1800000000000;
  s.log_blocked = true;
  s.reason = "the program exited with status 1\nsecond line";
  s.log_error = "/var/log/x.log: No space left on device";
  auto back = welld::parse_supervisor_state(welld::format_supervisor_state(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->supervisor.pid, 1234);
  EXPECT_EQ(back->supervisor.start_time, 99U);
  EXPECT_EQ(back->phase, welld::SupervisorPhase::backoff);
  EXPECT_EQ(back->generation, 7U);
  EXPECT_EQ(back->restarts, 6U);
  EXPECT_EQ(back->last_status, W_EXITCODE(1, 0));
  EXPECT_EQ(back->delay_ms, 400);
  EXPECT_EQ(back->next_start_ms, 1800000000000);
  EXPECT_TRUE(back->log_blocked);
  EXPECT_EQ(back->reason, "the program exited with status 1 second line");  // one line
  EXPECT_EQ(back->log_error, s.log_error);
}

TEST(SupervisorState, TheLastEndsReasonIsKeptAndAbsentByDefault) {
  welld::SupervisorState s;
  s.last_status = SIGABRT;
  s.last_end_reason = "watchdog timeout";
  std::string text = welld::format_supervisor_state(s);
  EXPECT_NE(text.find("\nlast-end-reason watchdog timeout\n"), std::string::npos) << text;
  auto back = welld::parse_supervisor_state(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->last_end_reason, "watchdog timeout");
  std::string plain = welld::format_supervisor_state({});
  EXPECT_EQ(plain.find("last-end-reason"), std::string::npos) << plain;
  EXPECT_EQ(welld::parse_supervisor_state(plain)->last_end_reason, "");
}

TEST(SupervisorState, GarbageAndDuplicatesAreRefused) {
  std::string good = welld::format_supervisor_state({});
  EXPECT_TRUE(welld::parse_supervisor_state(good));
  EXPECT_TRUE(welld::parse_supervisor_state(good + "some-future-key 1\n"));
  EXPECT_FALSE(welld::parse_supervisor_state(""));
  EXPECT_FALSE(welld::parse_supervisor_state("welld-supervisor 2\n"));
  EXPECT_FALSE(welld::parse_supervisor_state(good + "phase running\n"));  // duplicate
  EXPECT_FALSE(welld::parse_supervisor_state(good + "restarts x\n"));
  EXPECT_FALSE(welld::parse_supervisor_state(good + "no-newline 1"));
  EXPECT_FALSE(welld::parse_supervisor_state("welld-supervisor 1\nphase running\n"));  // no supervisor line
  EXPECT_FALSE(welld::parse_supervisor_state("welld-supervisor 1\nsupervisor 1 1\nphase dancing\n"));
}

TEST(SupervisorState, IsReadBesideThePidFileUnderItsTrustRules) {
  t::TempDir dir;
  std::string pidfile = dir / "svc.pid";
  EXPECT_EQ(welld::supervisor_state_path(pidfile), dir / ".svc.pid.supervisor");
  std::string why;
  EXPECT_FALSE(welld::read_supervisor_state(pidfile, &why));
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;
  welld::SupervisorState s;
  s.supervisor = {42, 7};
  s.phase = welld::SupervisorPhase::running;
  std::string path = welld::supervisor_state_path(pidfile);
  t::write_file(path, welld::format_supervisor_state(s));
  ::chmod(path.c_str(), 0644);
  auto read = welld::read_supervisor_state(pidfile, &why);
  ASSERT_TRUE(read) << why;
  EXPECT_EQ(read->supervisor.pid, 42);
  ::chmod(path.c_str(), 0666);  // writable by others: not believed
  EXPECT_FALSE(welld::read_supervisor_state(pidfile, &why));
  EXPECT_NE(why.find("writable by others"), std::string::npos) << why;
  ::chmod(path.c_str(), 0644);
  welld::remove_supervisor_state(pidfile, {42, 8});  // someone else's: kept
  EXPECT_TRUE(t::exists(path));
  welld::remove_supervisor_state(pidfile, {42, 7});
  EXPECT_FALSE(t::exists(path));
}

}  // namespace
