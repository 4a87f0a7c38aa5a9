// Issue 13 item 7, as a user meets it: `SECRET_TOKEN=x simpleservice -D` (and
// the foreground mode) must not leave the caller's secret in the service's
// /proc/PID/environ, which shows the original environment block.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

std::vector<std::string> caller_env() {
  return {"PATH=/usr/bin:/bin", "SECRET_TOKEN=x-sEcReT", "LANG=C.UTF-8", "HOME=/root-sEcReT"};
}

TEST(SimpleServiceEnvironment, DaemonShowsNoneOfTheCallersDroppedVariables) {
  t::TempDir dir;
  std::string pidfile = dir / "s.pid";
  auto r = t::run({SIMPLESERVICE_PATH, "-D", "--pidfile", pidfile}, 60s, caller_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  std::string raw = t::read_file("/proc/" + std::to_string(guard.pid()) + "/environ");
  EXPECT_EQ(raw.find("sEcReT"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("SECRET_TOKEN"), std::string::npos) << raw;
  EXPECT_NE(raw.find("LANG=C.UTF-8"), std::string::npos) << raw;
}

TEST(SimpleServiceEnvironment, ForegroundShowsNoneOfTheCallersDroppedVariables) {
  t::TempDir dir;
  std::string pidfile = dir / "s.pid";
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  std::vector<std::string> env = caller_env();
  env.emplace_back("NOTIFY_SOCKET=@welld-test-none");  // the manager's: kept in the foreground
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::execle(SIMPLESERVICE_PATH, "simpleservice", "--pidfile", pidfile.c_str(), nullptr, envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  t::ProcessGuard guard(pid);
  std::string seen = t::read_until(out[0], "Hello!");
  ASSERT_NE(seen.find("Hello!"), std::string::npos) << "simpleservice ended before saying Hello";
  std::string raw = t::read_file("/proc/" + std::to_string(pid) + "/environ");
  EXPECT_EQ(raw.find("sEcReT"), std::string::npos) << raw;
  EXPECT_NE(raw.find("LANG=C.UTF-8"), std::string::npos) << raw;
  EXPECT_NE(raw.find("NOTIFY_SOCKET=@welld-test-none"), std::string::npos) << raw;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(out[0]);
}

}  // namespace
