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

t::RunResult welld_cli(std::vector<std::string> args) {
  args.insert(args.begin(), WELLD_CLI_PATH);
  return t::run(args, 120s);
}

pid_t pid_in(const std::string& file) {
  std::string text = t::read_file(file);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

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

Start start(const t::TempDir& dir, std::vector<std::string> options, std::vector<std::string> command) {
  std::vector<std::string> args = {"start", "-p", dir / "d.pid"};
  args.insert(args.end(), options.begin(), options.end());
  args.emplace_back("--");
  args.insert(args.end(), command.begin(), command.end());
  Start s;
  auto begin = Clock::now();
  s.result = welld_cli(args);
  s.took = Clock::now() - begin;
  if (s.result.exit_code == 0) s.daemon.reset(pid_in(dir / "d.pid"));
  if (t::exists(dir / "self.pid")) s.helper_self.reset(pid_in(dir / "self.pid"));
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
  auto shown = welld_cli({"status", "-p", dir / "d.pid"});
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
  pid_t main = pid_in(dir / "d.pid");
  t::ProcessGuard main_guard(main);
  EXPECT_NE(main, s.helper_self.pid()) << "MAINPID= was not taken";
  EXPECT_EQ(welld_cli({"status", "-p", dir / "d.pid"}).exit_code, 0);
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
  EXPECT_EQ(pid_in(dir / "d.pid"), s.helper_self.pid()) << "a spoofed MAINPID= was believed";
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
    t::ProcessGuard helper(pid_in(dir / "self.pid"));
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

TEST(Readiness, SpecParsing) {
  std::string error;
  EXPECT_TRUE(welld::parse_ready_spec("exec"));
  EXPECT_TRUE(welld::parse_ready_spec("notify"));
  EXPECT_EQ(welld::parse_ready_spec("fd")->fd, -1);
  EXPECT_EQ(welld::parse_ready_spec("fd:7")->fd, 7);
  auto v6 = welld::parse_ready_spec("tcp:[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(welld::parse_ready_spec("tcp:80")->host, "127.0.0.1");
  for (const char* bad : {"", "tcp:", "tcp:0", "tcp:65536", "tcp:localhost:80", "fd:2", "fd:x",
                          "unix:", "file:", "notify:relative", "exec:1", "bogus", "tcp:[::1]80"}) {
    EXPECT_FALSE(welld::parse_ready_spec(bad, &error)) << bad;
  }
  auto r = welld_cli({"start", "--ready=bogus", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid --ready mode 'bogus'"), std::string::npos);
}

TEST(Readiness, NotifyDatagramParser) {
  auto m = welld::parse_notify_datagram("READY=1\nSTATUS=up and running\nERRNO=17\nMAINPID=42\nX_UNKNOWN=1\ngarbage\n");
  EXPECT_TRUE(m.ready);
  EXPECT_EQ(*m.status, "up and running");
  EXPECT_EQ(*m.errno_value, 17);
  EXPECT_EQ(*m.main_pid, 42);
  EXPECT_EQ(m.ignored, 2);
  auto bad = welld::parse_notify_datagram("MAINPID=-1\nMAINPID=1\nERRNO=abc\nEXTEND_TIMEOUT_USEC=1e9\nREADY=2");
  EXPECT_FALSE(bad.ready);
  EXPECT_FALSE(bad.main_pid);
  EXPECT_FALSE(bad.errno_value);
  EXPECT_FALSE(bad.extend_timeout_us);
}

TEST(Readiness, NotifyDatagramNumbersNeverOverflow) {
  // Found by fuzzing: 19 digits overflowed long long (undefined behaviour),
  // and came out negative: a negative ERRNO= or EXTEND_TIMEOUT_USEC=.
  auto m = welld::parse_notify_datagram(
      "MAINPID=9999999999999999999\nERRNO=9999999999999999999\nEXTEND_TIMEOUT_USEC=9999999999999999999\n");
  EXPECT_FALSE(m.main_pid);
  EXPECT_FALSE(m.errno_value);
  EXPECT_FALSE(m.extend_timeout_us);
  EXPECT_EQ(m.ignored, 3);
  auto max = welld::parse_notify_datagram("MAINPID=2147483647\nERRNO=4095\nEXTEND_TIMEOUT_USEC=1125899906842624");
  EXPECT_EQ(max.main_pid, 2147483647);
  EXPECT_EQ(max.errno_value, 4095);
  EXPECT_EQ(max.extend_timeout_us, 1LL << 50);
  EXPECT_FALSE(welld::parse_notify_datagram("EXTEND_TIMEOUT_USEC=1125899906842625").extend_timeout_us);
}

TEST(Readiness, SpecErrorsAreOneLineAndNulsAreRefused) {
  // Found by fuzzing: the input was echoed raw, NULs and newlines included.
  std::string error;
  EXPECT_FALSE(welld::parse_ready_spec(std::string("tcp:\0\0[::1]:8080", 16), &error));
  EXPECT_EQ(error.find('\0'), std::string::npos);
  EXPECT_FALSE(welld::parse_ready_spec("bogus\n\x1b[31mred", &error));
  EXPECT_EQ(error,
            "invalid --ready mode 'bogus??[31mred' (exec, notify[:@NAME|PATH], fd[:N], tcp:[HOST:]PORT, "
            "unix:PATH, file:PATH)");
  // Found by fuzzing: a NUL cut the host or the notify socket name short.
  EXPECT_FALSE(welld::parse_ready_spec(std::string("tcp:127.0.0.1\0junk:80"s)));
  EXPECT_FALSE(welld::parse_ready_spec(std::string("notify:@name\0more"s)));
  EXPECT_TRUE(welld::parse_ready_spec(std::string("notify:@name", 12)));
  auto r = welld_cli({"start", "--ready=bogus\nwelld: start: started", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
