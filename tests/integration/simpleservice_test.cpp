// examples/simpleservice as a user runs it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "support/test_support.hpp"
#include "welld/notify.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

TEST(SimpleService, DaemonStartsUpAndStopsPromptlyOnTerm) {
  t::TempDir dir;
  std::string pidfile = dir / "s.pid";
  std::string log = dir / "s.log";
  auto r = t::run({SIMPLESERVICE_PATH, "-D", "--pidfile", pidfile, "--log", log}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Up when the start returned: the PID file names a live process.
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  ASSERT_TRUE(t::alive(pid));
  EXPECT_NE(r.out.find("daemon started (pid " + std::to_string(pid) + ")"), std::string::npos);

  auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_TRUE(guard.wait_gone(30s));
  auto took = std::chrono::steady_clock::now() - asked;
  // No sleep(1) polling: the stop interrupts the one-second wait. The bound is
  // wide for loaded CI machines; the measured figure is printed.
  EXPECT_LT(took, 900ms);
  std::cout << "stopped in " << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us\n";
  EXPECT_FALSE(t::exists(pidfile)) << "PID file left behind";
  std::string lines = t::read_file(log);
  EXPECT_NE(lines.find("Hello!"), std::string::npos) << lines;
  EXPECT_NE(lines.find("stopping"), std::string::npos) << lines;
}

TEST(SimpleService, SecondStartSaysAlreadyRunning) {
  t::TempDir dir;
  std::string pidfile = dir / "s.pid";
  auto first = t::run({SIMPLESERVICE_PATH, "-D", "--pidfile", pidfile}, 60s);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  auto second = t::run({SIMPLESERVICE_PATH, "-D", "--pidfile", pidfile}, 60s);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(second.err, "simpleservice: already running (pid " + std::to_string(pid) + ")\n");
}

TEST(SimpleService, ForegroundPrintsHelloAndStopsOnTerm) {
  t::TempDir dir;
  std::string pidfile = dir / "s.pid";
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::execl(SIMPLESERVICE_PATH, "simpleservice", "--pidfile", pidfile.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  t::ProcessGuard guard(pid);
  std::string seen = t::read_until(out[0], "Hello!");
  ASSERT_NE(seen.find("Hello!"), std::string::npos) << "simpleservice ended before saying Hello";
  EXPECT_EQ(t::read_file(pidfile), std::to_string(pid) + "\n");
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(t::exists(pidfile));
  ::close(out[0]);
}

TEST(SimpleService, UsageErrors) {
  auto r = t::run({SIMPLESERVICE_PATH, "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: simpleservice"), std::string::npos);
  auto empty = t::run({SIMPLESERVICE_PATH, "--pidfile", ""});
  EXPECT_EQ(empty.exit_code, 2);
}

TEST(Foreground, NotifiesReadyAndStoppingUnderSystemd) {
  welld::NotifyServer server;
  ASSERT_FALSE(welld::NotifyServer::open("", server));
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("NOTIFY_SOCKET", server.address().c_str(), 1);
    int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::execl(SIMPLESERVICE_PATH, "simpleservice", nullptr);
    ::_exit(127);
  }
  t::ProcessGuard guard(pid);
  auto next = [&]() -> std::optional<welld::NotifyServer::Datagram> {
    pollfd p{server.fd(), POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return std::nullopt;
    std::error_code ec;
    return server.receive(ec);
  };
  auto ready = next();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->sender, pid);
  EXPECT_TRUE(ready->message.ready);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  auto stopping = next();
  ASSERT_TRUE(stopping);
  EXPECT_TRUE(stopping->message.stopping);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
