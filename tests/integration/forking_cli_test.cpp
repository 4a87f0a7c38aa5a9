// --forking --program-pidfile: a self-forking program (systemd's
// Type=forking) under welld run (welld, a subreaper or PID 1, supervises the
// server its program left behind) and welld start (the server's identity is
// recorded in welld's PID file), with tests/helpers/forking_daemon. The
// program's own PID file is never trusted: a PID outside the tree, a
// symbolic link, a parent that fails and a file that never comes are refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "welld/unique_fd.hpp"

namespace t = welld::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kForking = FORKING_DAEMON_PATH;

std::vector<std::string> base_env() { return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}; }

std::vector<std::string> welld(const std::string& verb, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {WELLD_CLI_PATH, verb};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The same command as the PID 1 of a new PID namespace (its own /proc).
std::vector<std::string> as_pid1(const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool can_be_pid1() {
  static const bool ok = ::geteuid() == 0 && t::run(as_pid1({"/bin/true"}), 30s).exit_code == 0;
  return ok;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

// A process the test started, its stdout and stderr in one pipe; the guard ends it.
struct Started {
  pid_t pid = -1;
  welld::UniqueFd out;
  t::ProcessGuard guard;

  int exit_code(std::chrono::milliseconds timeout = 60s) const {
    int status = -1;
    bool ended = wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    return ended && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

Started start(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env = base_env();
  std::vector<char*> envp = {env[0].data(), nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();  // no controlling terminal: welld run gives COMMAND a session of its own
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Started s;
  s.pid = pid;
  s.out = welld::UniqueFd(fds[0]);
  s.guard.reset(pid);
  return s;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

pid_t parent_of(pid_t pid) {
  auto stat = t::proc_stat(pid);  // 1-based: field 4 is the PPid
  return stat.size() > 4 ? static_cast<pid_t>(std::strtol(stat[4].c_str(), nullptr, 10)) : -1;
}

// The server the program's PID file names, once it is `welld`'s child.
pid_t server_adopted_by(pid_t welld_pid, const std::string& pidfile) {
  pid_t server = -1;
  wait_for([&] {
    server = t::pid_in(pidfile);
    return server > 0 && parent_of(server) == welld_pid;
  });
  return server;
}

// The lines of the server's log that end with `word`.
size_t lines_with(const std::string& log, const std::string& word) {
  std::istringstream in(t::exists(log) ? t::read_file(log) : "");
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.ends_with(" " + word) ? 1 : 0;
  return n;
}

// ---- welld run --------------------------------------------------------------------------

TEST(ForkingCli, RunSupervisesTheServerForwardsSignalsAndExitsWithItsStatus) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  std::string log = dir / "server.log";
  Started s = start(welld("run", {"--forking", "--program-pidfile", pidfile, "--", kForking, "ok", pidfile, log}));
  pid_t server = server_adopted_by(s.pid, pidfile);
  ASSERT_GT(server, 0) << "the server is welld's child once its parent exited";
  t::ProcessGuard server_guard(server);
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, "usr1") == 1; })) << "USR1 forwarded to the server";
  ASSERT_EQ(::kill(s.pid, SIGHUP), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, "hup") == 1; }));
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 42) << "the server's own exit status";
  EXPECT_TRUE(server_guard.wait_gone(10s));
}

TEST(ForkingCli, RunWithAFailingParentExitsWithItsCodeAndLeavesNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  auto r = t::run(welld("run", {"--forking", "--program-pidfile", pidfile, "--grace", "10s", "--", kForking, "fail",
                                pidfile, dir / "log"}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.err;
  pid_t server = t::pid_in(pidfile);
  ASSERT_GT(server, 0);
  EXPECT_FALSE(t::alive(server)) << "the server a failed start left is stopped";
}

TEST(ForkingCli, RunRefusesAPidOutsideItsTree) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  t::ProcessGuard outsider = t::sleeping_child();
  auto r = t::run(welld("run", {"--forking", "--program-pidfile", pidfile, "--ready-timeout", "2s", "--", kForking,
                                "outside", pidfile, dir / "log", std::to_string(outsider.pid())}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("names pid " + std::to_string(outsider.pid()) + ", which is not a new process of the program"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(t::alive(outsider.pid())) << "the process outside the tree is never signalled";
}

TEST(ForkingCli, RunRefusesASymlinkedPidfile) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  auto r = t::run(welld("run", {"--forking", "--program-pidfile", pidfile, "--ready-timeout", "2s", "--", kForking,
                                "symlink", pidfile, dir / "log"}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("a symbolic link (refused)"), std::string::npos) << r.err;
  pid_t server = t::pid_in(pidfile + ".target");
  ASSERT_GT(server, 0);
  EXPECT_FALSE(t::alive(server));
}

TEST(ForkingCli, RunWhenThePidfileNeverComesGivesUpAtTheReadyTimeout) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  auto begin = std::chrono::steady_clock::now();
  auto r = t::run(welld("run", {"--forking", "--program-pidfile", pidfile, "--ready-timeout", "1s", "--", kForking,
                                "never", pidfile, dir / "log"}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 900ms);
  EXPECT_NE(r.err.find("did not become ready in time (" + pidfile + ": No such file or directory)"), std::string::npos)
      << r.err;
}

TEST(ForkingCli, RunAsPid1SupervisesTheServerAndExitsWithItsStatus) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  std::string log = dir / "server.log";
  Started s = start(
      as_pid1(welld("run", {"--forking", "--program-pidfile", pidfile, "--", kForking, "ok", pidfile, log})));
  // welld is unshare's child (PID 1 inside); the server, once adopted, is welld's.
  pid_t init = -1;
  ASSERT_TRUE(wait_for([&] {
    auto children = t::children_of(s.pid);
    init = children.empty() ? -1 : children.front();
    return init > 0;
  }));
  pid_t server = -1;
  ASSERT_TRUE(wait_for([&] {
    auto children = t::children_of(init);
    server = children.empty() ? -1 : children.front();
    return server > 0 && t::exists(pidfile) && t::proc_status(server)["Name"] == "forking_daemon";
  }));
  ASSERT_EQ(::kill(init, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, "usr1") == 1; })) << "ready as PID 1, and USR1 forwarded";
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 42) << read_all(s.out.get());
}

TEST(ForkingCli, RunWithRespawnStartsTheProgramAgainWhenItsServerDies) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  std::string log = dir / "log";
  Started s = start(
      welld("run", {"--respawn", "--forking", "--program-pidfile", pidfile, "--", kForking, "ok", pidfile, log}));
  pid_t first = server_adopted_by(s.pid, pidfile);
  ASSERT_GT(first, 0);
  // The server is adopted before its start is over, and a first start whose
  // server dies fails for good: the forwarded USR1 says the start is over.
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  ASSERT_TRUE(wait_for([&] { return lines_with(log, "usr1") == 1; }));
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  pid_t second = -1;
  ASSERT_TRUE(wait_for([&] {
    second = t::pid_in(pidfile);
    return second > 0 && second != first && parent_of(second) == s.pid;
  }));
  t::ProcessGuard second_guard(second);
  // A signal during a start waits for readiness: its arrival says the restart is over.
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, "usr1") == 2; }));
  EXPECT_NE(t::read_file(log).find(std::to_string(second) + " usr1"), std::string::npos);
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 42);
}

TEST(ForkingCli, OptionsThatContradictForkingAreRefused) {
  t::TempDir dir;
  std::string pidfile = dir / "server.pid";
  auto no_file = t::run(welld("start", {"-p", dir / "w.pid", "--forking", "--", kForking, "ok", pidfile, dir / "l"}));
  EXPECT_EQ(no_file.exit_code, 2) << no_file.err;
  EXPECT_NE(no_file.err.find("--forking and --program-pidfile FILE go together"), std::string::npos) << no_file.err;
  auto ready = t::run(welld("start", {"-p", dir / "w.pid", "--forking", "--program-pidfile", pidfile, "--ready=notify",
                                      "--", kForking, "ok", pidfile, dir / "l"}));
  EXPECT_EQ(ready.exit_code, 2) << ready.err;
  auto same = t::run(welld(
      "start", {"-p", pidfile, "--forking", "--program-pidfile", pidfile, "--", kForking, "ok", pidfile, dir / "l"}));
  EXPECT_EQ(same.exit_code, 2) << same.err;
  EXPECT_NE(same.err.find("cannot be welld's --pidfile"), std::string::npos) << same.err;
  auto group = t::run(welld(
      "run", {"--forking", "--program-pidfile", pidfile, "--process-group", "--", kForking, "ok", pidfile, dir / "l"}));
  EXPECT_EQ(group.exit_code, 125) << group.err;
  EXPECT_FALSE(t::exists(pidfile)) << "nothing was started";
}

// ---- welld start ------------------------------------------------------------------------

TEST(ForkingCli, StartRecordsTheServersIdentityAndStopEndsIt) {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string pidfile = dir / "server.pid";
  auto r = t::run(welld("start", {"-p", ours, "--forking", "--program-pidfile", pidfile, "--", kForking, "ok", pidfile,
                                  dir / "log"}),
                  60s, base_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t server = t::pid_in(pidfile);
  ASSERT_GT(server, 0);
  t::ProcessGuard server_guard(server);
  EXPECT_EQ(t::pid_in(ours), server) << "welld's PID file names the server, not the program's exited parent";
  auto status = t::run(welld("status", {"-p", ours}), 60s, base_env());
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  auto stop = t::run(welld("stop", {"-p", ours}), 60s, base_env());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(server_guard.wait_gone(10s));
  EXPECT_FALSE(t::exists(ours));
}

TEST(ForkingCli, StartRefusesAPidOutsideItsTreeAndLeavesNothing) {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string pidfile = dir / "server.pid";
  t::ProcessGuard outsider = t::sleeping_child();
  auto r = t::run(welld("start", {"-p", ours, "--forking", "--program-pidfile", pidfile, "--ready-timeout", "2s", "--",
                                  kForking, "outside", pidfile, dir / "log", std::to_string(outsider.pid())}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("which is not a new process of the program"), std::string::npos) << r.err;
  EXPECT_TRUE(t::alive(outsider.pid()));
  EXPECT_FALSE(t::exists(ours));
}

TEST(ForkingCli, StartWithAFailingParentFailsAndLeavesNothing) {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string pidfile = dir / "server.pid";
  auto r = t::run(welld("start", {"-p", ours, "--forking", "--program-pidfile", pidfile, "--", kForking, "fail",
                                  pidfile, dir / "log"}),
                  60s, base_env());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("exited with status 3 before it was ready"), std::string::npos) << r.err;
  pid_t server = t::pid_in(pidfile);
  ASSERT_GT(server, 0);
  EXPECT_FALSE(t::alive(server));
  EXPECT_FALSE(t::exists(ours));
}

TEST(ForkingCli, StartWithRespawnSupervisesTheServer) {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string pidfile = dir / "server.pid";
  auto r = t::run(welld("start", {"-p", ours, "--respawn", "--forking", "--program-pidfile", pidfile, "--", kForking,
                                  "ok", pidfile, dir / "log"}),
                  60s, base_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t supervisor = t::pid_in(ours);
  ASSERT_GT(supervisor, 0);
  t::ProcessGuard supervisor_guard(supervisor);
  pid_t first = server_adopted_by(supervisor, pidfile);
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  pid_t second = -1;
  EXPECT_TRUE(wait_for([&] {
    second = t::pid_in(pidfile);
    return second > 0 && second != first && parent_of(second) == supervisor;
  }));
  auto stop = t::run(welld("stop", {"-p", ours}), 60s, base_env());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(supervisor_guard.wait_gone(20s));
  EXPECT_FALSE(t::alive(second));
}

// A SIGKILLed supervisor has no time to stop its program; the server of a
// forking program is not its child and outlives it. Whoever comes next for
// that PID file ends it: a start (no second copy beside it), or a stop.
struct Abandoned {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string pidfile = dir / "server.pid";
  pid_t server = -1;
  std::vector<std::string> start_argv() const {
    return welld("start", {"-p", ours, "--respawn", "--forking", "--program-pidfile", pidfile, "--", kForking, "ok",
                           pidfile, dir / "log"});
  }
  // Starts the supervisor, then SIGKILLs it once its server is adopted.
  void leave_a_server() {
    auto r = t::run(start_argv(), 60s, base_env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    pid_t supervisor = t::pid_in(ours);
    ASSERT_GT(supervisor, 0);
    t::ProcessGuard supervisor_guard(supervisor);
    server = server_adopted_by(supervisor, pidfile);
    ASSERT_GT(server, 0);
    ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
    ASSERT_TRUE(supervisor_guard.wait_gone(20s));
    ASSERT_TRUE(t::alive(server)) << "the server outlives its SIGKILLed supervisor";
  }
};

TEST(ForkingCli, StartAfterItsSupervisorWasKilledEndsTheServerItLeftFirst) {
  Abandoned a;
  ASSERT_NO_FATAL_FAILURE(a.leave_a_server());
  t::ProcessGuard old_server(a.server);
  auto r = t::run(a.start_argv(), 60s, base_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(a.server) + " was left running by a supervisor that was killed"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(old_server.wait_gone(20s)) << "no second server beside the one the killed supervisor left";
  pid_t supervisor = t::pid_in(a.ours);
  ASSERT_GT(supervisor, 0);
  t::ProcessGuard supervisor_guard(supervisor);
  pid_t second = server_adopted_by(supervisor, a.pidfile);
  EXPECT_GT(second, 0);
  EXPECT_NE(second, a.server);
  auto stop = t::run(welld("stop", {"-p", a.ours}), 60s, base_env());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(supervisor_guard.wait_gone(20s));
  EXPECT_FALSE(t::alive(second));
}

TEST(ForkingCli, StopOfAKilledSupervisorsPidfileEndsTheServerItLeft) {
  Abandoned a;
  ASSERT_NO_FATAL_FAILURE(a.leave_a_server());
  t::ProcessGuard old_server(a.server);
  auto stop = t::run(welld("stop", {"-p", a.ours}), 60s, base_env());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("ended pid " + std::to_string(a.server) + ", left running by its killed supervisor"),
            std::string::npos)
      << stop.out;
  EXPECT_TRUE(old_server.wait_gone(20s));
  EXPECT_FALSE(t::exists(a.ours));
}

}  // namespace
