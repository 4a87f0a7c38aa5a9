// welld start --ready=...: returns exactly when the daemon is ready, and
// cleans up when it never is. The notify client is libsystemd's sd_notify.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "support/test_support.hpp"
#include "welld/notify.hpp"
#include "welld/readiness.hpp"

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace t = welld::test;
using Clock = std::chrono::steady_clock;

namespace {

bool tcp_connects(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A start with readiness; the daemon (by its own PID file) is cleaned up.
struct Start {
  t::RunResult result;
  Clock::duration took{};
  t::ProcessGuard daemon;
  t::ProcessGuard helper_self;  // from --pidfile-out, when given
};

Start start(const t::TempDir& dir, std::vector<std::string> options, std::vector<std::string> command,
            const std::optional<std::vector<std::string>>& env = std::nullopt) {
  std::vector<std::string> args = {"start", "-p", dir / "d.pid"};
  args.insert(args.end(), options.begin(), options.end());
  args.emplace_back("--");
  args.insert(args.end(), command.begin(), command.end());
  Start s;
  auto begin = Clock::now();
  s.result = t::welld_cli(args, 120s, env);
  s.took = Clock::now() - begin;
  if (s.result.exit_code == 0) s.daemon.reset(t::pid_in(dir / "d.pid"));
  if (t::exists(dir / "self.pid")) s.helper_self.reset(t::pid_in(dir / "self.pid"));
  return s;
}

std::vector<std::string> client(const t::TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {SD_NOTIFY_CLIENT_PATH, "--pidfile-out", dir / "self.pid"});
  return args;
}

TEST(Readiness, NotifyReturnsOnlyOnceReadyAndTheServiceAnswersAtOnce) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  Start s = start(dir, {"--ready=notify"},
                  client(dir, {"--delay", "1000", "--listen-tcp", std::to_string(port), "--send", "STATUS=listening",
                               "--send", "READY=1"}));
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  EXPECT_TRUE(tcp_connects(port)) << "welld returned before the service listened";
  EXPECT_GE(s.took, 900ms) << "welld returned before READY=1";
  EXPECT_NE(s.result.out.find("listening"), std::string::npos) << "STATUS= was not shown: " << s.result.out;
  EXPECT_EQ(s.daemon.pid(), s.helper_self.pid());
}

TEST(Readiness, DaemonChosenTextReachesTheTerminalWithoutControlCharacters) {
  t::TempDir dir;
  // An escape sequence (retitles a terminal), a bell, a carriage return and
  // UTF-8, in STATUS= and in the daemon's command line.
  std::string status = "STATUS=\x1b]0;owned\x07 up\r ok \xc3\xbc";
  Start s = start(dir, {"--ready=notify"}, client(dir, {"--send", status, "--send", "READY=1"}));
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  EXPECT_NE(s.result.out.find(": ?]0;owned? up? ok \xc3\xbc\n"), std::string::npos) << s.result.out;
  auto shown = t::welld_cli({"status", "-p", dir / "d.pid"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("STATUS=?]0;owned? up? ok \xc3\xbc"), std::string::npos) << shown.out;
  for (const auto* out : {&s.result.out, &shown.out}) {
    EXPECT_EQ(out->find_first_of("\x1b\x07\r"), std::string::npos) << *out;
  }
}

TEST(Readiness, AbstractAndPathNotifySockets) {
  t::TempDir dir;
  std::string abstract = "@welld-test-" + std::to_string(::getpid());
  Start a = start(dir, {"--ready=notify:" + abstract}, client(dir, {"--send", "READY=1"}));
  ASSERT_EQ(a.result.exit_code, 0) << a.result.err;
  auto env = t::proc_environ(a.daemon.pid());
  EXPECT_NE(std::find(env.begin(), env.end(), "NOTIFY_SOCKET=" + abstract), env.end());
  t::TempDir dir2;
  std::string path = dir2 / "notify.sock";
  Start p = start(dir2, {"--ready=notify:" + path}, client(dir2, {"--send", "READY=1"}));
  ASSERT_EQ(p.result.exit_code, 0) << p.result.err;
  EXPECT_FALSE(t::exists(path)) << "the path socket was left behind";
}

TEST(Readiness, NeverReadyTimesOutAndLeavesNothing) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=notify", "--ready-timeout", "1s"}, client(dir, {}));
  EXPECT_EQ(s.result.exit_code, 1);
  EXPECT_EQ(s.result.err, "welld: start: the daemon did not become ready in time (1s); stopped it\n");
  EXPECT_FALSE(t::exists(dir / "d.pid"));
  ASSERT_GT(s.helper_self.pid(), 0);
  EXPECT_TRUE(s.helper_self.wait_gone(10s)) << "the half-started daemon is still running";
}

TEST(Readiness, CrashBeforeReadyIsReported) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=notify"}, client(dir, {"--send", "STATUS=about to crash", "--crash"}));
  EXPECT_EQ(s.result.exit_code, 1);
  EXPECT_NE(s.result.err.find("the daemon was killed by signal 6 (SIGABRT) before it was ready"), std::string::npos)
      << s.result.err;
  EXPECT_FALSE(t::exists(dir / "d.pid"));
  Start e = start(dir, {"--ready=notify"}, {"/bin/sh", "-c", "exit 4"});
  EXPECT_NE(e.result.err.find("exited with status 4 before it was ready"), std::string::npos) << e.result.err;
}

TEST(Readiness, ErrnoIsFailure) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=notify"}, client(dir, {"--send", "ERRNO=2"}));
  EXPECT_EQ(s.result.exit_code, 1);
  EXPECT_EQ(s.result.err, "welld: start: the daemon reported failure: ERRNO=2 (No such file or directory)\n");
  EXPECT_TRUE(s.helper_self.wait_gone(10s));
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(Readiness, ExtendTimeoutIsHonoured) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=notify", "--ready-timeout", "500ms"},
                  client(dir, {"--send", "EXTEND_TIMEOUT_USEC=20000000", "--delay", "1500", "--send", "READY=1"}));
  EXPECT_EQ(s.result.exit_code, 0) << s.result.err;
}

TEST(Readiness, MainPidFromTheDaemonsTreeIsAccepted) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=notify"}, client(dir, {"--fork-main", "--send", "READY=1"}));
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  pid_t main = t::pid_in(dir / "d.pid");
  t::ProcessGuard main_guard(main);
  EXPECT_NE(main, s.helper_self.pid()) << "MAINPID= was not taken";
  EXPECT_EQ(t::welld_cli({"status", "-p", dir / "d.pid"}).exit_code, 0);
}

TEST(Readiness, SpoofedAndGarbageDatagramsAreIgnored) {
  t::TempDir dir;
  std::string address = "@welld-spoof-" + std::to_string(::getpid());
  std::thread spoofer([&] {
    // From this (unrelated) process: READY=1, ERRNO, garbage, an oversized datagram.
    auto until = Clock::now() + 800ms;
    std::string big(8192, 'A');
    std::string binary("\0\xff\n=\n==READY=1\x01", 14);
    while (Clock::now() < until) {
      for (std::string_view d :
           std::initializer_list<std::string_view>{"READY=1", "ERRNO=5", big, binary, "MAINPID=1\nREADY=1"}) {
        welld::notify_socket(address, d);
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  Start s = start(dir, {"--ready=notify:" + address}, client(dir, {"--delay", "1500", "--send", "READY=1"}));
  spoofer.join();
  EXPECT_EQ(s.result.exit_code, 0) << s.result.err;
  EXPECT_GE(s.took, 1400ms) << "a spoofed READY=1 was believed";
  EXPECT_EQ(t::pid_in(dir / "d.pid"), s.helper_self.pid()) << "a spoofed MAINPID= was believed";
}

TEST(Readiness, S6FdMode) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=fd"}, {"/bin/sh", "-c", "sleep 0.5; echo >&3; exec sleep 1000"});
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  EXPECT_GE(s.took, 400ms);
  t::TempDir dir2;
  Start five = start(dir2, {"--ready=fd:5"}, {"/bin/sh", "-c", "echo ready >&5; exec sleep 1000"});
  EXPECT_EQ(five.result.exit_code, 0) << five.result.err;
  t::TempDir dir3;
  Start closed = start(dir3, {"--ready=fd"}, {"/bin/sh", "-c", "exec 3>&-; exec sleep 1000"});
  EXPECT_EQ(closed.result.exit_code, 1);
  EXPECT_NE(closed.result.err.find("closed its readiness fd without writing a newline"), std::string::npos);
  EXPECT_FALSE(t::exists(dir3 / "d.pid"));
}

TEST(Readiness, TcpUnixAndFileModes) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  Start tcp = start(dir, {"--ready=tcp:" + std::to_string(port)},
                    client(dir, {"--delay", "500", "--listen-tcp", std::to_string(port)}));
  ASSERT_EQ(tcp.result.exit_code, 0) << tcp.result.err;
  EXPECT_GE(tcp.took, 400ms);
  EXPECT_TRUE(tcp_connects(port));

  t::TempDir dir2;
  std::string sock = dir2 / "s.sock";
  Start unix_mode = start(dir2, {"--ready=unix:" + sock}, client(dir2, {"--delay", "300", "--listen-unix", sock}));
  EXPECT_EQ(unix_mode.result.exit_code, 0) << unix_mode.result.err;
  EXPECT_GE(unix_mode.took, 250ms);

  t::TempDir dir3;
  std::string flag = dir3 / "sub/ready";
  ::mkdir((dir3 / "sub").c_str(), 0755);
  Start file = start(dir3, {"--ready=file:" + flag},
                     {"/bin/sh", "-c", "sleep 0.3; touch " + flag + "; exec sleep 1000"});
  EXPECT_EQ(file.result.exit_code, 0) << file.result.err;
  EXPECT_GE(file.took, 250ms);
  EXPECT_TRUE(t::exists(flag));
}

TEST(Readiness, InterruptedWhileWaitingCleansUp) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    t::TempDir dir;
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    pid_t welld = ::fork();
    if (welld == 0) {
      ::dup2(out[1], 2);
      ::execl(WELLD_CLI_PATH, "welld", "start", "--ready=notify", "-p", (dir / "d.pid").c_str(), "--",
              SD_NOTIFY_CLIENT_PATH, "--pidfile-out", (dir / "self.pid").c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    t::ProcessGuard welld_guard(welld);
    // Interrupt once the daemon is up and waiting (it wrote its own PID).
    auto deadline = Clock::now() + 30s;
    while (!(t::exists(dir / "self.pid") && t::exists(dir / "d.pid")) && Clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    t::ProcessGuard helper(t::pid_in(dir / "self.pid"));
    ASSERT_EQ(::kill(welld, sig), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(welld, &status, 0), welld);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    char buf[512] = {};
    ssize_t n = ::read(out[0], buf, sizeof buf - 1);
    ::close(out[0]);
    EXPECT_GT(n, 0);
    EXPECT_NE(std::string(buf).find("while waiting; stopped the daemon"), std::string::npos) << buf;
    EXPECT_TRUE(helper.wait_gone(10s));
    EXPECT_FALSE(t::exists(dir / "d.pid"));
  }
}

TEST(Readiness, StartRefusesAnInvalidModeAsAUsageError) {
  auto r = t::welld_cli({"start", "--ready=bogus", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid --ready mode 'bogus'"), std::string::npos);
}

TEST(Readiness, AnInvalidModeIsOneLineOnTheTerminal) {
  auto r = t::welld_cli({"start", "--ready=bogus\nwelld: start: started", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// ---- without pidfd_open (Linux before 5.3, valgrind): the fault shim -------------------

#ifdef WELLD_FAULT_SHIM_PATH

// An environment where every pidfd_open fails with ENOSYS, in welld and in
// everything it starts; the shim logs each one to `log`.
std::vector<std::string> without_pidfd_open(const std::string& log) {
  return {"PATH=/usr/bin:/bin", "LD_PRELOAD=" WELLD_FAULT_SHIM_PATH, "WELLD_FAULT=pidfd_open:ENOSYS:all:any",
          "WELLD_FAULT_LOG=" + log};
}

// One readiness mode: a daemon that becomes ready after a delay and stays, and
// one that exits with `status` first.
struct ModeCase {
  std::string name;
  std::string option;
  std::vector<std::string> ready_daemon;
  std::vector<std::string> exiting_daemon;
};

std::vector<ModeCase> mode_cases(const t::TempDir& dir, int port) {
  std::string flag = dir / "ready.flag";
  std::string sock = dir / "s.sock";
  std::string late = "sleep 0.3; ";
  return {
      {"notify", "--ready=notify", client(dir, {"--delay", "300", "--send", "READY=1"}), {"/bin/sh", "-c", "exit 4"}},
      {"fd", "--ready=fd", {"/bin/sh", "-c", late + "echo >&3; exec sleep 1000"}, {"/bin/sh", "-c", "exit 4"}},
      // A child keeps the fd open: the exit itself must be noticed.
      {"fd, kept open by a child", "--ready=fd", {}, {"/bin/sh", "-c", "sleep 1000 & sleep 0.3; exit 4"}},
      {"tcp",
       "--ready=tcp:" + std::to_string(port),
       client(dir, {"--delay", "300", "--listen-tcp", std::to_string(port)}),
       {"/bin/sh", "-c", "sleep 0.3; exit 4"}},
      {"unix",
       "--ready=unix:" + sock,
       client(dir, {"--delay", "300", "--listen-unix", sock}),
       {"/bin/sh", "-c", "sleep 0.3; exit 4"}},
      {"file",
       "--ready=file:" + flag,
       {"/bin/sh", "-c", late + "touch " + flag + "; exec sleep 1000"},
       {"/bin/sh", "-c", "sleep 0.3; exit 4"}},
  };
}

constexpr size_t kModeCases = 6;

// Each mode sees a live daemon become ready (not "exited" at once, as an
// always-readable /proc/PID handle would make it), and stop ends it.
TEST(ReadinessWithoutPidfdOpen, EachModeWaitsForALiveDaemonAndStopEndsIt) {
  for (size_t i = 0; i < kModeCases; ++i) {
    t::TempDir dir;
    ModeCase c = mode_cases(dir, t::free_tcp_port())[i];
    if (c.ready_daemon.empty()) continue;
    SCOPED_TRACE(c.name);
    std::string log = dir / "fault.log";
    Start s = start(dir, {c.option, "--ready-timeout", "60s"}, c.ready_daemon, without_pidfd_open(log));
    ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
    EXPECT_GE(s.took, 250ms) << "welld returned before the daemon was ready";
    EXPECT_NE(t::read_file(log).find("fired pidfd_open 38 depth 0"), std::string::npos) << t::read_file(log);
    ASSERT_GT(s.daemon.pid(), 1);
    EXPECT_TRUE(t::alive(s.daemon.pid()));
    auto stop = t::welld_cli({"stop", "-p", dir / "d.pid"}, 60s, without_pidfd_open(log));
    EXPECT_EQ(stop.exit_code, 0) << stop.err;
    EXPECT_TRUE(s.daemon.wait_gone(10s));
    EXPECT_FALSE(t::exists(dir / "d.pid"));
  }
}

// Each mode reports a daemon that exits before it is ready, with its exit
// status (welld start's daemon is its child: welld is its subreaper), soon
// after the exit, and leaves no PID file.
TEST(ReadinessWithoutPidfdOpen, EachModeReportsAnEarlyExitWithItsStatus) {
  for (size_t i = 0; i < kModeCases; ++i) {
    t::TempDir dir;
    ModeCase c = mode_cases(dir, t::free_tcp_port())[i];
    SCOPED_TRACE(c.name);
    std::string log = dir / "fault.log";
    Start s = start(dir, {c.option, "--ready-timeout", "60s"}, c.exiting_daemon, without_pidfd_open(log));
    EXPECT_EQ(s.result.exit_code, 1);
    EXPECT_NE(s.result.err.find("exited with status 4 before it was ready"), std::string::npos) << s.result.err;
    EXPECT_LT(s.took, 20s) << "the exit was noticed only at the timeout";
    EXPECT_NE(t::read_file(log).find("fired pidfd_open 38 depth 0"), std::string::npos) << t::read_file(log);
    EXPECT_FALSE(t::exists(dir / "d.pid"));
  }
}

// fd mode: a daemon that closes the fd without a newline and lives on is a
// failure, not an exit.
TEST(ReadinessWithoutPidfdOpen, AnFdClosedWithoutANewlineIsAFailureNotAnExit) {
  t::TempDir dir;
  Start s = start(dir, {"--ready=fd"}, {"/bin/sh", "-c", "exec 3>&-; exec sleep 1000"},
                  without_pidfd_open(dir / "fault.log"));
  EXPECT_EQ(s.result.exit_code, 1);
  EXPECT_NE(s.result.err.find("closed its readiness fd without writing a newline"), std::string::npos) << s.result.err;
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

#endif

}  // namespace
