// Fault injection on the daemonization path. The welld_fault LD_PRELOAD shim
// (tests/fault/) makes one system call fail with a chosen errno, or SIGKILLs
// the process at it, in the library (helpers/fault_daemonize) and in
// `welld start`. Each case checks: the step and errno reported, the one-line
// message, no process left (this test is a child subreaper, so orphans land
// here), no PID file left, a bounded run, and, for the library, the caller's
// fds unchanged. The SIGKILL cases also check that no stale lock or file
// blocks the next start.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <thread>

#include "support/test_support.hpp"
#include "welld/step.hpp"

using namespace std::chrono_literals;
using welld::Step;
namespace t = welld::test;

namespace {

constexpr const char* kPidfileName = "fault.pid";

// The environment of a run under the shim.
std::vector<std::string> fault_env(const std::string& fault, const std::string& log) {
  return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LD_PRELOAD=" WELLD_FAULT_SHIM_PATH, "WELLD_FAULT=" + fault,
          "WELLD_FAULT_LOG=" + log};
}

std::vector<std::string> plain_env() { return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}; }

// Orphaned daemons are re-parented to the nearest subreaper: this process.
void become_subreaper() { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L), 0); }

// Children of this process that are still alive, as "PID (comm)"; each is
// killed, and every child, dead or alive, is reaped.
std::vector<std::string> reap_children() {
  std::vector<std::string> live;
  std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = t::proc_stat(std::stoi(name));
    if (stat.size() < 5 || stat[4] != self) continue;
    pid_t pid = std::stoi(name);
    if (stat[3] != "Z" && stat[3] != "X") {
      live.push_back(name + " (" + stat[2] + ")");
      t::ProcessGuard kill(pid);
    }
    ::waitpid(pid, nullptr, 0);
  }
  return live;
}

// The shim's log, writable by the daemon even after it dropped to nobody.
std::string make_log(const t::TempDir& dir) {
  std::string log = dir / "fault.log";
  t::write_file(log, "");
  if (::chmod(dir.path().c_str(), 0711) != 0 || ::chmod(log.c_str(), 0666) != 0) ADD_FAILURE() << "chmod";
  return log;
}

// A stale PID file (naming a reaped child) planted before a start: a new PID
// file is published whole, so the lock is taken only on an existing one.
// Returns its contents.
std::string plant_stale(const std::string& pidfile) {
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::string text = std::to_string(dead) + "\n";
  t::write_file(pidfile, text);
  return text;
}

// After a failed start: no PID file of ours; a planted stale one may stay as it was.
void expect_no_pidfile_left(const std::string& pidfile, const std::string& stale) {
  if (!t::exists(pidfile)) return;
  if (stale.empty()) {
    ADD_FAILURE() << "PID file left: '" << t::read_file(pidfile) << "'";
  } else {
    EXPECT_EQ(t::read_file(pidfile), stale) << "the stale PID file was changed";
  }
}

// The fault named in the shim's log, so a case cannot pass without its call
// having been reached.
void expect_fired(const std::string& log, const std::string& call) {
  std::string text = t::read_file(log);
  EXPECT_NE(text.find("fired " + call + " "), std::string::npos)
      << "the fault on " << call << " never fired; log: " << text;
}

std::string line_after(const std::string& text, const std::string& key) {
  auto at = text.find("\n" + key + " ");
  size_t start = at == std::string::npos ? (text.rfind(key + " ", 0) == 0 ? 0 : std::string::npos) : at + 1;
  if (start == std::string::npos) return "<missing>";
  start += key.size() + 1;
  return text.substr(start, text.find('\n', start) - start);
}

// ---- the library -----------------------------------------------------------------

struct LibraryReport {
  t::RunResult run;
  std::string status;  // "STEP ERRNO"
  std::string message;
  pid_t pid = -1;
  std::string fds_before;
  std::string fds_after;
};

LibraryReport run_library(const std::string& pidfile, const std::vector<std::string>& extra,
                          const std::vector<std::string>& env) {
  std::vector<std::string> args = {FAULT_DAEMONIZE_PATH, "--pidfile", pidfile, "--inherited-fd"};
  args.insert(args.end(), extra.begin(), extra.end());
  LibraryReport r;
  r.run = t::run(args, 60s, env);
  r.status = line_after(r.run.out, "status");
  r.message = line_after(r.run.out, "message");
  auto pid = t::field_after(r.run.out, "pid");
  r.pid = pid ? static_cast<pid_t>(*pid) : -1;
  r.fds_before = line_after(r.run.out, "fds-before");
  r.fds_after = line_after(r.run.out, "fds-after");
  return r;
}

// Test names from the cases' own names.
struct CaseName {
  template <typename Param>
  std::string operator()(const ::testing::TestParamInfo<Param>& param) const {
    return param.param.name;
  }
};

std::string status_text(Step step, int error) { return std::string(to_string(step)) + " " + std::to_string(error); }

// A daemon left running on purpose: its fds are exactly 0, 1, 2 on /dev/null.
// `welld start` returns once the program is exec'd, while its dynamic loader
// may still hold a library open for a moment: look until only 0-2 remain
// (bounded), then check what is there.
void expect_clean_daemon(pid_t pid) {
  ASSERT_GT(pid, 1);
  EXPECT_TRUE(t::alive(pid));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto fds = t::proc_fds(pid);
  while (fds.size() > 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    fds = t::proc_fds(pid);
  }
  EXPECT_EQ(fds.size(), 3U);
  for (const auto& [fd, target] : fds) {
    EXPECT_LE(fd, 2) << "fd " << fd << " -> " << target << " survived step 1";
    EXPECT_EQ(target, "/dev/null") << "fd " << fd;
  }
}

struct LibraryCase {
  const char* name;
  const char* fault;  // WELLD_FAULT
  const char* fired;  // the call the shim must have failed
  Step step;          // Step::none: the start must still succeed
  int error;
  bool as_user = false;  // drop to nobody (needs root)
  bool exec = false;     // spawn_daemon /bin/sleep instead of daemonize
  bool stale = false;    // plant a stale PID file first
};

void PrintTo(const LibraryCase& c, std::ostream* os) { *os << c.name << " (WELLD_FAULT=" << c.fault << ")"; }

class LibraryFault : public ::testing::TestWithParam<LibraryCase> {};

TEST_P(LibraryFault, ReportsStepAndErrnoAndLeavesNothing) {
  const LibraryCase& c = GetParam();
  if (c.as_user && ::geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  become_subreaper();
  t::TempDir dir;
  std::string pidfile = dir / kPidfileName;
  std::string log = make_log(dir);
  std::string stale = c.stale ? plant_stale(pidfile) : std::string();
  std::vector<std::string> extra;
  if (c.as_user) extra.insert(extra.end(), {"--user", "nobody"});
  if (c.exec) extra.insert(extra.end(), {"--exec", "/bin/sleep", "1000"});
  LibraryReport r = run_library(pidfile, extra, fault_env(c.fault, log));
  t::ProcessGuard daemon(c.step == Step::none ? r.pid : -1);
  ASSERT_FALSE(r.run.timed_out) << "daemonize did not return";
  expect_fired(log, c.fired);
  EXPECT_EQ(r.status, status_text(c.step, c.error)) << r.run.out << r.run.err;
  EXPECT_EQ(r.fds_before, r.fds_after) << "the caller's fds changed";
  if (c.step == Step::none) {
    EXPECT_EQ(r.run.exit_code, 0) << r.run.out << r.run.err;
    expect_clean_daemon(r.pid);
    EXPECT_EQ(t::read_file(pidfile), std::to_string(r.pid) + "\n");
    daemon.reset();
  } else {
    EXPECT_EQ(r.run.exit_code, 1) << r.run.out << r.run.err;
    EXPECT_NE(r.message.find(std::strerror(c.error)), std::string::npos) << r.message;
    expect_no_pidfile_left(pidfile, stale);
  }
  EXPECT_EQ(reap_children(), std::vector<std::string>{}) << "processes left behind";
}

const LibraryCase kLibraryCases[] = {
    {"Pipe_EMFILE", "pipe:EMFILE", "pipe", Step::fork, EMFILE},
    {"Fork_EAGAIN", "fork:EAGAIN:1:caller", "fork", Step::fork, EAGAIN},
    {"Fork_ENOMEM", "fork:ENOMEM:1:caller", "fork", Step::fork, ENOMEM},
    {"Setsid_EPERM", "setsid:EPERM:1:child", "setsid", Step::setsid, EPERM},
    {"SecondFork_EAGAIN", "fork:EAGAIN:1:child", "fork", Step::fork_again, EAGAIN},
    {"OpenDevNull_EMFILE", "open:EMFILE:1:grandchild:/dev/null", "open", Step::redirect_stdio, EMFILE},
    {"OpenDevNull_ENXIO", "open:ENXIO:1:grandchild:/dev/null", "open", Step::redirect_stdio, ENXIO},
    {"Dup2_EBUSY", "dup2:EBUSY:1:grandchild", "dup2", Step::redirect_stdio, EBUSY},
    {"Chdir_EACCES", "chdir:EACCES:1:grandchild", "chdir", Step::chdir, EACCES},
    {"PidfileOpen_EROFS", "tmpfile:EROFS:1:grandchild", "tmpfile", Step::pidfile, EROFS},
    {"PidfileOpen_EACCES", "tmpfile:EACCES:1:grandchild", "tmpfile", Step::pidfile, EACCES},
    // The lock is taken on an existing file: a stale one here.
    {"PidfileLock_ENOLCK", "lock:ENOLCK:1:grandchild:fault.pid", "lock", Step::pidfile, ENOLCK, false, false, true},
    // A new PID file is written unnamed (O_TMPFILE) in the directory, then linked.
    {"PidfileWrite_ENOSPC", "pwrite:ENOSPC:1:grandchild:welld-test-", "pwrite", Step::pidfile, ENOSPC},
    {"PidfileWrite_EIO", "pwrite:EIO:1:grandchild:welld-test-", "pwrite", Step::pidfile, EIO},
    {"PidfileWriteOverStale_ENOSPC", "pwrite:ENOSPC:1:grandchild:welld-test-", "pwrite", Step::pidfile, ENOSPC, false,
     false, true},
    {"PidfileLink_ENOSPC", "link:ENOSPC:1:grandchild:fault.pid", "link", Step::pidfile, ENOSPC},
    {"PidfileLinkOverStale_EIO", "link:EIO:1:grandchild:fault.pid", "link", Step::pidfile, EIO, false, false, true},
    {"Setgroups_EPERM", "setgroups:EPERM:1:grandchild", "setgroups", Step::drop_privileges, EPERM, true},
    {"Setgid_EPERM", "setgid:EPERM:1:grandchild", "setgid", Step::drop_privileges, EPERM, true},
    {"Setuid_EAGAIN", "setuid:EAGAIN:1:grandchild", "setuid", Step::drop_privileges, EAGAIN, true},
    {"Execve_ENOEXEC", "execve:ENOEXEC:1:grandchild", "execve", Step::exec, ENOEXEC, false, true},
    {"Execve_EACCES", "execve:EACCES:1:grandchild", "execve", Step::exec, EACCES, false, true},
    // After the drop the daemon cannot remove its own PID file (the directory
    // is root's): the caller must.
    {"Execve_ENOENT_AfterDrop", "execve:ENOENT:1:grandchild", "execve", Step::exec, ENOENT, true, true},
    // close_range must fall back (to /proc/self/fd, then to the bounded loop)
    // and the start still succeed with the inherited fd really closed.
    {"CloseRange_ENOSYS", "close_range:ENOSYS:1:child", "close_range", Step::none, 0},
    {"CloseRange_EPERM", "close_range:EPERM:1:child", "close_range", Step::none, 0},
    {"CloseRangeAndProcFd_ENOSYS", "close_range:ENOSYS:1:child,open:EMFILE:1:child:/proc/self/fd", "open", Step::none,
     0},
    {"CloseRange_ENOSYS_Exec", "close_range:ENOSYS:1:child", "close_range", Step::none, 0, false, true},
};

INSTANTIATE_TEST_SUITE_P(Calls, LibraryFault, ::testing::ValuesIn(kLibraryCases), CaseName());

// ---- welld start -----------------------------------------------------------------

// Fields in the order the case table reads them, padding notwithstanding.
struct CliCase {  // NOLINT(clang-analyzer-optin.performance.Padding)
  const char* name;
  const char* fault;
  const char* fired;
  int exit_code;       // 0: the start must still succeed
  const char* phrase;  // names the step in the message
  int error;
  bool as_user = false;
  const char* ready = "exec";
  bool stale = false;  // plant a stale PID file first
};

// welld start -p PIDFILE EXTRA -- /bin/sleep 1000; with `inherited_fd`, started
// from a shell that leaves fd 7 open (not close-on-exec) for step 1 to close.
t::RunResult welld_start(const std::string& pidfile, const std::vector<std::string>& extra,
                         const std::vector<std::string>& env, bool inherited_fd = false) {
  std::vector<std::string> args = {WELLD_CLI_PATH, "start", "-p", pidfile};
  if (inherited_fd) args.insert(args.begin(), {"/bin/sh", "-c", R"(exec 7</etc/hostname; exec "$0" "$@")"});
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "/bin/sleep", "1000"});
  return t::run(args, 60s, env);
}

void expect_one_line(const std::string& err) {
  EXPECT_EQ(err.rfind("welld: start: ", 0), 0U) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

void PrintTo(const CliCase& c, std::ostream* os) { *os << c.name << " (WELLD_FAULT=" << c.fault << ")"; }

class CliFault : public ::testing::TestWithParam<CliCase> {};

TEST_P(CliFault, ExitCodeAndOneLineAndLeavesNothing) {
  const CliCase& c = GetParam();
  if (c.as_user && ::geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  become_subreaper();
  t::TempDir dir;
  std::string pidfile = dir / kPidfileName;
  std::string log = make_log(dir);
  std::string stale = c.stale ? plant_stale(pidfile) : std::string();
  std::vector<std::string> extra = {std::string("--ready=") + c.ready};
  if (c.as_user) extra.insert(extra.end(), {"--user", "nobody"});
  t::RunResult r = welld_start(pidfile, extra, fault_env(c.fault, log), c.exit_code == 0);
  t::ProcessGuard daemon(c.exit_code == 0 ? t::pid_in(pidfile) : -1);
  ASSERT_FALSE(r.timed_out) << "welld start did not return";
  expect_fired(log, c.fired);
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  if (c.exit_code == 0) {
    EXPECT_EQ(r.err, "");
    expect_clean_daemon(daemon.pid());
    EXPECT_TRUE(t::wait_for_exec(daemon.pid()));
    EXPECT_EQ(t::proc_stat(daemon.pid())[2], "sleep");
    daemon.reset();
  } else {
    expect_one_line(r.err);
    EXPECT_NE(r.err.find(c.phrase), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::strerror(c.error)), std::string::npos) << r.err;
    expect_no_pidfile_left(pidfile, stale);
  }
  EXPECT_EQ(reap_children(), std::vector<std::string>{}) << "processes left behind";
}

const CliCase kCliCases[] = {
    {"Pipe_EMFILE", "pipe:EMFILE", "pipe", 1, "cannot fork: cannot create the status pipe", EMFILE},
    {"Fork_EAGAIN", "fork:EAGAIN:1:caller", "fork", 1, "cannot fork", EAGAIN},
    {"Setsid_EPERM", "setsid:EPERM:1:child", "setsid", 4, "cannot create a new session", EPERM},
    {"SecondFork_EAGAIN", "fork:EAGAIN:1:child", "fork", 1, "cannot fork the daemon", EAGAIN},
    {"OpenDevNull_EMFILE", "open:EMFILE:1:grandchild:/dev/null", "open", 1, "/dev/null", EMFILE},
    {"Dup2_EBUSY", "dup2:EBUSY:1:grandchild", "dup2", 1, "redirect standard streams", EBUSY},
    {"Chdir_EACCES", "chdir:EACCES:1:grandchild", "chdir", 4, "cannot change directory to /", EACCES},
    {"PidfileOpen_EROFS", "tmpfile:EROFS:1:grandchild", "tmpfile", 1, "PID file", EROFS},
    {"PidfileOpen_EACCES", "tmpfile:EACCES:1:grandchild", "tmpfile", 4, "PID file", EACCES},
    {"PidfileLock_ENOLCK", "lock:ENOLCK:1:grandchild:fault.pid", "lock", 1, "PID file", ENOLCK, false, "exec", true},
    {"PidfileWrite_ENOSPC", "pwrite:ENOSPC:1:grandchild:welld-test-", "pwrite", 1, "PID file", ENOSPC},
    {"PidfileLink_ENOSPC", "link:ENOSPC:1:grandchild:fault.pid", "link", 1, "PID file", ENOSPC},
    {"Setgroups_EPERM", "setgroups:EPERM:1:grandchild", "setgroups", 4, "cannot drop privileges to nobody", EPERM,
     true},
    {"Setgid_EINVAL", "setgid:EINVAL:1:grandchild", "setgid", 1, "cannot drop privileges to nobody", EINVAL, true},
    {"Setuid_EAGAIN", "setuid:EAGAIN:1:grandchild", "setuid", 1, "cannot drop privileges to nobody", EAGAIN, true},
    {"Execve_ENOEXEC", "execve:ENOEXEC:1:grandchild", "execve", 5, "cannot execute /bin/sleep", ENOEXEC},
    {"Execve_EACCES", "execve:EACCES:1:grandchild", "execve", 5, "cannot execute /bin/sleep", EACCES},
    {"Execve_ENOENT_AfterDrop", "execve:ENOENT:1:grandchild", "execve", 5, "cannot execute /bin/sleep", ENOENT, true},
    {"NotifySocket_EMFILE", "socket:EMFILE:1:caller:AF_UNIX", "socket", 1, "readiness (notify)", EMFILE, false,
     "notify"},
    {"NotifySocket_EAFNOSUPPORT", "socket:EAFNOSUPPORT:1:caller:AF_UNIX", "socket", 1, "readiness (notify)",
     EAFNOSUPPORT, false, "notify"},
    {"CloseRange_ENOSYS", "close_range:ENOSYS:1:child", "close_range", 0, "", 0},
    {"CloseRangeAndProcFd_ENOSYS", "close_range:ENOSYS:1:child,open:EMFILE:1:child:/proc/self/fd", "open", 0, "", 0},
};

INSTANTIATE_TEST_SUITE_P(Calls, CliFault, ::testing::ValuesIn(kCliCases), CaseName());

// ---- SIGKILL at each moment of start-up ------------------------------------------

struct KillCase {
  const char* name;
  const char* fault;  // with the action kill
  const char* fired;
  bool as_user = false;
  bool notify = false;  // welld start --ready=notify: wait for the program itself
  bool stale = false;   // plant a stale PID file first
};

const KillCase kKillCases[] = {
    {"Setsid", "setsid:kill:1:child", "setsid"},
    {"SecondFork", "fork:kill:1:child", "fork"},
    {"OpenDevNull", "open:kill:1:grandchild:/dev/null", "open"},
    {"Dup2", "dup2:kill:1:grandchild", "dup2"},
    {"Chdir", "chdir:kill:1:grandchild", "chdir"},
    {"PidfileOpen", "tmpfile:kill:1:grandchild", "tmpfile"},
    {"PidfileLock", "lock:kill:1:grandchild:fault.pid", "lock", false, false, true},
    {"PidfileWrite", "pwrite:kill:1:grandchild:welld-test-", "pwrite"},
    {"PidfileWriteOverStale", "pwrite:kill:1:grandchild:welld-test-", "pwrite", false, false, true},
    {"PidfileLink", "link:kill:1:grandchild:fault.pid", "link"},
    {"Setgroups", "setgroups:kill:1:grandchild", "setgroups", true},
    {"Setuid", "setuid:kill:1:grandchild", "setuid", true},
};

// Moments only welld start has: daemonize runs callbacks, not a program.
const KillCase kExecKillCases[] = {
    {"Execve", "execve:kill:1:grandchild", "execve", false, true},
};

void PrintTo(const KillCase& c, std::ostream* os) { *os << c.name << " (WELLD_FAULT=" << c.fault << ")"; }

class LibraryKill : public ::testing::TestWithParam<KillCase> {};

TEST_P(LibraryKill, CallerReportsItAndTheNextStartSucceeds) {
  const KillCase& c = GetParam();
  if (c.as_user && ::geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  become_subreaper();
  t::TempDir dir;
  std::string pidfile = dir / kPidfileName;
  std::string log = make_log(dir);
  std::string stale = c.stale ? plant_stale(pidfile) : std::string();
  std::vector<std::string> extra;
  if (c.as_user) extra.insert(extra.end(), {"--user", "nobody"});
  LibraryReport r = run_library(pidfile, extra, fault_env(c.fault, log));
  ASSERT_FALSE(r.run.timed_out) << "daemonize did not return";
  expect_fired(log, c.fired);
  EXPECT_EQ(r.run.exit_code, 1) << r.run.out << r.run.err;
  EXPECT_EQ(r.status, status_text(Step::daemon_died, 0)) << r.run.out;
  EXPECT_NE(r.message.find("before it was initialized"), std::string::npos) << r.message;
  EXPECT_EQ(r.fds_before, r.fds_after) << "the caller's fds changed";
  expect_no_pidfile_left(pidfile, stale);
  EXPECT_EQ(reap_children(), std::vector<std::string>{}) << "processes left behind";

  // No stale lock or file: the next start succeeds, in bounded time.
  LibraryReport again = run_library(pidfile, extra, plain_env());
  t::ProcessGuard daemon(again.pid);
  ASSERT_FALSE(again.run.timed_out);
  EXPECT_EQ(again.run.exit_code, 0) << again.run.out << again.run.err;
  EXPECT_EQ(t::pid_in(pidfile), again.pid);
  daemon.reset();
  EXPECT_EQ(reap_children(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Moments, LibraryKill, ::testing::ValuesIn(kKillCases), CaseName());

class CliKill : public ::testing::TestWithParam<KillCase> {};

TEST_P(CliKill, StartReportsItAndTheNextStartSucceeds) {
  const KillCase& c = GetParam();
  if (c.as_user && ::geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  become_subreaper();
  t::TempDir dir;
  std::string pidfile = dir / kPidfileName;
  std::string log = make_log(dir);
  std::string stale = c.stale ? plant_stale(pidfile) : std::string();
  // With --ready=exec a daemon killed at execve cannot be told from one that
  // exec'd and died at once; --ready=notify waits for the program itself.
  std::vector<std::string> extra = {c.notify ? "--ready=notify" : "--ready=exec", "--ready-timeout=50s"};
  if (c.as_user) extra.insert(extra.end(), {"--user", "nobody"});
  t::RunResult r = welld_start(pidfile, extra, fault_env(c.fault, log));
  ASSERT_FALSE(r.timed_out) << "welld start did not return";
  expect_fired(log, c.fired);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  expect_one_line(r.err);
  EXPECT_NE(r.err.find("killed by signal 9 (SIGKILL)"), std::string::npos) << r.err;
  expect_no_pidfile_left(pidfile, stale);
  EXPECT_EQ(reap_children(), std::vector<std::string>{}) << "processes left behind";

  t::RunResult again = welld_start(pidfile, {extra.begin() + 2, extra.end()}, plain_env());
  t::ProcessGuard daemon(t::pid_in(pidfile));
  ASSERT_FALSE(again.timed_out);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GT(daemon.pid(), 1);
  daemon.reset();
  EXPECT_EQ(reap_children(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Moments, CliKill, ::testing::ValuesIn(kKillCases), CaseName());
INSTANTIATE_TEST_SUITE_P(ExecMoments, CliKill, ::testing::ValuesIn(kExecKillCases), CaseName());

}  // namespace
