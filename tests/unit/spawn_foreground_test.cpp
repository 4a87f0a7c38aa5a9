// The foreground spawn (Options::detach = false): the program stays the
// caller's own child, made by the same steps as a daemon (one fork, the
// session step as Options::session says, no second fork), with its stdio
// from the caller's fds if asked and a parent death signal; daemonize and
// start_daemon take it too. The caller collects its exit status; a failed
// spawn or start leaves no zombie.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "welld/daemon.hpp"
#include "welld/pidfile.hpp"
#include "welld/start.hpp"

using namespace std::chrono_literals;
using welld::SessionMode;
using welld::Step;
namespace t = welld::test;

namespace {

welld::Options foreground(welld::Options o = {}) {
  o.detach = false;
  return o;
}

// Waits for our child `pid`: its raw wait status, or -1 when it is no child
// of ours (already reaped).
int reap(pid_t pid) {
  int status = 0;
  pid_t r = -1;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  return r == pid ? status : -1;
}

// Waits (up to `timeout`) for our child `pid` to exit: its raw wait status,
// or -1 on timeout or when it is no child of ours.
int reap_within(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if ((r < 0 && errno != EINTR) || std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(5ms);
  }
}

// Whether pidfd_send_signal exists here (not before Linux 5.1, nor under
// valgrind 3.19): without it welld never signals a process (never by number),
// so a rollback cannot stop anything. Asked with an fd that is no pidfd: EBADF
// when the call exists.
bool have_pidfd_send_signal() { return ::syscall(SYS_pidfd_send_signal, -1, 0, nullptr, 0) == 0 || errno != ENOSYS; }

// Whether `pid` is still ours to reap (a live child or a zombie), without waiting.
bool unreaped_child(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// The zombie children of this process, from /proc.
std::vector<pid_t> zombie_children() {
  std::vector<pid_t> zombies;
  std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = t::proc_stat(std::stoi(name));
    if (stat.size() > 4 && stat[4] == self && stat[3] == "Z") zombies.push_back(std::stoi(name));
  }
  return zombies;
}

// What /proc/PID/fd/N links to ("" when it is not open).
std::string fd_link(pid_t pid, int fd) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec);
  return ec ? std::string() : target.string();
}

std::string read_to_eof(int fd) {
  std::string text;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

// A pipe whose two ends close with the scope.
struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read = fds[0];
      write = fds[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  Pipe(Pipe&&) = delete;
  Pipe& operator=(Pipe&&) = delete;
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

TEST(SpawnForeground, TheChildIsTheCallersAndSpawnDaemonDoesNotReapIt) {
  welld::Status st = welld::spawn_daemon(foreground(), {"/bin/sleep", "1000"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  auto stat = t::proc_stat(st.pid);
  ASSERT_GT(stat.size(), 4U);
  EXPECT_EQ(stat[4], std::to_string(::getpid())) << "its parent is not the caller";
  EXPECT_TRUE(unreaped_child(st.pid));
  ASSERT_EQ(::kill(st.pid, SIGTERM), 0);  // our unreaped child: its PID cannot be anyone else's
  int status = reap(st.pid);
  ASSERT_NE(status, -1) << "spawn_daemon reaped it";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(SpawnForeground, ItsExitStatusIsTheCallersToCollect) {
  welld::Status st = welld::spawn_daemon(foreground(), {"/bin/sh", "-c", "exit 7"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  int status = reap(st.pid);
  ASSERT_NE(status, -1) << "spawn_daemon reaped it";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

// Ppid, process group and session of `pid`, from /proc/PID/stat.
struct Ids {
  std::string ppid, pgrp, session;
};

Ids ids_of(pid_t pid) {
  auto stat = t::proc_stat(pid);
  if (stat.size() < 7) return {};
  return {stat[4], stat[5], stat[6]};
}

Ids spawn_ids(SessionMode mode, t::ProcessGuard& guard, pid_t& pid) {
  welld::Options o = foreground();
  o.session = mode;
  welld::Status st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  EXPECT_TRUE(st) << st.message();
  guard.reset(st.pid);
  pid = st.pid;
  return st ? ids_of(st.pid) : Ids{};
}

TEST(SpawnForeground, NewSessionGivesTheChildItsOwnSession) {
  t::ProcessGuard guard;
  pid_t pid = -1;
  Ids ids = spawn_ids(SessionMode::new_session, guard, pid);
  EXPECT_EQ(ids.ppid, std::to_string(::getpid()));
  EXPECT_EQ(ids.session, std::to_string(pid));
  EXPECT_EQ(ids.pgrp, std::to_string(pid));
  EXPECT_EQ(t::proc_stat(pid)[7], "0") << "it has a controlling terminal";
}

TEST(SpawnForeground, NewProcessGroupStaysInTheCallersSession) {
  t::ProcessGuard guard;
  pid_t pid = -1;
  Ids ids = spawn_ids(SessionMode::new_process_group, guard, pid);
  EXPECT_EQ(ids.ppid, std::to_string(::getpid()));
  EXPECT_EQ(ids.pgrp, std::to_string(pid));
  EXPECT_EQ(ids.session, std::to_string(::getsid(0)));
}

TEST(SpawnForeground, InheritKeepsTheCallersSessionAndGroup) {
  t::ProcessGuard guard;
  pid_t pid = -1;
  Ids ids = spawn_ids(SessionMode::inherit, guard, pid);
  EXPECT_EQ(ids.ppid, std::to_string(::getpid()));
  EXPECT_EQ(ids.pgrp, std::to_string(::getpgrp()));
  EXPECT_EQ(ids.session, std::to_string(::getsid(0)));
}

// The dirt of daemon_test's dirty parent, in this process for one scope:
// SIGTERM and SIGUSR2 blocked (in this thread, which spawns), SIGUSR1 and
// SIGHUP ignored, a secret in the environment, umask 077, an fd without
// close-on-exec.
class DirtyCaller {
 public:
  DirtyCaller() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR2);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_mask_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGUSR1, &ignore, &old_usr1_);
    ::sigaction(SIGHUP, &ignore, &old_hup_);
    ::setenv("SECRET_TOKEN", "hunter2", 1);
    old_umask_ = ::umask(077);
    inherited_ = ::open("/etc/hostname", O_RDONLY);  // deliberately not O_CLOEXEC
  }
  ~DirtyCaller() {
    if (inherited_ >= 0) ::close(inherited_);
    ::umask(old_umask_);
    ::unsetenv("SECRET_TOKEN");
    ::sigaction(SIGHUP, &old_hup_, nullptr);
    ::sigaction(SIGUSR1, &old_usr1_, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  DirtyCaller(const DirtyCaller&) = delete;
  DirtyCaller& operator=(const DirtyCaller&) = delete;
  DirtyCaller(DirtyCaller&&) = delete;
  DirtyCaller& operator=(DirtyCaller&&) = delete;
  int inherited() const { return inherited_; }

 private:
  sigset_t old_mask_{};
  struct sigaction old_usr1_ {};
  struct sigaction old_hup_ {};
  mode_t old_umask_ = 0;
  int inherited_ = -1;
};

TEST(SpawnForeground, TheStepsHoldInTheChildOfADirtyCaller) {
  t::TempDir dir;
  std::string pidfile = dir / "f.pid";
  welld::Status st;
  {
    DirtyCaller dirt;
    ASSERT_GE(dirt.inherited(), 3);
    st = welld::spawn_daemon(foreground({.pidfile = pidfile}), {"/bin/sleep", "1000"});
    EXPECT_STREQ(std::getenv("SECRET_TOKEN"), "hunter2") << "the caller's environment changed";
    EXPECT_EQ(::fcntl(dirt.inherited(), F_GETFD), 0) << "the caller's fd changed";
  }
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  ASSERT_TRUE(t::wait_for_exec(st.pid));
  pid_t pid = st.pid;
  EXPECT_EQ(t::proc_stat(pid)[4], std::to_string(::getpid()));

  for (const auto& [fd, target] : t::proc_fds_settled(pid)) {
    EXPECT_LE(fd, 2) << "leaked fd " << fd << " -> " << target;
    EXPECT_EQ(target, "/dev/null") << "fd " << fd;
  }
  auto status = t::proc_status(pid);
  for (int sig : {SIGTERM, SIGUSR1, SIGUSR2, SIGHUP}) {
    EXPECT_FALSE(t::mask_has(status["SigBlk"], sig)) << "blocked: " << sig;
    EXPECT_FALSE(t::mask_has(status["SigIgn"], sig)) << "ignored: " << sig;
  }
  EXPECT_EQ(status["Umask"], "0000");
  auto env = t::proc_environ(pid);
  EXPECT_FALSE(env.empty());
  for (const auto& e : env) EXPECT_NE(e.rfind("SECRET_TOKEN=", 0), 0U) << e;
  EXPECT_EQ(t::proc_cwd(pid), "/");

  // The PID file with its identity and the service record: its own session.
  welld::PidfileInfo info = welld::inspect_pidfile(pidfile);
  EXPECT_EQ(info.state, welld::PidfileState::running) << info.reason;
  EXPECT_EQ(info.pid, pid);
  EXPECT_EQ(info.start_time, welld::process_start_time(pid));
  EXPECT_EQ(info.service.session, pid);
}

TEST(SpawnForeground, AChildInTheCallersSessionRecordsNoSession) {
  t::TempDir dir;
  std::string pidfile = dir / "f.pid";
  welld::Options o = foreground({.pidfile = pidfile});
  o.session = SessionMode::inherit;
  welld::Status st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  welld::PidfileInfo info = welld::inspect_pidfile(pidfile);
  EXPECT_EQ(info.state, welld::PidfileState::running) << info.reason;
  EXPECT_EQ(info.pid, st.pid);
  EXPECT_EQ(info.service.session, -1) << "the caller's session was recorded as the service's";
}

TEST(SpawnForeground, AFailedSpawnLeavesNoChildAndNoZombie) {
  t::TempDir dir;
  std::string pidfile = dir / "f.pid";
  ASSERT_FALSE(welld::write_pidfile(pidfile.c_str(), ::getpid()));  // held by a live process: us
  welld::Status st = welld::spawn_daemon(foreground({.pidfile = pidfile}), {"/bin/sleep", "1000"});
  EXPECT_EQ(st.step, Step::pidfile) << st.message();
  EXPECT_EQ(st.error, EEXIST);
  EXPECT_EQ(st.holder, ::getpid());
  ASSERT_GT(st.pid, 0) << "the child that failed";
  EXPECT_FALSE(unreaped_child(st.pid)) << "the failed child was not reaped";
  EXPECT_EQ(zombie_children(), std::vector<pid_t>{});
  EXPECT_EQ(t::pid_in(pidfile), ::getpid()) << "the holder's PID file changed";
}

// ---- the parent death signal ----------------------------------------------------

// A subprocess of this test spawns `sleep` as its own foreground child with
// `options`, reports the child's PID over a pipe, then waits to be killed.
struct Spawner {
  t::ProcessGuard subprocess;
  pid_t child = -1;
};

Spawner spawn_from_subprocess(const welld::Options& options) {
  Spawner s;
  Pipe report;
  pid_t pid = ::fork();
  if (pid == 0) {
    welld::Status st = welld::spawn_daemon(options, {"/bin/sleep", "1000"});
    pid_t child = st ? st.pid : -1;
    if (::write(report.write, &child, sizeof child) != sizeof child) ::_exit(1);
    for (;;) ::pause();
  }
  s.subprocess.reset(pid);
  report.close_write();
  if (pid > 0 && ::read(report.read, &s.child, sizeof s.child) != sizeof s.child) s.child = -1;
  return s;
}

// SIGKILL the subprocess and reap it: its foreground child is orphaned (to
// this process, a subreaper) and, with a parent death signal, signalled.
void kill_subprocess(Spawner& s) {
  pid_t pid = s.subprocess.pid();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // our unreaped child
  int status = reap(pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  s.subprocess.reset();
}

uid_t uid_of(pid_t pid) {
  auto uid = t::proc_status(pid)["Uid"];
  return static_cast<uid_t>(std::stoul(uid.substr(0, uid.find_first_of(" \t"))));
}

TEST(SpawnForeground, TheParentDeathSignalEndsTheChildWhenTheCallerDies) {
  t::Subreaper subreaper;
  welld::Options o = foreground();
  o.parent_death_signal = SIGKILL;
  bool drop = ::geteuid() == 0;
  if (drop) o.user = "nobody";  // the signal must survive the privilege drop
  Spawner s = spawn_from_subprocess(o);
  ASSERT_GT(s.child, 0) << "the subprocess's spawn failed";
  t::ProcessGuard child(s.child);
  ASSERT_TRUE(t::wait_for_exec(s.child));
  EXPECT_EQ(t::proc_stat(s.child)[4], std::to_string(s.subprocess.pid()));
  if (drop) {
    EXPECT_EQ(uid_of(s.child), 65534U) << "not dropped to nobody";
  }
  EXPECT_EQ(t::proc_status(s.child)["Name"], "sleep");
  kill_subprocess(s);
  int status = reap_within(s.child, 30s);  // orphaned to us, the subreaper
  ASSERT_NE(status, -1) << "the child outlived its caller";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(SpawnForeground, WithoutAParentDeathSignalTheChildSurvivesItsCaller) {
  t::Subreaper subreaper;
  Spawner s = spawn_from_subprocess(foreground());
  ASSERT_GT(s.child, 0) << "the subprocess's spawn failed";
  t::ProcessGuard child(s.child);
  kill_subprocess(s);
  EXPECT_FALSE(child.wait_gone(300ms)) << "the child died with its caller";
  auto stat = t::proc_stat(s.child);
  ASSERT_GT(stat.size(), 4U);
  EXPECT_EQ(stat[4], std::to_string(::getpid())) << "not orphaned to us";
  EXPECT_NE(stat[3], "Z");
  child.reset();  // SIGKILL by pidfd, wait, reap
  EXPECT_FALSE(unreaped_child(s.child));
}

// ---- stdio ------------------------------------------------------------------------

TEST(SpawnForeground, StdoutAndStderrFdsAreTheCallersPipes) {
  Pipe out;
  Pipe err;
  welld::Options o = foreground();
  o.stdout_fd = out.write;
  o.stderr_fd = err.write;
  welld::Status st = welld::spawn_daemon(o, {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  EXPECT_EQ(::fcntl(out.write, F_GETFD), FD_CLOEXEC) << "the caller's fd changed";
  out.close_write();
  err.close_write();
  EXPECT_EQ(read_to_eof(out.read), "to-stdout\n");
  EXPECT_EQ(read_to_eof(err.read), "to-stderr\n");
  int status = reap(st.pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SpawnForeground, ADetachedDaemonTakesAStdoutFdToo) {
  t::Subreaper subreaper;  // the daemon comes back to us, to be reaped
  Pipe out;
  welld::Options o;
  o.stdout_fd = out.write;
  welld::Status st = welld::spawn_daemon(o, {"/bin/sh", "-c", "echo from-the-daemon"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  out.close_write();
  EXPECT_EQ(read_to_eof(out.read), "from-the-daemon\n");
}

// This process's fd 1 is a pipe for one scope (whatever ctest gave us, it
// then tells inheriting apart from /dev/null).
class StdoutAsPipe {
 public:
  StdoutAsPipe() : saved_(::fcntl(1, F_DUPFD_CLOEXEC, 3)) { ::dup2(pipe_.write, 1); }
  ~StdoutAsPipe() {
    ::dup2(saved_, 1);
    ::close(saved_);
  }
  StdoutAsPipe(const StdoutAsPipe&) = delete;
  StdoutAsPipe& operator=(const StdoutAsPipe&) = delete;
  StdoutAsPipe(StdoutAsPipe&&) = delete;
  StdoutAsPipe& operator=(StdoutAsPipe&&) = delete;

 private:
  Pipe pipe_;
  int saved_;
};

TEST(SpawnForeground, InheritStdioKeepsTheCallersFds) {
  welld::Status st;
  std::string ours[3];
  {
    StdoutAsPipe stdout_pipe;
    for (int fd = 0; fd < 3; ++fd) ours[fd] = fd_link(::getpid(), fd);
    welld::Options o = foreground();
    o.inherit_stdio = true;
    st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  }
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  ASSERT_EQ(ours[1].rfind("pipe:", 0), 0U) << ours[1];
  for (int fd = 0; fd < 3; ++fd) EXPECT_EQ(fd_link(st.pid, fd), ours[fd]) << "fd " << fd;
}

TEST(SpawnForeground, InheritStdioWithAStdoutFdKeepsOnlyTheOthers) {
  Pipe out;
  welld::Options o = foreground();
  o.inherit_stdio = true;
  o.stdout_fd = out.write;
  welld::Status st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  EXPECT_EQ(fd_link(st.pid, 1), fd_link(::getpid(), out.write));
  EXPECT_EQ(fd_link(st.pid, 2), fd_link(::getpid(), 2));
  EXPECT_EQ(fd_link(st.pid, 0), fd_link(::getpid(), 0));
}

// ---- refusals ---------------------------------------------------------------------

void expect_refused(const welld::Options& o, const std::string& phrase) {
  welld::Status st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  t::ProcessGuard guard(st.pid);
  EXPECT_EQ(st.step, Step::prepare) << st.message();
  EXPECT_EQ(st.error, EINVAL);
  EXPECT_EQ(st.pid, -1);
  EXPECT_NE(st.message().find(phrase), std::string::npos) << st.message();
}

TEST(SpawnForeground, ADetachedDaemonRefusesAnotherSessionMode) {
  welld::Options o;
  o.session = SessionMode::inherit;
  expect_refused(o, "a detached daemon always gets a new session");
  o.session = SessionMode::new_process_group;
  expect_refused(o, "a detached daemon always gets a new session");
}

TEST(SpawnForeground, ADetachedDaemonRefusesAParentDeathSignalAndInheritedStdio) {
  welld::Options o;
  o.parent_death_signal = SIGTERM;
  expect_refused(o, "a parent death signal needs a child that stays the caller's");
  welld::Options inherit;
  inherit.inherit_stdio = true;
  expect_refused(inherit, "inheriting stdio needs a child that stays the caller's");
}

TEST(SpawnForeground, AnFdAndAPathForTheSameStreamAreRefused) {
  Pipe out;
  welld::Options o = foreground({.stdout_path = "/tmp/never-written.log"});
  o.stdout_fd = out.write;
  expect_refused(o, "stdout was given both as an fd and as a path");
  welld::Options e = foreground({.stderr_path = "/tmp/never-written.log"});
  e.stderr_fd = out.write;
  expect_refused(e, "stderr was given both as an fd and as a path");
  welld::Options bad = foreground();
  bad.parent_death_signal = 1000;
  expect_refused(bad, "the parent death signal is not a signal");
}

TEST(SpawnForeground, AClosedStdoutFdFailsBeforeTheFork) {
  welld::Options o = foreground();
  o.stdout_fd = 1000;  // not open
  welld::Status st = welld::spawn_daemon(o, {"/bin/sleep", "1000"});
  t::ProcessGuard guard(st.pid);
  EXPECT_EQ(st.step, Step::redirect_stdio) << st.message();
  EXPECT_EQ(st.error, EBADF);
  EXPECT_EQ(st.pid, -1);
  EXPECT_NE(st.message().find("fd 1000"), std::string::npos) << st.message();
}

// ---- daemonize --------------------------------------------------------------------

TEST(DaemonizeForeground, TheInitializedChildIsTheCallersToWaitFor) {
  welld::Status st = welld::daemonize(
      foreground(), [] { return 0; }, [] { return 9; });
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  int status = reap(st.pid);
  ASSERT_NE(status, -1) << "daemonize reaped it";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 9);
}

TEST(DaemonizeForeground, AFailedInitIsReapedAndLeavesNoPidFile) {
  t::TempDir dir;
  std::string pidfile = dir / "f.pid";
  welld::Status st = welld::daemonize(
      foreground({.pidfile = pidfile}), [] { return 42; }, [] { return 0; });
  EXPECT_EQ(st.step, Step::init) << st.message();
  EXPECT_EQ(st.error, 42);
  ASSERT_GT(st.pid, 0);
  EXPECT_FALSE(unreaped_child(st.pid));
  EXPECT_EQ(zombie_children(), std::vector<pid_t>{});
  EXPECT_FALSE(t::exists(pidfile));
}

// ---- start_daemon -----------------------------------------------------------------

TEST(StartForeground, ExecModeStartsTheProgramAsTheCallersChild) {
  t::TempDir dir;
  welld::StartResult r = welld::start_daemon({
      .options = foreground({.pidfile = dir / "f.pid"}),
      .command = {"/bin/sleep", "1000"},
  });
  t::ProcessGuard guard(r.status.pid);
  ASSERT_EQ(r.outcome, welld::StartOutcome::started) << r.message;
  EXPECT_EQ(r.main.pid, r.status.pid);
  EXPECT_EQ(t::pid_in(dir / "f.pid"), r.status.pid);
  EXPECT_EQ(t::proc_stat(r.status.pid)[4], std::to_string(::getpid()));
  ASSERT_EQ(::kill(r.status.pid, SIGTERM), 0);  // our unreaped child
  int status = reap(r.status.pid);
  ASSERT_NE(status, -1) << "start_daemon reaped it";
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(StartForeground, AProgramExitingBeforeReadyGivesItsStatusAndLeavesNoZombie) {
  t::TempDir dir;
  welld::StartResult r = welld::start_daemon({
      .options = foreground({.pidfile = dir / "f.pid"}),
      .command = {"/bin/sh", "-c", "exit 3"},
      .ready = {.mode = welld::ReadyMode::notify},
      .ready_timeout = 60s,
  });
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(r.outcome, welld::StartOutcome::exited) << r.message;
  ASSERT_TRUE(WIFEXITED(r.ready.wait_status)) << r.ready.wait_status;
  EXPECT_EQ(WEXITSTATUS(r.ready.wait_status), 3);
  EXPECT_NE(r.message.find("exited with status 3"), std::string::npos) << r.message;
  ASSERT_GT(r.status.pid, 0);
  EXPECT_FALSE(unreaped_child(r.status.pid));
  EXPECT_EQ(zombie_children(), std::vector<pid_t>{});
  EXPECT_FALSE(t::exists(dir / "f.pid"));
}

// A timeout rolls back and reaps; with the caller's session kept, the rollback
// must not take the caller's session for the daemon's: a process of that
// session started during the wait is not stopped.
TEST(StartForeground, ANotifyTimeoutRollsBackAndReapsButSparesTheCallersSession) {
  if (!have_pidfd_send_signal()) GTEST_SKIP() << "no pidfd_send_signal here (valgrind, Linux before 5.1): no rollback";
  t::TempDir dir;
  welld::Options o = foreground({.pidfile = dir / "f.pid"});
  o.session = SessionMode::inherit;
  t::ProcessGuard bystander;
  std::thread later([&bystander] {
    std::this_thread::sleep_for(200ms);
    bystander = t::sleeping_child();
  });
  welld::StartResult r = welld::start_daemon({
      .options = o,
      .command = {"/bin/sleep", "1000"},
      .ready = {.mode = welld::ReadyMode::notify},
      .ready_timeout = 1500ms,
  });
  later.join();
  t::ProcessGuard guard(r.status.pid);
  EXPECT_EQ(r.outcome, welld::StartOutcome::timed_out) << r.message;
  ASSERT_GT(r.status.pid, 0);
  EXPECT_NE(std::find(r.stopped.begin(), r.stopped.end(), r.status.pid), r.stopped.end());
  EXPECT_FALSE(unreaped_child(r.status.pid)) << "the rollback did not reap the child";
  EXPECT_FALSE(t::exists(dir / "f.pid"));
  ASSERT_GT(bystander.pid(), 0);
  EXPECT_TRUE(t::alive(bystander.pid())) << "the rollback stopped a process of the caller's session";
  EXPECT_EQ(std::find(r.stopped.begin(), r.stopped.end(), bystander.pid()), r.stopped.end());
  bystander.reset();
  EXPECT_EQ(zombie_children(), std::vector<pid_t>{});
}

// ---- without pidfd_open, and without close_range (the fault shim) -------------------

#ifdef WELLD_FAULT_SHIM_PATH

struct HelperRun {
  t::RunResult run;
  std::string log;
};

// fault_daemonize --foreground ARGS under the shim with WELLD_FAULT=`fault`.
HelperRun run_helper(const t::TempDir& dir, const std::string& fault, std::vector<std::string> args) {
  HelperRun h;
  h.log = dir / "fault.log";
  args.insert(args.begin(), {FAULT_DAEMONIZE_PATH, "--foreground"});
  h.run = t::run(args, 120s,
                 std::vector<std::string>{"PATH=/usr/bin:/bin", "LD_PRELOAD=" WELLD_FAULT_SHIM_PATH,
                                          "WELLD_FAULT=" + fault, "WELLD_FAULT_LOG=" + h.log});
  return h;
}

// Every pidfd_open of the helper fails as on Linux before 5.3.
constexpr const char* kNoPidfdOpen =
    "pidfd_open:ENOSYS:1:caller,pidfd_open:ENOSYS:2:caller,pidfd_open:ENOSYS:3:caller,pidfd_open:ENOSYS:4:caller";

TEST(SpawnForeground, WithoutPidfdOpenTheCallerStillCollectsTheExitStatus) {
  t::TempDir dir;
  HelperRun h = run_helper(dir, kNoPidfdOpen, {"--pidfile", dir / "f.pid", "--exec", "/bin/sh", "-c", "exit 5"});
  ASSERT_FALSE(h.run.timed_out);
  ASSERT_EQ(h.run.exit_code, 0) << h.run.out << h.run.err;
  EXPECT_NE(t::read_file(h.log).find("fired pidfd_open 38"), std::string::npos) << t::read_file(h.log);
  EXPECT_NE(h.run.out.find("status none 0"), std::string::npos) << h.run.out;
  auto child = t::field_after(h.run.out, "\npid");
  ASSERT_TRUE(child && *child > 1) << h.run.out;
  EXPECT_EQ(t::field_after(h.run.out, "child-ppid"), h.run.pid) << h.run.out;
  auto status = t::field_after(h.run.out, "wait-status");
  ASSERT_TRUE(status) << h.run.out;
  ASSERT_TRUE(WIFEXITED(static_cast<int>(*status))) << *status;
  EXPECT_EQ(WEXITSTATUS(static_cast<int>(*status)), 5);
}

TEST(SpawnForeground, WithoutCloseRangeOrPidfdOpenTheChildHoldsOnlyItsStdio) {
  t::TempDir dir;
  std::string fault = std::string(kNoPidfdOpen) + ",close_range:ENOSYS:1:child";
  HelperRun h = run_helper(dir, fault, {"--inherited-fd", "--terminate", "--exec", "/bin/sleep", "1000"});
  ASSERT_FALSE(h.run.timed_out);
  ASSERT_EQ(h.run.exit_code, 0) << h.run.out << h.run.err;
  std::string log = t::read_file(h.log);
  EXPECT_NE(log.find("fired close_range 38 depth 1"), std::string::npos) << log;
  EXPECT_NE(log.find("fired pidfd_open 38 depth 0"), std::string::npos) << log;
  EXPECT_NE(h.run.out.find("\nchild-fds 0 1 2\n"), std::string::npos) << h.run.out;
  auto status = t::field_after(h.run.out, "wait-status");
  ASSERT_TRUE(status) << h.run.out;
  ASSERT_TRUE(WIFSIGNALED(static_cast<int>(*status))) << *status;
  EXPECT_EQ(WTERMSIG(static_cast<int>(*status)), SIGTERM);
}

#endif

}  // namespace
