// examples/webapp and socket activation, checked with curl.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "support/test_support.hpp"
#include "welld/listen.hpp"
#include "welld/notify.hpp"

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace t = welld::test;

namespace {

std::string curl(int port) {
  auto r = t::run({"/usr/bin/curl", "-s", "--max-time", "20", "http://127.0.0.1:" + std::to_string(port) + "/"});
  return r.out;
}

std::vector<std::string> env_with(std::vector<std::string> extra) {
  extra.emplace_back("PATH=/usr/bin:/bin");
  return extra;
}

pid_t pid_in(const std::string& file) {
  std::string text = t::read_file(file);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

TEST(Webapp, DaemonServesReloadsAndStops) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  std::string pidfile = dir / "w.pid", log = dir / "w.log", message = dir / "message";
  t::write_file(message, "first message\n");
  auto r = t::run({WEBAPP_PATH, "-D", "--pidfile", pidfile, "--message", message, "--log", log}, 60s,
                  env_with({"PORT=" + std::to_string(port)}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = pid_in(pidfile);
  t::ProcessGuard guard(pid);
  // Ready when -D returned: it answers at once.
  std::string page = curl(port);
  EXPECT_NE(page.find("<h1>first message</h1>"), std::string::npos) << page;
  EXPECT_NE(page.find("pid " + std::to_string(pid) + ", mode daemon"), std::string::npos) << page;

  t::write_file(message, "second message\n");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (t::read_file(log).find("reloaded message from") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(t::read_file(log).find("reloaded message from " + message), std::string::npos);
  EXPECT_NE(curl(port).find("<h1>second message</h1>"), std::string::npos);

  auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_TRUE(guard.wait_gone(30s));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s) << "TERM did not stop it promptly";
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_NE(t::read_file(log).find("stopped"), std::string::npos);
}

TEST(Webapp, BadPortIsAClearUsageError) {
  for (std::string bad : {"0", "65536", "abc", "-1", "", "80x"}) {
    auto r = t::run({WEBAPP_PATH}, 60s, env_with({"PORT=" + bad}));
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(r.err, "webapp: invalid PORT '" + bad + "' (a number from 1 to 65535)\n");
  }
}

TEST(Webapp, UnderWelldWithNotifyIsReadyWhenStartReturns) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  std::string pidfile = dir / "w.pid";
  auto r = t::run({WELLD_CLI_PATH, "start", "--ready=notify", "-p", pidfile, "--env", "PORT=" + std::to_string(port),
                   "--", WEBAPP_PATH});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(pid_in(pidfile));
  EXPECT_NE(curl(port).find("mode foreground"), std::string::npos);
  EXPECT_EQ(t::run({WELLD_CLI_PATH, "stop", "-p", pidfile}).exit_code, 0);
}

TEST(Webapp, SocketActivationWithPrivilegesDropped) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a port below 1024, --user nobody)";
  t::TempDir dir;
  int port = t::free_privileged_port(900, 999);  // privileges_test takes 800-899
  ASSERT_GT(port, 0) << "no free port in 900-999 on 127.0.0.1";
  std::string listen = "tcp:127.0.0.1:" + std::to_string(port);
  std::string webapp = t::copy_for_anyone(dir, WEBAPP_PATH);
  std::string pidfile = dir / "w.pid";
  auto r = t::run(
      {WELLD_CLI_PATH, "start", "--ready=notify", "-p", pidfile, "--listen", listen, "--user", "nobody", "--", webapp});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = pid_in(pidfile);
  t::ProcessGuard guard(pid);
  EXPECT_EQ(t::proc_status(pid)["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(t::proc_status(pid)["CapEff"], "0000000000000000");
  EXPECT_NE(curl(port).find("pid " + std::to_string(pid)), std::string::npos);
}

TEST(Listen, BindErrorsFailBeforeForking) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  std::string spec = "tcp:127.0.0.1:" + std::to_string(port);
  auto r = t::run({WELLD_CLI_PATH, "start", "-p", dir / "w.pid", "--listen", spec, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: cannot bind " + spec + ": Address already in use\n");
  EXPECT_FALSE(t::exists(dir / "w.pid"));
  ::close(holder);
  std::string regular = dir / "file";
  t::write_file(regular, "x");
  auto r2 = t::run({WELLD_CLI_PATH, "start", "-p", dir / "w.pid", "--listen", "unix:" + regular, "--", "/bin/true"});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.err.find("the path exists and is not a socket"), std::string::npos) << r2.err;
  EXPECT_EQ(t::read_file(regular), "x");
  for (std::string bad : {"tcp:", "tcp:0", "tcp:host:80", "udp:53", "unix:", "tcp:[::1]"}) {
    auto u = t::run({WELLD_CLI_PATH, "start", "--listen", bad, "--", "/bin/true"});
    EXPECT_EQ(u.exit_code, 2) << bad;
    EXPECT_NE(u.err.find("invalid --listen"), std::string::npos) << u.err;
  }
}

TEST(Listen, SpecErrorsAreOneLineAndNulsAreRefused) {
  // Found by fuzzing: the input was echoed raw, NULs and newlines included.
  std::string error;
  EXPECT_FALSE(welld::parse_listen_spec(std::string("tcp:0.\x05\xff\xff\0\xbb.0.0:80", 18), &error));
  EXPECT_EQ(error.find('\0'), std::string::npos) << error;
  EXPECT_FALSE(welld::parse_listen_spec("tcp:[::1\n]:80", &error));
  EXPECT_EQ(error, "invalid --listen 'tcp:[::1?]:80': HOST must be a numeric IPv4 or IPv6 address");
  // Found by fuzzing: a NUL cut the host short, and the rest was ignored.
  EXPECT_FALSE(welld::parse_listen_spec("tcp:127.0.0.1\0junk:80"s));
  EXPECT_FALSE(welld::parse_listen_spec("tcp:[::\0\0]:80"s));
}

TEST(Listen, ListenFdsFollowsSdListenFds) {
  pid_t child = ::fork();
  if (child == 0) {
    int a = ::socket(AF_INET, SOCK_STREAM, 0);
    int b = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ::dup2(a, 3);
    ::dup2(b, 4);
    ::setenv("LISTEN_FDS", "2", 1);
    ::setenv("LISTEN_FDNAMES", "web:admin", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
    if (!welld::listen_fds().empty()) ::_exit(10);  // not for us
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    auto fds = welld::listen_fds(true);
    if (fds.size() != 2 || fds[0].fd != 3 || fds[0].name != "web" || fds[1].fd != 4 || fds[1].name != "admin") {
      ::_exit(11);
    }
    if ((::fcntl(3, F_GETFD) & FD_CLOEXEC) == 0) ::_exit(12);
    if (std::getenv("LISTEN_FDS") != nullptr || std::getenv("LISTEN_PID") != nullptr) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
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
