// The seed's daemonize() interface (welld/daemonize.h) over welld, driven
// through seed_style_daemon, a C program written in the seed's style, and
// checked through /proc and the filesystem.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace t = welld::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kHelper = SEED_STYLE_DAEMON_PATH;

// The caller's environment: a secret the daemon must not see.
std::vector<std::string> dirty_env() { return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WELLD_TEST_SECRET=hunter2"}; }

// Reap our child `pid`, waiting at most `timeout`. The raw status, or -1.
int reap(pid_t pid, std::chrono::milliseconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int ws = 0;
    pid_t got = ::waitpid(pid, &ws, WNOHANG);
    if (got == pid) return ws;
    if (got < 0 && errno != EINTR) return -1;
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

// The PID a "pid N" file written by the helper names, or -1.
pid_t pid_in_file(const std::string& path) {
  if (!t::exists(path)) return -1;
  return static_cast<pid_t>(t::field_after(t::read_file(path), "pid").value_or(-1));
}

pid_t pid_in_pidfile(const std::string& path) {
  if (!t::exists(path)) return -1;
  return t::pid_in(path);
}

t::RunResult start(const std::string& pidfile, const char* init, const t::TempDir& dir, int exit_status,
                   const std::vector<std::string>& env = dirty_env()) {
  return t::run({kHelper, pidfile, init, dir.path(), std::to_string(exit_status)}, 60s, env);
}

// Until the daemon started by start() has ended its loop: stop file, reaped.
int stop_and_reap(const t::TempDir& dir, pid_t pid) {
  t::write_file(dir / "stop", "");
  return reap(pid);
}

}  // namespace

TEST(DaemonizeDropIn, ReturnsInitSuccessOnlyOnceInitializedAndTheDaemonIsProper) {
  t::TempDir dir;
  t::Subreaper subreaper;
  // A dirty caller: an inherited fd without close-on-exec, SIGUSR2 blocked, a
  // secret in the environment. The daemon must have none of them.
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int inherited = ::fcntl(null_fd, F_DUPFD, 40);  // F_DUPFD: no close-on-exec
  ::close(null_fd);
  ASSERT_GE(inherited, 40);
  sigset_t usr2, old;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr2, &old), 0);
  auto r = start(dir / "d.pid", "TRUE", dir, 0);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(inherited);

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "status 0 errno 0\n");
  EXPECT_EQ(r.err, "daemon initialized\n");
  // initialize_daemon takes 200 ms before it writes this: daemonize() returned after it.
  ASSERT_TRUE(t::exists(dir / "initialized"));
  pid_t pid = pid_in_file(dir / "initialized");
  t::ProcessGuard guard(pid);
  ASSERT_GT(pid, 1);
  EXPECT_EQ(pid_in_pidfile(dir / "d.pid"), pid);
  ASSERT_TRUE(t::alive(pid));

  auto stat = t::proc_stat(pid);
  ASSERT_GT(stat.size(), 6U);
  pid_t ppid = std::stoi(stat[4]);
  EXPECT_TRUE(ppid == 1 || ppid == ::getpid()) << "ppid " << ppid;
  EXPECT_NE(std::stoi(stat[6]), pid) << "the daemon is a session leader";
  EXPECT_NE(std::stoi(stat[6]), ::getsid(0)) << "the daemon is in the caller's session";
  EXPECT_EQ(stat[7], "0") << "the daemon has a controlling terminal";
  auto fds = t::proc_fds(pid);
  ASSERT_EQ(fds.size(), 3U);
  for (int fd = 0; fd < 3; ++fd) EXPECT_EQ(fds[fd], "/dev/null") << "fd " << fd;
  auto status = t::proc_status(pid);
  EXPECT_EQ(status["SigBlk"], "0000000000000000");
  EXPECT_EQ(t::read_file(dir / "environ"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
  EXPECT_EQ(t::proc_cwd(pid), "/");
  EXPECT_EQ(status["Umask"], "0000");

  int ws = stop_and_reap(dir, pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
}

TEST(DaemonizeDropIn, MainLoopReturnIsTheExitStatusAndThePidFileIsRemoved) {
  t::TempDir dir;
  t::Subreaper subreaper;
  auto r = start(dir / "d.pid", "TRUE", dir, 42);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_in_pidfile(dir / "d.pid");
  ASSERT_GT(pid, 1);
  ASSERT_EQ(pid_in_file(dir / "initialized"), pid);
  // Our unreaped child (we are its subreaper): the PID cannot be reused, and a
  // pidfd pins it for the signal.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0);
  EXPECT_TRUE(t::exists(dir / "d.pid"));
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0), 0);
  ::close(pidfd);
  int ws = reap(pid);
  ASSERT_TRUE(WIFEXITED(ws)) << ws;
  EXPECT_EQ(WEXITSTATUS(ws), 42);
  EXPECT_EQ(t::read_file(dir / "loop-ended"), "signal\n");
  EXPECT_FALSE(t::exists(dir / "d.pid")) << "the PID file outlived the main loop";
}

TEST(DaemonizeDropIn, InitReturningFalseIsCannotInitDaemonAndLeavesNothing) {
  t::TempDir dir;
  t::Subreaper subreaper;
  auto r = start(dir / "d.pid", "FALSE", dir, 0);
  EXPECT_EQ(r.exit_code, 0x4) << r.out << r.err;
  EXPECT_EQ(r.out, "status 4 errno 0\n");
  EXPECT_EQ(r.err, "cannot initialize the daemon: initialization failed with code 1\n");
  pid_t pid = pid_in_file(dir / "init-ran");
  ASSERT_GT(pid, 1) << "initialize_daemon never ran";
  t::ProcessGuard guard(pid);
  EXPECT_FALSE(t::alive(pid)) << "the daemon outlived its failed init";
  EXPECT_FALSE(t::exists(dir / "d.pid"));
  EXPECT_FALSE(t::exists(dir / "initialized"));
  reap(pid, 5s);
}

TEST(DaemonizeDropIn, InitExitingIsUnknownDaemonErrorAndLeavesNothing) {
  t::TempDir dir;
  t::Subreaper subreaper;
  auto r = start(dir / "d.pid", "EXIT", dir, 0);
  EXPECT_EQ(r.exit_code, 0xe) << r.out << r.err;
  EXPECT_EQ(r.out, "status 14 errno 0\n");
  pid_t pid = pid_in_file(dir / "init-ran");
  ASSERT_GT(pid, 1) << "initialize_daemon never ran";
  t::ProcessGuard guard(pid);
  EXPECT_EQ(r.err,
            "unknown daemon error: the daemon (pid " + std::to_string(pid) + ") died before it was initialized\n");
  EXPECT_FALSE(t::alive(pid));
  EXPECT_FALSE(t::exists(dir / "d.pid")) << "PID file left behind";
  reap(pid, 5s);
}

TEST(DaemonizeDropIn, PidFileInAMissingDirectoryIsCannotCreatePidFile) {
  t::TempDir dir;
  auto r = start(dir / "missing/d.pid", "TRUE", dir, 0);
  EXPECT_EQ(r.exit_code, 0x3) << r.out << r.err;
  EXPECT_EQ(r.out, "status 3 errno " + std::to_string(ENOENT) + "\n");
  EXPECT_EQ(r.err, "cannot create the PID file: cannot write the PID file " + (dir / "missing/d.pid") +
                       ": No such file or directory\n");
  EXPECT_FALSE(t::exists(dir / "init-ran")) << "a daemon was started";
  EXPECT_FALSE(t::exists(dir / "missing"));
}

TEST(DaemonizeDropIn, ALivePidFileIsRefused) {
  t::TempDir dir;
  t::TempDir second;
  t::Subreaper subreaper;
  auto first = start(dir / "d.pid", "TRUE", dir, 0);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  pid_t pid = pid_in_pidfile(dir / "d.pid");
  ASSERT_GT(pid, 1);
  t::ProcessGuard guard(pid);

  auto r = start(dir / "d.pid", "TRUE", second, 0);
  EXPECT_EQ(r.exit_code, 0x3) << r.out << r.err;
  EXPECT_EQ(r.out, "status 3 errno " + std::to_string(EEXIST) + "\n");
  EXPECT_EQ(r.err, "cannot create the PID file: already running (pid " + std::to_string(pid) + ")\n");
  EXPECT_FALSE(t::exists(second / "init-ran")) << "the second daemon ran its init";
  EXPECT_TRUE(t::alive(pid));
  EXPECT_EQ(pid_in_pidfile(dir / "d.pid"), pid);

  int ws = stop_and_reap(dir, pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
}

TEST(DaemonizeDropIn, AStalePidFileIsReplaced) {
  t::TempDir dir;
  t::Subreaper subreaper;
  // The PID of a process that is gone, as the seed's library wrote it.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_TRUE(WIFEXITED(reap(dead)));
  t::write_file(dir / "d.pid", std::to_string(dead) + "\n");

  auto r = start(dir / "d.pid", "TRUE", dir, 0);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_in_file(dir / "initialized");
  ASSERT_GT(pid, 1);
  t::ProcessGuard guard(pid);
  EXPECT_EQ(pid_in_pidfile(dir / "d.pid"), pid);
  int ws = stop_and_reap(dir, pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  EXPECT_FALSE(t::exists(dir / "d.pid"));
}

TEST(DaemonizeDropIn, NullPidFileMeansNone) {
  t::TempDir dir;
  t::Subreaper subreaper;
  auto r = start("-", "TRUE", dir, 3);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_in_file(dir / "initialized");
  ASSERT_GT(pid, 1);
  t::ProcessGuard guard(pid);
  int ws = stop_and_reap(dir, pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 3) << ws;
}

TEST(DaemonizeDropIn, PrintDaemonStatusDescribesEveryCode) {
  auto r = t::run({kHelper, "--print"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "daemon initialized\n"
            "cannot attach stdin, stdout and stderr to /dev/null\n"
            "cannot change the working directory to /\n"
            "cannot create the PID file\n"
            "cannot initialize the daemon\n"
            "cannot remove the PID file\n"
            "cannot close the non-standard file descriptors\n"
            "cannot reset the signal handlers\n"
            "cannot clear the signal mask\n"
            "cannot create the status pipe\n"
            "cannot fork the helper process\n"
            "cannot read the daemon's report from the status pipe\n"
            "cannot create a new session (setsid)\n"
            "cannot fork the daemon process\n"
            "unknown daemon error\n"
            "unknown daemon status 15\n");
}

#ifdef WELLD_FAULT_SHIM_PATH
// Each failure welld can report, made to happen by the fault shim
// (tests/fault/README.md), comes back as the seed's code with its errno.
namespace {

struct FaultCase {
  const char* name;
  const char* fault;  // WELLD_FAULT
  int status;         // the DaemonStatus
  int error;          // errno after daemonize()
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name << " (WELLD_FAULT=" << c.fault << ")"; }

class DaemonizeDropInFault : public ::testing::TestWithParam<FaultCase> {};

// True when this process has no child left alive; reaps the dead ones.
bool no_child_alive() {
  pid_t got = 0;
  while ((got = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
  }
  return got < 0 && errno == ECHILD;
}

}  // namespace

TEST_P(DaemonizeDropInFault, ReportsTheSeedsCodeAndLeavesNothing) {
  const FaultCase& c = GetParam();
  t::TempDir dir;
  t::Subreaper subreaper;
  std::string log = dir / "fault.log";
  t::write_file(log, "");
  auto r = start(dir / "d.pid", "TRUE", dir, 0,
                 {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LD_PRELOAD=" WELLD_FAULT_SHIM_PATH,
                  std::string("WELLD_FAULT=") + c.fault, "WELLD_FAULT_LOG=" + log});
  ASSERT_FALSE(r.timed_out);
  EXPECT_NE(t::read_file(log).find("fired"), std::string::npos) << "the fault never fired";
  EXPECT_EQ(r.exit_code, c.status) << r.out << r.err;
  EXPECT_EQ(r.out, "status " + std::to_string(c.status) + " errno " + std::to_string(c.error) + "\n") << r.err;
  EXPECT_FALSE(t::exists(dir / "d.pid")) << "PID file left behind";
  EXPECT_FALSE(t::exists(dir / "initialized"));
  EXPECT_TRUE(no_child_alive()) << "a process was left behind";
}

const FaultCase kFaultCases[] = {
    {"Pipe_EMFILE", "pipe:EMFILE", 0x9, EMFILE},
    {"Pipe_ENFILE", "pipe:ENFILE", 0x9, ENFILE},
    {"Fork_EAGAIN", "fork:EAGAIN:1:caller", 0xa, EAGAIN},
    {"Fork_ENOMEM", "fork:ENOMEM:1:caller", 0xa, ENOMEM},
    {"Setsid_EPERM", "setsid:EPERM:1:child", 0xc, EPERM},
    {"SecondFork_EAGAIN", "fork:EAGAIN:1:child", 0xd, EAGAIN},
    {"OpenDevNull_ENXIO", "open:ENXIO:1:grandchild:/dev/null", 0x1, ENXIO},
    {"Chdir_EACCES", "chdir:EACCES:1:grandchild", 0x2, EACCES},
    {"PidfileOpen_EROFS", "tmpfile:EROFS:1:grandchild", 0x3, EROFS},
};

INSTANTIATE_TEST_SUITE_P(Calls, DaemonizeDropInFault, ::testing::ValuesIn(kFaultCases),
                         [](const ::testing::TestParamInfo<FaultCase>& param) {
                           return std::string(param.param.name);
                         });
#endif
