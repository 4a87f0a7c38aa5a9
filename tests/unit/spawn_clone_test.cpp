// The clone machinery (spawn_clone.hpp): spawn_daemon's children (clone with
// CLONE_VM) never write the caller's memory, checked on a plan after a real
// spawn.
#include "spawn_clone.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "after_fork.hpp"
#include "daemon_plan.hpp"
#include "support/test_support.hpp"
#include "welld/daemon.hpp"

using namespace std::chrono_literals;
using welld::Options;
namespace d = welld::detail;
namespace t = welld::test;

namespace {

// Reads the reports of one spawn until EOF; the daemon's PID, or -1.
pid_t daemon_pid_from(int fd) {
  pid_t pid = -1;
  d::Report r{};
  for (;;) {
    ssize_t n = ::read(fd, &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof r)) return pid;
    if (r.kind == d::ReportKind::pid) pid = r.pid;
    if (r.kind == d::ReportKind::failed) return -1;
  }
}

// A daemon cloned from a plan of `sleep 30` with the intermediate reaped, and
// the plan's strings and pointers as they were before the clone: the children
// must not have written any of the caller's memory.
struct Cloned {
  d::Plan plan;
  std::vector<std::string> strings;
  std::vector<char*> pointers;
  t::ProcessGuard guard;
  std::vector<std::string> env;  // the daemon's, after its exec

  bool has(const std::string& entry) const { return std::find(env.begin(), env.end(), entry) != env.end(); }
  bool planned(const std::string& entry) const {
    return std::find(strings.begin(), strings.end(), entry) != strings.end();
  }
};

void clone_sleep(const Options& o, Cloned& c) {
  ASSERT_FALSE(d::make_plan(o, c.plan));
  ASSERT_FALSE(d::plan_exec({"sleep", "30"}, c.plan));
  c.strings = c.plan.env_strings;
  c.pointers = c.plan.envp;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  int err = 0;
  const char* what = "";
  pid_t intermediate = d::clone_daemon(c.plan, fds[1], err, what);
  ::close(fds[1]);
  ASSERT_GT(intermediate, 0) << err << " " << what;
  pid_t daemon = daemon_pid_from(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(intermediate, &status, 0), intermediate);
  ASSERT_GT(daemon, 0);
  c.guard.reset(daemon);
  ASSERT_TRUE(t::wait_for_exec(daemon));
  c.env = t::proc_environ(daemon);
}

TEST(SpawnClone, TheChildrenLeaveThePlanUnchangedAndTheDaemonGetsItsOwnListenPid) {
  t::TempDir dir;
  Options o;
  o.listen_pid = true;
  o.chdir = dir.path();
  o.environment.set = {"WELLD_PLAN_TEST=1"};
  Cloned c;
  ASSERT_NO_FATAL_FAILURE(clone_sleep(o, c));
  EXPECT_TRUE(c.planned("LISTEN_PID=0000000000"));
  EXPECT_EQ(c.plan.env_strings, c.strings);
  EXPECT_EQ(c.plan.envp, c.pointers);
  EXPECT_TRUE(c.has("LISTEN_PID=" + std::to_string(c.guard.pid())));
  EXPECT_TRUE(c.has("WELLD_PLAN_TEST=1"));
}

TEST(SpawnClone, TheDaemonGetsItsOwnWatchdogPidBesideItsListenPid) {
  t::TempDir dir;
  Options o;
  o.listen_pid = true;
  o.watchdog_pid = true;
  o.chdir = dir.path();
  o.environment.set = {"WATCHDOG_USEC=5000000"};
  Cloned c;
  ASSERT_NO_FATAL_FAILURE(clone_sleep(o, c));
  EXPECT_TRUE(c.planned("WATCHDOG_PID=0000000000"));
  EXPECT_EQ(c.plan.env_strings, c.strings);
  EXPECT_EQ(c.plan.envp, c.pointers);
  std::string daemon = std::to_string(c.guard.pid());
  EXPECT_TRUE(c.has("WATCHDOG_PID=" + daemon));
  EXPECT_TRUE(c.has("LISTEN_PID=" + daemon));
  EXPECT_TRUE(c.has("WATCHDOG_USEC=5000000"));
  EXPECT_EQ(
      std::count_if(c.env.begin(), c.env.end(), [](const std::string& e) { return e.starts_with("WATCHDOG_PID="); }),
      1);
}

}  // namespace
