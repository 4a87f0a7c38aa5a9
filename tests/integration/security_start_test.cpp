// Security of the start path (issue 13): a hostile daemon (tests/helpers/
// hostile_daemon.cpp) attacks the `welld start` that waits for it over
// sd_notify. welld must record and signal only processes it pinned, keep a
// forking hand-off's child, survive a datagram flood, and say clearly why a
// start cannot work.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>

#include "support/test_support.hpp"
#include "welld/readiness.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;
using Clock = std::chrono::steady_clock;

namespace {

bool wait_for_file(const std::string& path, std::chrono::milliseconds timeout = 60s) {
  auto deadline = Clock::now() + timeout;
  while (!t::exists(path)) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A process of ours whose PID is exactly `wanted` (a PID just freed by the
// hostile daemon), running signal_recorder LOG, or an empty guard when the
// PID could not be taken. Uses /proc/sys/kernel/ns_last_pid (root): the next
// fork gets ns_last_pid + 1, unless another process forks first, so retry.
t::ProcessGuard take_pid(pid_t wanted, const std::string& log) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    int fd = ::open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string text = std::to_string(wanted - 1);
    bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!written) return {};
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::getpid() != wanted) ::_exit(0);
      ::dup2(ready[1], 1);
      ::execl(SIGNAL_RECORDER_PATH, "signal_recorder", log.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(ready[1]);
    if (pid == wanted) {
      t::ProcessGuard guard(pid);
      char buf[16] = {};
      ssize_t n = ::read(ready[0], buf, sizeof buf - 1);  // "ready": its handlers are installed
      ::close(ready[0]);
      if (n > 0) return guard;
      return {};
    }
    ::close(ready[0]);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
  return {};
}

// The hostile daemon, runnable by `nobody`, and a directory it can write to.
struct HostileSetup {
  t::TempDir dir;
  std::string program;
  std::string shared;  // world-writable scratch directory for the helper's files
  HostileSetup() {
    program = t::copy_for_anyone(dir, HOSTILE_DAEMON_PATH);
    shared = dir / "x";
    ::mkdir(shared.c_str(), 0777);
    ::chmod(shared.c_str(), 0777);
  }
};

// Item 1: MAINPID= of a child the daemon then kills, its PID reused by an
// unrelated process. `then` is what the daemon says afterwards (ready|errno).
void reused_main_pid(const std::string& then) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (--user nobody, ns_last_pid)";
  HostileSetup h;
  std::string pidfile = h.dir / "d.pid";
  auto started = std::async(std::launch::async, [&] {
    return t::welld_cli({"start", "-p", pidfile, "--user", "nobody", "--ready=notify", "--ready-timeout", "60s", "--",
                         h.program, "--pidfile-out", h.shared + "/self.pid", "reuse-mainpid", h.shared, then});
  });
  ASSERT_TRUE(wait_for_file(h.shared + "/victim")) << "the hostile daemon did not free its child's PID";
  t::ProcessGuard daemon(t::pid_in(h.shared + "/self.pid"));
  pid_t victim = t::pid_in(h.shared + "/victim");
  std::string log = h.dir / "signals.log";
  t::write_file(log, "");
  t::ProcessGuard stranger = take_pid(victim, log);
  t::write_file(h.shared + "/go", "");
  t::RunResult r = started.get();
  if (stranger.pid() != victim) GTEST_SKIP() << "could not make PID " << victim << " reused";
  if (then == "ready") {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(t::pid_in(pidfile), victim) << "the PID file names the unrelated process that reused the PID";
    EXPECT_EQ(t::pid_in(pidfile), daemon.pid());
    auto stopped = t::welld_cli({"stop", "-p", pidfile});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  } else {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("ERRNO=5"), std::string::npos) << r.err;
    EXPECT_TRUE(daemon.wait_gone(10s)) << "the failed daemon is still running";
  }
  EXPECT_TRUE(t::alive(victim)) << "the unrelated process was killed";
  EXPECT_EQ(t::read_file(log), "") << "the unrelated process was signalled";
}

TEST(SecurityStart, ReusedMainPidIsNeverRecordedInThePidfile) { reused_main_pid("ready"); }

TEST(SecurityStart, ReusedMainPidIsNeverSignalledByTheCleanUp) { reused_main_pid("errno"); }

// Item 6: MAINPID=child, READY=1, exit at once, 30 times over.
TEST(SecurityStart, ForkingHandOffKeepsTheChildEveryTime) {
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    HostileSetup h;
    std::string pidfile = h.dir / "d.pid";
    auto r = t::welld_cli({"start", "-p", pidfile, "--ready=notify", "--", h.program, "--pidfile-out",
                           h.shared + "/self.pid", "handoff", h.shared + "/child.pid"});
    ASSERT_TRUE(wait_for_file(h.shared + "/child.pid", 10s));
    t::ProcessGuard child(t::pid_in(h.shared + "/child.pid"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(t::pid_in(pidfile), child.pid()) << "the PID file does not name the announced child";
    auto stat = t::proc_stat(child.pid());
    ASSERT_GT(stat.size(), 4U);
    EXPECT_NE(stat[3], "Z");
    EXPECT_NE(stat[4], std::to_string(r.pid)) << "still a child of the exited welld";
    EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 0);
    auto stopped = t::welld_cli({"stop", "-p", pidfile});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_TRUE(child.wait_gone(10s));
    EXPECT_FALSE(t::exists(pidfile));
  }
}

// The clean-up after ERRNO= stops the pinned main process (and the daemon).
TEST(SecurityStart, ErrnoAfterMainPidStopsTheMainProcessAndTheDaemon) {
  HostileSetup h;
  auto r = t::welld_cli({"start", "-p", h.dir / "d.pid", "--ready=notify", "--", h.program, "--pidfile-out",
                         h.shared + "/self.pid", "errno-after-mainpid", h.shared + "/child.pid"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_TRUE(wait_for_file(h.shared + "/child.pid", 10s));
  t::ProcessGuard child(t::pid_in(h.shared + "/child.pid"));
  t::ProcessGuard daemon(t::pid_in(h.shared + "/self.pid"));
  EXPECT_TRUE(child.wait_gone(10s)) << "the announced main process was left running";
  EXPECT_TRUE(daemon.wait_gone(10s)) << "the daemon was left running";
  EXPECT_FALSE(t::exists(h.dir / "d.pid"));
}

// Item 22: the notify drain loop re-checks the deadline under a flood.
TEST(SecurityStart, DatagramFloodCannotHoldTheStartPastItsTimeout) {
  HostileSetup h;
  auto r = t::welld_cli({"start", "-p", h.dir / "d.pid", "--ready=notify", "--ready-timeout", "1s", "--", h.program,
                         "--pidfile-out", h.shared + "/self.pid", "flood"},
                        60s);
  t::ProcessGuard daemon(t::pid_in(h.shared + "/self.pid"));
  EXPECT_FALSE(r.timed_out) << "welld start was still draining datagrams after 60 s";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("did not become ready in time"), std::string::npos) << r.err;
  EXPECT_TRUE(daemon.wait_gone(10s));
  EXPECT_FALSE(t::exists(h.dir / "d.pid"));
}

// Item 15: SIGPIPE while printing STATUS= to a closed pipe does not kill welld.
TEST(SecurityStart, StatusLinesToAClosedPipeDoNotKillTheStart) {
  HostileSetup h;
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ::close(out[0]);  // like `welld start ... | true` once true has exited
  pid_t welld = ::fork();
  if (welld == 0) {
    ::dup2(out[1], 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execl(WELLD_CLI_PATH, "welld", "start", "--ready=notify", "-p", (h.dir / "d.pid").c_str(), "--",
            h.program.c_str(), "--pidfile-out", (h.shared + "/self.pid").c_str(), "status-then-ready", "200", nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  t::ProcessGuard welld_guard(welld);
  int status = 0;
  ASSERT_EQ(::waitpid(welld, &status, 0), welld);
  t::ProcessGuard daemon(t::pid_in(h.shared + "/self.pid"));
  ASSERT_FALSE(WIFSIGNALED(status)) << "welld start was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(t::pid_in(h.dir / "d.pid"), daemon.pid());
  EXPECT_TRUE(t::alive(daemon.pid()));
}

// Item 9: the waiter keeps the daemon's pidfd; after it reaped the daemon, a
// signal through it fails (ESRCH) and never reaches a reuser of the PID.
TEST(SecurityStart, TheWaitersPinnedDaemonIsNeverAReusedPid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ns_last_pid)";
  t::TempDir dir;
  welld::ReadinessWaiter waiter(*welld::parse_ready_spec("notify"));
  welld::Options options;
  ASSERT_FALSE(waiter.prepare(options));
  pid_t child = ::fork();
  if (child == 0) ::_exit(7);
  welld::ReadyResult r = waiter.wait(child, 30s, -1);
  ASSERT_EQ(r.outcome, welld::ReadyOutcome::exited) << r.message();
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 7);
  EXPECT_FALSE(t::exists("/proc/" + std::to_string(child) + "/stat")) << "the waiter did not reap the daemon";
  std::string log = dir / "signals.log";
  t::write_file(log, "");
  t::ProcessGuard stranger = take_pid(child, log);
  if (stranger.pid() != child) GTEST_SKIP() << "could not make PID " << child << " reused";
  ASSERT_TRUE(waiter.daemon());
  EXPECT_EQ(waiter.daemon().signal(SIGTERM), std::error_code(ESRCH, std::system_category()));
  EXPECT_TRUE(t::alive(child));
  EXPECT_EQ(t::read_file(log), "");
}

// Item 22: an exec that fails with EAGAIN (RLIMIT_NPROC) is not "not installed".
#ifdef WELLD_FAULT_SHIM_PATH
TEST(SecurityStart, ExecFailingWithEagainIsAFailureNotNotInstalled) {
  t::TempDir dir;
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LD_PRELOAD=" WELLD_FAULT_SHIM_PATH,
                                  "WELLD_FAULT=execve:EAGAIN:1:grandchild:sleep",
                                  "WELLD_FAULT_LOG=" + (dir / "fault.log")};
  auto r = t::run({WELLD_CLI_PATH, "start", "-p", dir / "d.pid", "--", "/bin/sleep", "1000"}, 60s, env);
  EXPECT_NE(t::read_file(dir / "fault.log").find("fired execve"), std::string::npos) << "the fault did not fire";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "welld: start: cannot execute /bin/sleep: Resource temporarily unavailable\n");
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}
#endif

// Item 21: --ready=notify:/PATH works with --user, and a socket the daemon's
// user cannot reach is refused before anything starts, saying why.
TEST(SecurityStart, PathNotifySocketWorksWithUserAndAnUnreachableOneIsExplained) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (--user nobody)";
  HostileSetup h;
  std::string socket = h.dir / "run/notify.sock";
  ::mkdir((h.dir / "run").c_str(), 0755);
  auto r = t::welld_cli({"start", "-p", h.dir / "d.pid", "--user", "nobody", "--ready=notify:" + socket,
                         "--ready-timeout", "20s", "--", h.program, "--pidfile-out", h.shared + "/self.pid",
                         "status-then-ready", "1"});
  t::ProcessGuard daemon(t::pid_in(h.shared + "/self.pid"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(t::exists(socket)) << "the socket was left behind";

  std::string hidden = h.dir / "private/notify.sock";
  ::mkdir((h.dir / "private").c_str(), 0700);
  auto refused = t::welld_cli({"start", "-p", h.dir / "e.pid", "--user", "nobody", "--ready=notify:" + hidden,
                               "--ready-timeout", "20s", "--", h.program, "--pidfile-out", h.shared + "/other.pid",
                               "status-then-ready", "1"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(refused.err, "welld: start: cannot prepare readiness (notify:" + hidden +
                             "): user nobody cannot reach the socket: no search permission on " + h.dir.path() +
                             "/private\n");
  EXPECT_FALSE(t::exists(h.shared + "/other.pid")) << "the daemon was started anyway";
  EXPECT_FALSE(t::exists(h.dir / "e.pid"));
}

}  // namespace

namespace {

// Item 15: every catchable signal whose default action ends the process,
// caught while welld start waits, rolls the daemon back, then exits 128 + n.
TEST(SecurityStart, EveryTerminatingSignalWhileWaitingRollsTheDaemonBack) {
  std::vector<int> sigs = {SIGHUP,    SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
                           SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO,   SIGPWR,  SIGSTKFLT};
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) sigs.push_back(sig);
  for (int sig : sigs) {
    SCOPED_TRACE("signal " + std::to_string(sig));
    t::TempDir dir;
    std::string self = dir / "self.pid";
    std::string pidfile = dir / "d.pid";
    std::string script = "echo $$ > ";
    script.append(self).append(".tmp && mv ").append(self).append(".tmp ").append(self).append(" && exec sleep 1000");
    int err[2];
    ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
    pid_t welld = ::fork();
    if (welld == 0) {
      ::dup2(err[1], 2);
      ::execl(WELLD_CLI_PATH, "welld", "start", "--ready=notify", "-p", pidfile.c_str(), "--", "/bin/sh", "-c",
              script.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(err[1]);
    t::ProcessGuard welld_guard(welld);
    ASSERT_TRUE(wait_for_file(self));
    ASSERT_TRUE(wait_for_file(dir / "d.pid"));
    t::ProcessGuard daemon(t::pid_in(self));
    ASSERT_EQ(::kill(welld, sig), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(welld, &status, 0), welld);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    char buf[512] = {};
    ssize_t n = ::read(err[0], buf, sizeof buf - 1);
    ::close(err[0]);
    EXPECT_GT(n, 0);
    EXPECT_NE(std::string(buf).find("while waiting; stopped the daemon"), std::string::npos) << buf;
    EXPECT_TRUE(daemon.wait_gone(10s)) << "the half-started daemon is still running";
    EXPECT_FALSE(t::exists(dir / "d.pid"));
  }
}

// Item 20: --ready=fd:N on a --listen socket's fd is refused before anything starts.
TEST(SecurityStart, ReadyFdCollidingWithAListenSocketIsRefused) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  std::string marker = dir / "started";
  auto r = t::welld_cli({"start", "-p", dir / "d.pid", "--listen", "tcp:127.0.0.1:" + std::to_string(port),
                         "--ready=fd:3", "--", "/bin/sh", "-c", "touch " + marker + "; echo >&3; exec sleep 1000"});
  t::ProcessGuard daemon(r.exit_code == 0 ? t::pid_in(dir / "d.pid") : -1);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err,
            "welld: start: --ready=fd:3 collides with the --listen socket at fd 3 (the sockets take fds 3 to 3); "
            "use fd:4 or higher, or plain --ready=fd\n");
  EXPECT_FALSE(t::exists(marker)) << "the daemon was started";
  EXPECT_FALSE(t::exists(dir / "d.pid"));
  // The library refuses it too (EBUSY) for callers that fill pass_fds themselves.
  welld::ReadinessWaiter waiter(*welld::parse_ready_spec("fd:3"));
  welld::Options options;
  options.pass_fds.push_back({0, 3});
  EXPECT_EQ(waiter.prepare(options), std::error_code(EBUSY, std::system_category()));
}

}  // namespace
