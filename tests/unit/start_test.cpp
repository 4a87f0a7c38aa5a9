// start_daemon, the start transaction, without the CLI: outcomes, the
// readiness fd after the listen sockets, rollback through the stop policy,
// the cancel fd, the program's last output and self-daemonizing programs.
#include "welld/start.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// Wait (up to 30 s) until `path` exists: the helper's own "I am running" mark.
bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 3000; ++i) {
    if (t::exists(path)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

welld::ReadySpec never_ready(const t::TempDir& dir) { return {.mode = welld::ReadyMode::file, .path = dir / "never"}; }

}  // namespace

TEST(StartDaemon, ExecModeStartsAndReturnsThePinnedIdentityInThePidFile) {
  t::TempDir dir;
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid"},
      .command = {"/bin/sleep", "600"},
  });
  t::ProcessGuard guard(r.main.pid);
  ASSERT_EQ(r.outcome, welld::StartOutcome::started) << r.message;
  EXPECT_TRUE(r);
  EXPECT_EQ(t::pid_in(dir / "d.pid"), r.main.pid);
  EXPECT_EQ(r.main.start_time, welld::process_start_time(r.main.pid));
  EXPECT_TRUE(r.stopped.empty());
}

TEST(StartDaemon, TheDefaultReadinessFdComesAfterTheListenSockets) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  ASSERT_GT(port, 0);
  welld::StartRequest request{
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true},
      // fd 3 is the socket: only a newline on fd 4 makes it ready.
      .command = {"/bin/sh", "-c", "test -S /proc/self/fd/3 && echo >&4; exec sleep 600"},
      .listen = {*welld::parse_listen_spec("tcp:127.0.0.1:" + std::to_string(port))},
      .ready = {.mode = welld::ReadyMode::fd},
      .ready_timeout = 30s,
  };
  welld::StartResult r = welld::start_daemon(request);
  t::ProcessGuard guard(r.main.pid);
  ASSERT_EQ(r.outcome, welld::StartOutcome::started) << r.message;
  EXPECT_EQ(t::proc_fds(r.main.pid).count(3), 1U);
}

TEST(StartDaemon, AnExplicitReadinessFdOnAListenSocketIsInvalidAndStartsNothing) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid"},
      .command = {"/bin/sleep", "600"},
      .listen = {*welld::parse_listen_spec("tcp:127.0.0.1:" + std::to_string(port))},
      .ready = {.mode = welld::ReadyMode::fd, .fd = 3},
  });
  EXPECT_EQ(r.outcome, welld::StartOutcome::invalid);
  EXPECT_EQ(r.status.step, welld::Step::prepare);
  EXPECT_EQ(r.status.pid, -1);
  EXPECT_NE(r.message.find("collides with the --listen socket at fd 3"), std::string::npos) << r.message;
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, ATimeoutRollsBackWithTheRequestedStopPolicy) {
  t::TempDir dir;
  // TERM ignored across exec: only the policy's SIGKILL ends it.
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true},
      .command = {"/bin/sh", "-c", "trap '' TERM; exec sleep 600"},
      .ready = never_ready(dir),
      .ready_timeout = 300ms,
      .rollback = {.signal = SIGTERM, .timeout = 200ms, .kill_timeout = 30s},
  });
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(r.outcome, welld::StartOutcome::timed_out) << r.message;
  EXPECT_EQ(r.message, "the daemon did not become ready in time (300ms); stopped it");
  EXPECT_EQ(r.rollback.outcome, welld::StopOutcome::killed) << r.rollback.reason;
  ASSERT_FALSE(r.stopped.empty());
  EXPECT_EQ(r.stopped.front(), r.status.pid);
  EXPECT_FALSE(t::alive(r.status.pid));
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, ACancelFdAlreadyReadableStartsNothing) {
  t::TempDir dir;
  int efd = ::eventfd(1, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid"},
      .command = {"/bin/sleep", "600"},
      .cancel_fd = efd,
  });
  ::close(efd);
  EXPECT_EQ(r.outcome, welld::StartOutcome::cancelled);
  EXPECT_EQ(r.status.pid, -1);
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, ACancelWhileWaitingStopsTheDaemon) {
  t::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::string up = dir / "up";
  // The library caller's own cancel: a pipe written once the daemon runs.
  std::thread canceller([&] {
    if (wait_for_file(up)) (void)!::write(fds[1], "x", 1);
  });
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true},
      .command = {"/bin/sh", "-c", "touch " + up + "; exec sleep 600"},
      .ready = never_ready(dir),
      .ready_timeout = 120s,
      .cancel_fd = fds[0],
  });
  canceller.join();
  ::close(fds[0]);
  ::close(fds[1]);
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(r.outcome, welld::StartOutcome::cancelled) << r.message;
  EXPECT_GT(r.status.pid, 0);
  EXPECT_FALSE(t::alive(r.status.pid));
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, AWatchedFdIsServedWhileWaitingAndCanCancelTheStart) {
  t::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  std::string up = dir / "up";
  // A supervisor's log pipe: written by the program, read by the caller's
  // handler during the wait; the third byte makes the handler cancel.
  int served = 0;
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true, .stdout_fd = fds[1]},
      .command = {"/bin/sh", "-c", "printf a; printf b; printf c; exec sleep 600"},
      .ready = never_ready(dir),
      .ready_timeout = 120s,
      .watch = {{fds[0],
                 [&] {
                   char buf[16];
                   ssize_t n = ::read(fds[0], buf, sizeof buf);
                   if (n > 0) served += static_cast<int>(n);
                   return served >= 3 ? welld::WatchAction::cancel : welld::WatchAction::keep;
                 }}},
  });
  ::close(fds[0]);
  ::close(fds[1]);
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(served, 3);
  EXPECT_EQ(r.outcome, welld::StartOutcome::cancelled) << r.message;
  EXPECT_FALSE(t::alive(r.status.pid));
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, ADroppedWatchIsNotServedAgain) {
  t::TempDir dir;
  int efd = ::eventfd(1, EFD_CLOEXEC);  // readable for good: a handler that cannot consume it
  ASSERT_GE(efd, 0);
  int calls = 0;
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true},
      .command = {"/bin/sleep", "600"},
      .ready = never_ready(dir),
      .ready_timeout = 300ms,
      .watch = {{efd,
                 [&] {
                   ++calls;
                   return welld::WatchAction::drop;
                 }}},
  });
  ::close(efd);
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(r.outcome, welld::StartOutcome::timed_out) << r.message;
  EXPECT_EQ(calls, 1);  // not a busy loop over an fd that stays readable
}

TEST(StartDaemon, AnExitBeforeReadyCarriesTheLastLinesWrittenSinceThisStart) {
  t::TempDir dir;
  std::string log = dir / "out.log";
  t::write_file(log, "a line of an earlier run\n");
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .stderr_path = log, .collect_exit_status = true},
      .command = {"/bin/sh", "-c", "echo 'cannot open /etc/x.conf' >&2; printf '\\033[2Jcleared\\n' >&2; exit 3"},
      .ready = never_ready(dir),
      .ready_timeout = 60s,
  });
  EXPECT_EQ(r.outcome, welld::StartOutcome::exited) << r.message;
  EXPECT_EQ(r.output_tail, (std::vector<std::string>{"cannot open /etc/x.conf", "?[2Jcleared"}));
  EXPECT_FALSE(r.output_discarded);
  EXPECT_EQ(r.message, "the daemon exited with status 3 before it was ready; its last output in " + log +
                           ": cannot open /etc/x.conf | ?[2Jcleared");
}

TEST(StartDaemon, TheTailIsBoundedToTheLastTenLines) {
  t::TempDir dir;
  std::string log = dir / "out.log";
  welld::StartResult r = welld::start_daemon({
      .options = {.stdout_path = log, .collect_exit_status = true},
      .command = {"/bin/sh", "-c", "i=1; while [ $i -le 30 ]; do echo line-$i.; i=$((i+1)); done; exit 1"},
      .ready = never_ready(dir),
  });
  EXPECT_EQ(r.outcome, welld::StartOutcome::exited) << r.message;
  ASSERT_EQ(r.output_tail.size(), 10U);
  EXPECT_EQ(r.output_tail.front(), "line-21.");
  EXPECT_EQ(r.output_tail.back(), "line-30.");
}

TEST(StartDaemon, OutputToDevNullIsSaid) {
  t::TempDir dir;
  welld::StartResult r = welld::start_daemon({
      .options = {.collect_exit_status = true},
      .command = {"/bin/sh", "-c", "echo lost >&2; exit 1"},
      .ready = never_ready(dir),
  });
  EXPECT_EQ(r.outcome, welld::StartOutcome::exited);
  EXPECT_TRUE(r.output_discarded);
  EXPECT_TRUE(r.output_tail.empty());
}

TEST(StartDaemon, AProgramThatForksAndExitsIsNamedAndWhatItLeftIsStopped) {
  t::TempDir dir;
  std::string child = dir / "child";
  // Not a subreaper: the child left behind is found in the daemon's session.
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid", .collect_exit_status = true},
      .command = {"/bin/sh", "-c", "sleep 600 & echo $! > " + child + "; exit 0"},
      .ready = never_ready(dir),
      .ready_timeout = 60s,
  });
  pid_t left = t::pid_in(child);
  t::ProcessGuard guard(left);
  EXPECT_EQ(r.outcome, welld::StartOutcome::daemonized_itself) << r.message;
  EXPECT_EQ(r.message.rfind("sh daemonizes itself: its main process exited with status 0 before it was ready", 0), 0U)
      << r.message;
  EXPECT_NE(r.message.find("run it in the foreground"), std::string::npos) << r.message;
  ASSERT_GT(left, 0);
  EXPECT_NE(std::find(r.stopped.begin(), r.stopped.end(), left), r.stopped.end());
  EXPECT_TRUE(guard.wait_gone(30s));
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, AFileAlreadyThereIsRefusedBeforeAnythingStarts) {
  t::TempDir dir;
  t::write_file(dir / "ready", "");
  welld::StartResult r = welld::start_daemon({
      .options = {.pidfile = dir / "d.pid"},
      .command = {"/bin/sleep", "600"},
      .ready = {.mode = welld::ReadyMode::file, .path = dir / "ready"},
  });
  EXPECT_EQ(r.outcome, welld::StartOutcome::not_prepared);
  EXPECT_EQ(r.status.step, welld::Step::ready);
  EXPECT_EQ(r.status.error, EEXIST);
  EXPECT_EQ(r.status.pid, -1);
  EXPECT_NE(r.message.find("already exists before the start"), std::string::npos) << r.message;
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(StartDaemon, AlreadyRunningIsAnOutcomeWithOkIfRunning) {
  t::TempDir dir;
  welld::StartRequest request{.options = {.pidfile = dir / "d.pid"}, .command = {"/bin/sleep", "600"}};
  welld::StartResult first = welld::start_daemon(request);
  t::ProcessGuard guard(first.main.pid);
  ASSERT_TRUE(first) << first.message;
  welld::StartResult refused = welld::start_daemon(request);
  EXPECT_EQ(refused.outcome, welld::StartOutcome::spawn_failed);
  EXPECT_TRUE(refused.status.already_running());
  request.ok_if_running = true;
  welld::StartResult ok = welld::start_daemon(request);
  EXPECT_EQ(ok.outcome, welld::StartOutcome::already_running);
  EXPECT_EQ(ok.main.pid, first.main.pid);
}
