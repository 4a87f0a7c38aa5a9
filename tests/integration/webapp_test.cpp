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

TEST(Webapp, DaemonServesReloadsAndStops) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  std::string pidfile = dir / "w.pid", log = dir / "w.log", message = dir / "message";
  t::write_file(message, "first message\n");
  auto r = t::run({WEBAPP_PATH, "-D", "--pidfile", pidfile, "--message", message, "--log", log}, 60s,
                  env_with({"PORT=" + std::to_string(port)}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(pidfile);
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
  t::ProcessGuard guard(t::pid_in(pidfile));
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
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  EXPECT_EQ(t::proc_status(pid)["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(t::proc_status(pid)["CapEff"], "0000000000000000");
  EXPECT_NE(curl(port).find("pid " + std::to_string(pid)), std::string::npos);
}

}  // namespace
