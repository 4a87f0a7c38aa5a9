// welld run: COMMAND in the foreground with welld as its parent, as a service
// manager or a container runtime sees it: as a real PID 1 (unshare --pid
// --fork --mount-proc; root only, the namespace ends with its PID 1) and as a
// subreaper, side by side with tini and dumb-init where they are installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "welld/notify.hpp"
#include "welld/unique_fd.hpp"

namespace t = welld::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRecorder = SIGNAL_RECORDER_PATH;
constexpr const char* kOrphanMaker = ORPHAN_MAKER_PATH;
constexpr const char* kTini = "/usr/bin/tini";
constexpr const char* kDumbInit = "/usr/bin/dumb-init";

std::vector<std::string> base_env(const std::vector<std::string>& more = {}) {
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

std::vector<std::string> welld_run(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {WELLD_CLI_PATH, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The same command as the PID 1 of a new PID namespace (with its own /proc).
// --kill-child: the namespace's PID 1 dies with unshare, so a test that ends
// early leaves nothing.
std::vector<std::string> as_pid1(const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Root with PID namespaces: a PID 1 can be made here.
bool can_be_pid1() {
  static const bool ok = ::geteuid() == 0 && t::run(as_pid1({"/bin/true"}), 30s).exit_code == 0;
  return ok;
}

// A process the test started: its stdout and stderr in one pipe, the guard ends it.
struct Started {
  pid_t pid = -1;
  welld::UniqueFd out;
  t::ProcessGuard guard;

  // Its raw wait status once it exits within `timeout`, else -1.
  int wait(std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t got = ::waitpid(pid, &status, WNOHANG);
      if (got == pid) return status;
      if (got < 0) return -1;
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }
  int exit_code(std::chrono::milliseconds timeout = 60s) const {
    int status = wait(timeout);
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

// Start argv with `env`; `keep_fd` (when >= 0) is inherited at its own number.
Started start(const std::vector<std::string>& argv, const std::vector<std::string>& env = base_env(),
              int keep_fd = -1) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();  // no controlling terminal, whatever runs the tests: welld run's session choice is known
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (keep_fd >= 0) ::fcntl(keep_fd, F_SETFD, 0);
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

// Every line of `log` ("PID signal N") that names signal `sig`.
std::vector<std::string> lines_with(const std::string& log, int sig) {
  std::vector<std::string> found;
  std::istringstream in(t::exists(log) ? t::read_file(log) : "");
  std::string line;
  std::string want = " signal " + std::to_string(sig);
  while (std::getline(in, line)) {
    if (line.size() >= want.size() && line.compare(line.size() - want.size(), want.size(), want) == 0) {
      found.push_back(line);
    }
  }
  return found;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

// The one child of `pid`, once it has one running `comm`; -1 when none came.
pid_t child_running(pid_t pid, const std::string& comm) {
  pid_t found = -1;
  wait_for([&] {
    for (pid_t c : t::children_of(pid)) {
      auto stat = t::proc_stat(c);
      if (stat.size() > 2 && stat[2] == comm) found = c;
    }
    return found > 0;
  });
  return found;
}

// The signals welld run forwards (every catchable one but the synchronous
// faults and SIGCHLD), without TERM and INT, which end signal_recorder.
std::vector<int> forwarded_signals_but_term_and_int() {
  std::set<int> never = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,
                         SIGTRAP, SIGSYS,  SIGABRT, SIGCHLD, SIGTERM, SIGINT};
  std::vector<int> sigs;
  for (int sig = 1; sig < 32; ++sig) {
    if (!never.contains(sig)) sigs.push_back(sig);
  }
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) sigs.push_back(sig);
  return sigs;
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

// ---- exit codes ----------------------------------------------------------------------

TEST(RunCli, ExitsWithEveryStatusOfCommandFrom0To255) {
  for (int code = 0; code <= 255; ++code) {
    auto r = t::run(welld_run({"--", "/bin/sh", "-c", "exit " + std::to_string(code)}), 60s, base_env());
    ASSERT_EQ(r.exit_code, code) << r.err;
  }
}

TEST(RunCli, ExitsWith128PlusTheSignalThatKilledCommand) {
  // No core-dumping signal: a core file would land in COMMAND's directory.
  for (int sig : {SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGALRM, SIGTERM, SIGRTMIN + 1}) {
    auto r = t::run(welld_run({"--", "/bin/sh", "-c", "kill -" + std::to_string(sig) + " $$"}), 60s, base_env());
    EXPECT_EQ(r.exit_code, 128 + sig) << "signal " << sig << ": " << r.err;
  }
}

TEST(RunCli, CommandNotFoundIs127NotExecutableIs126) {
  t::TempDir dir;
  auto missing = t::run(welld_run({"--", dir / "missing"}), 60s, base_env());
  EXPECT_EQ(missing.exit_code, 127) << missing.err;
  EXPECT_NE(missing.err.find("welld: run: "), std::string::npos) << missing.err;
  t::write_file(dir / "plain", "#!/bin/sh\nexit 0\n");
  ASSERT_EQ(::chmod((dir / "plain").c_str(), 0644), 0);
  auto plain = t::run(welld_run({"--", dir / "plain"}), 60s, base_env());
  EXPECT_EQ(plain.exit_code, 126) << plain.err;
}

TEST(RunCli, ItsOwnFailuresAre125) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--grace", "soon", "--", "/bin/true"},
           {"--rewrite", "TERM", "--", "/bin/true"},
           {"--rewrite", "NOPE:TERM", "--", "/bin/true"},
           {"--no-such-option", "--", "/bin/true"},
           {"--notify-fd", "77", "--", "/bin/true"},
           {"--child-pidfile", "/tmp/x.pid", "--", "/bin/true"},
       }) {
    auto r = t::run(welld_run(args), 60s, base_env());
    EXPECT_EQ(r.exit_code, 125) << args.front() << ": " << r.err;
    EXPECT_NE(r.err.find("welld: run: "), std::string::npos) << r.err;
  }
  t::TempDir dir;
  auto not_ready = t::run(
      welld_run({"--ready=file:" + (dir / "never"), "--ready-timeout", "300ms", "--", "/bin/sleep", "1000"}), 60s,
      base_env());
  EXPECT_EQ(not_ready.exit_code, 125) << not_ready.err;
}

TEST(RunCli, ExitCodesAsPid1ComparedWithTini) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  if (!t::exists(kTini)) GTEST_SKIP() << "tini is not installed (scripts/deps.sh)";
  for (std::string script : {"exit 0", "exit 3", "exit 255", "kill -TERM $$", "kill -KILL $$"}) {
    auto welld = t::run(as_pid1(welld_run({"--", "/bin/sh", "-c", script})), 60s, base_env());
    auto tini = t::run(as_pid1({kTini, "--", "/bin/sh", "-c", script}), 60s, base_env());
    EXPECT_EQ(welld.exit_code, tini.exit_code) << script << ": " << welld.err << tini.err;
    EXPECT_GE(welld.exit_code, 0) << script;
  }
}

// ---- reaping -------------------------------------------------------------------------

TEST(RunCli, AsPid1ReapsAHundredOrphanedGrandchildren) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  auto r = t::run(as_pid1(welld_run({"--", kOrphanMaker, "100", "200"})), 60s, base_env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("orphans 100 zombies 0"), std::string::npos) << r.out << r.err;
}

TEST(RunCli, ReapsAHundredOrphansAsPid1ComparedWithTiniAndDumbInit) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  std::vector<std::vector<std::string>> inits = {welld_run({"--"})};
  if (t::exists(kTini)) inits.push_back({kTini, "--"});
  if (t::exists(kDumbInit)) inits.push_back({kDumbInit});
  if (inits.size() == 1) GTEST_SKIP() << "neither tini nor dumb-init is installed (scripts/deps.sh)";
  for (auto argv : inits) {
    std::string init = argv.front();
    argv.insert(argv.end(), {kOrphanMaker, "100", "200"});
    auto r = t::run(as_pid1(argv), 60s, base_env());
    EXPECT_EQ(r.exit_code, 0) << init << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("orphans 100 zombies 0"), std::string::npos) << init << ": " << r.out;
  }
}

TEST(RunCli, AsASubreaperNotPid1ReapsAHundredOrphans) {
  auto r = t::run(welld_run({"--", kOrphanMaker, "100", "200"}), 60s, base_env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("orphans 100 zombies 0"), std::string::npos) << r.out << r.err;
}

// ---- signals -------------------------------------------------------------------------

TEST(RunCli, AsPid1ForwardsEveryCatchableSignal) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  t::TempDir dir;
  std::string log = dir / "signals.log";
  Started s = start(as_pid1(welld_run({"--", kRecorder, log})));
  ASSERT_GT(s.pid, 0);
  ASSERT_NE(t::read_until(s.out.get(), "ready").find("ready"), std::string::npos);
  pid_t welld = child_running(s.pid, "welld");
  ASSERT_GT(welld, 0);
  for (int sig : forwarded_signals_but_term_and_int()) {
    ASSERT_EQ(::kill(welld, sig), 0) << sig;
    EXPECT_TRUE(wait_for([&] { return lines_with(log, sig).size() == 1; })) << "signal " << sig << " not forwarded";
  }
  ASSERT_EQ(::kill(welld, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 0);  // the recorder exits 0 on TERM, and so does welld, and the namespace ends
  EXPECT_EQ(lines_with(log, SIGTERM).size(), 1U);
}

TEST(RunCli, ForwardsSignalsAndStopsItselfAfterTstpWhenNotPid1) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  Started s = start(welld_run({"--", kRecorder, log}));
  ASSERT_NE(t::read_until(s.out.get(), "ready").find("ready"), std::string::npos);
  for (int sig : {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGRTMIN + 3}) {
    ASSERT_EQ(::kill(s.pid, sig), 0);
    EXPECT_TRUE(wait_for([&] { return lines_with(log, sig).size() == 1; })) << "signal " << sig;
  }
  ASSERT_EQ(::kill(s.pid, SIGTSTP), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGTSTP).size() == 1; }));
  // welld stops itself (job control: the shell sees its job stopped)...
  int status = 0;
  ASSERT_EQ(::waitpid(s.pid, &status, WUNTRACED), s.pid);
  EXPECT_TRUE(WIFSTOPPED(status));
  // ...and CONT resumes it, forwarded too.
  ASSERT_EQ(::kill(s.pid, SIGCONT), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGCONT).size() == 1; }));
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 0);
}

TEST(RunCli, RewritesAndDropsSignals) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  Started s = start(welld_run({"--rewrite", "USR1:USR2", "--rewrite", "HUP:0", "--", kRecorder, log}));
  ASSERT_NE(t::read_until(s.out.get(), "ready").find("ready"), std::string::npos);
  ASSERT_EQ(::kill(s.pid, SIGHUP), 0);
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGUSR2).size() == 1; }));
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_TRUE(lines_with(log, SIGUSR1).empty());
  EXPECT_TRUE(lines_with(log, SIGHUP).empty()) << "HUP:0 drops it";
}

TEST(RunCli, ProcessGroupModeSignalsTheWholeGroup) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  std::string script = std::string(kRecorder) + " " + log + " & exec " + kRecorder + " " + log;
  Started s = start(welld_run({"--process-group", "--", "/bin/sh", "-c", script}));
  std::string out;
  ASSERT_TRUE(wait_for([&] {
    out += t::read_until(s.out.get(), "ready");
    return out.find("ready") != out.rfind("ready");
  }));
  pid_t child = child_running(s.pid, "signal_recorder");
  ASSERT_GT(child, 0);
  EXPECT_EQ(t::proc_stat(child)[6], std::to_string(child)) << "its own session";
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGUSR1).size() == 2; })) << t::read_file(log);
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_EQ(lines_with(log, SIGTERM).size(), 2U);
}

TEST(RunCli, WithoutATerminalCommandHasASessionOfItsOwnAndOnlyItIsSignalled) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  std::string script = std::string(kRecorder) + " " + log + " & exec " + kRecorder + " " + log;
  Started s = start(welld_run({"--", "/bin/sh", "-c", script}));
  std::string out;
  ASSERT_TRUE(wait_for([&] {
    out += t::read_until(s.out.get(), "ready");
    return out.find("ready") != out.rfind("ready");
  }));
  pid_t child = child_running(s.pid, "signal_recorder");
  ASSERT_GT(child, 0);
  EXPECT_EQ(t::proc_stat(child)[6], std::to_string(child)) << "its own session";
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  ASSERT_TRUE(wait_for([&] { return lines_with(log, SIGUSR1).size() == 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(lines_with(log, SIGUSR1).size(), 1U) << "only COMMAND itself";
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  // COMMAND exits 0 on TERM; the other recorder, left behind, gets TERM at the end.
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_EQ(lines_with(log, SIGTERM).size(), 2U);
}

TEST(RunCli, ItsOwnParentDeathSignalIsForwarded) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  std::string script = std::string(WELLD_CLI_PATH) + " run --pdeathsig TERM -- " + kRecorder + " " + log +
                       " & echo welld $!; wait";
  Started s = start({"/bin/sh", "-c", script});
  std::string out = t::read_until(s.out.get(), "ready");
  auto welld = t::field_after(out, "welld");
  ASSERT_TRUE(welld) << out;
  ASSERT_EQ(::kill(s.pid, SIGKILL), 0);  // welld's parent dies: welld gets TERM, forwards it
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGTERM).size() == 1; }));
  EXPECT_TRUE(wait_for([&] { return !t::alive(static_cast<pid_t>(*welld)); }));
}

TEST(RunCli, TermWhileStartingRollsBackWith143) {
  t::TempDir dir;
  Started s = start(welld_run({"--ready=file:" + (dir / "never"), "--", "/bin/sleep", "1000"}));
  pid_t child = child_running(s.pid, "sleep");
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 143);
  EXPECT_FALSE(t::alive(child));
}

TEST(RunCli, WithRespawnTermIsFinal) {
  t::TempDir dir;
  std::string starts = dir / "starts";
  Started s = start(
      welld_run({"--respawn", "--", "/bin/sh", "-c", "echo start >> " + starts + "; exec /bin/sleep 1000"}));
  pid_t child = child_running(s.pid, "sleep");
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 143);  // sleep was killed by the forwarded TERM, and not restarted
  EXPECT_EQ(t::read_file(starts), "start\n");
}

// ---- the end: what is left gets its grace ---------------------------------------------

TEST(RunCli, AdoptedDaemonsGetTermAndEndWithinTheGrace) {
  auto begin = std::chrono::steady_clock::now();
  auto r = t::run(welld_run({"--grace", "30s", "--", "/bin/sh", "-c", "setsid /bin/sleep 1000 & echo $!; exit 3"}), 60s,
                  base_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 20s) << "sleep obeys TERM: no need to wait the grace";
  auto pid = t::field_after("pid " + r.out, "pid");
  ASSERT_TRUE(pid) << r.out;
  EXPECT_FALSE(t::alive(static_cast<pid_t>(*pid)));
}

TEST(RunCli, WhatIgnoresTermIsKilledAfterTheGrace) {
  auto begin = std::chrono::steady_clock::now();
  auto r = t::run(
      welld_run({"--grace", "1s", "--", "/bin/sh", "-c", "trap '' TERM; /bin/sleep 1000 & echo $!; exit 0"}), 60s,
      base_env());
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 30s);
  auto pid = t::field_after("pid " + r.out, "pid");
  ASSERT_TRUE(pid) << r.out;
  EXPECT_FALSE(t::alive(static_cast<pid_t>(*pid)));
}

TEST(RunCli, AsPid1AdoptedDaemonsGetTheirGrace) {
  if (!can_be_pid1()) GTEST_SKIP() << "needs root and PID namespaces";
  auto begin = std::chrono::steady_clock::now();
  auto r = t::run(as_pid1(welld_run({"--grace", "1s", "--", "/bin/sh", "-c",
                                     "(trap '' TERM; setsid /bin/sleep 1000 &); setsid /bin/sleep 1000 & exit 4"})),
                  60s, base_env());
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_GE(took, 900ms) << "the sleep that ignores TERM had its grace";
  EXPECT_LT(took, 30s);
}

// ---- readiness upward ------------------------------------------------------------------

TEST(RunCli, TellsTheManagersNotifySocketOnceCommandIsReady) {
  t::TempDir dir;
  welld::NotifyServer manager;
  ASSERT_FALSE(welld::NotifyServer::open("", manager));
  std::string flag = dir / "up";
  Started s = start(welld_run({"--ready=file:" + flag, "--", "/bin/sh", "-c",
                               "/bin/sleep 0.2; : > " + flag + "; exec /bin/sleep 1000"}),
                    base_env({"NOTIFY_SOCKET=" + manager.address()}));
  pid_t child = child_running(s.pid, "sh");
  ASSERT_GT(child, 0);
  pollfd p{manager.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 30000), 1);
  EXPECT_TRUE(t::exists(flag)) << "READY=1 only once COMMAND is ready";
  std::error_code ec;
  auto d = manager.receive(ec);
  ASSERT_TRUE(d) << ec.message();
  EXPECT_EQ(d->sender, s.pid);
  EXPECT_TRUE(d->message.ready);
  EXPECT_EQ(d->message.main_pid, child);
  EXPECT_TRUE(d->message.status.has_value());
  for (const auto& e : t::proc_environ(child)) EXPECT_FALSE(e.starts_with("NOTIFY_SOCKET=")) << e;
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 143);
  ASSERT_EQ(::poll(&p, 1, 30000), 1);
  auto last = manager.receive(ec);
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->message.stopping);
}

TEST(RunCli, WritesANewlineOnItsNotifyFdThenClosesIt) {
  t::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  welld::UniqueFd read_end(fds[0]);
  ASSERT_EQ(::dup2(fds[1], 9), 9);
  ::close(fds[1]);
  std::string flag = dir / "up";
  Started s = start(welld_run({"--notify-fd", "9", "--ready=file:" + flag, "--", "/bin/sh", "-c",
                               "/bin/sleep 0.2; : > " + flag + "; exec /bin/sleep 1000"}),
                    base_env(), 9);
  ::close(9);
  std::string got = read_all(read_end.get());  // a newline, then EOF: welld closed it, COMMAND never had it
  EXPECT_EQ(got, "\n");
  EXPECT_TRUE(t::exists(flag));
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 143);
}

TEST(RunCli, CreatesItsReadyFileWithCommandsPidAndRemovesItAtTheEnd) {
  t::TempDir dir;
  std::string ready = dir / "ready";
  Started s = start(welld_run({"--ready-file", ready, "--", "/bin/sleep", "1000"}));
  ASSERT_TRUE(wait_for([&] { return t::exists(ready); }));
  pid_t child = child_running(s.pid, "sleep");
  EXPECT_EQ(t::read_file(ready), std::to_string(child) + "\n");
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 143);
  EXPECT_FALSE(t::exists(ready));
}

// ---- a terminal: job control ----------------------------------------------------------

// An interactive shell's foreground job on a pty: COMMAND shares welld's
// process group, so the terminal's ^Z reaches it once (not again from welld),
// welld stops itself (the shell sees its job stopped), CONT resumes it and is
// forwarded, and ^C ends COMMAND, then welld with its status.
TEST(RunCli, OnATerminalKeepsJobControlAndSendsNothingTwice) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  std::vector<std::string> argv = welld_run({"--", kRecorder, log});
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  welld::UniqueFd pty(master);
  t::ProcessGuard guard(pid);
  ASSERT_NE(t::read_until(pty.get(), "ready").find("ready"), std::string::npos);
  pid_t child = child_running(pid, "signal_recorder");
  ASSERT_GT(child, 0);
  EXPECT_EQ(t::proc_stat(child)[5], std::to_string(pid)) << "in welld's process group";
  ASSERT_EQ(::write(pty.get(), "\x1a", 1), 1);  // ^Z
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  EXPECT_TRUE(WIFSTOPPED(status));
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGTSTP).size() == 1; }));
  ASSERT_EQ(::kill(pid, SIGCONT), 0);  // the shell's fg
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGCONT).size() == 1; }));
  EXPECT_EQ(lines_with(log, SIGTSTP).size(), 1U) << "the terminal's TSTP, not a second one from welld";
  ASSERT_EQ(::write(pty.get(), "\x03", 1), 1);  // ^C: the recorder logs INT and exits 0
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(lines_with(log, SIGINT).size(), 1U);
}

#ifdef WELLD_FAULT_SHIM_PATH
// Without pidfd_open (Linux before 5.3): the child is pinned by its /proc
// directory and its end is seen on SIGCHLD; forwarding and the status stay.
TEST(RunCli, WithoutPidfdOpenForwardsAndExitsWithTheStatus) {
  t::TempDir dir;
  std::string log = dir / "signals.log";
  std::string fault_log = dir / "fault.log";
  Started s = start(welld_run({"--", kRecorder, log}),
                    base_env({"LD_PRELOAD=" WELLD_FAULT_SHIM_PATH, "WELLD_FAULT=pidfd_open:ENOSYS:all:caller",
                              "WELLD_FAULT_LOG=" + fault_log}));
  ASSERT_NE(t::read_until(s.out.get(), "ready").find("ready"), std::string::npos);
  ASSERT_EQ(::kill(s.pid, SIGUSR1), 0);
  EXPECT_TRUE(wait_for([&] { return lines_with(log, SIGUSR1).size() == 1; }));
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(s.exit_code(), 0);
  EXPECT_NE(t::read_file(fault_log).find("fired pidfd_open"), std::string::npos);
  auto r = t::run(welld_run({"--", "/bin/sh", "-c", "exit 9"}), 60s,
                  base_env({"LD_PRELOAD=" WELLD_FAULT_SHIM_PATH, "WELLD_FAULT=pidfd_open:ENOSYS:all:caller"}));
  EXPECT_EQ(r.exit_code, 9) << r.err;
}
#endif

}  // namespace
