// welld audit: every rule flagged by a process that breaks it; a welld daemon
// passes; start-stop-daemon's blocked mask is caught; uninspectable cases.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "support/test_support.hpp"
#include "welld/audit.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;
using welld::Verdict;

namespace {

// Start rule_breaker MODE with its ready pipe; returns once it is ready.
t::ProcessGuard breaker(const std::string& mode, std::vector<std::string> env, int& keep_read_end) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);  // deliberately inherited by the breaker
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string fd = std::to_string(fds[1]);
    ::execle(RULE_BREAKER_PATH, "rule_breaker", mode.c_str(), fd.c_str(), nullptr, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[8] = {};
  EXPECT_EQ(::read(fds[0], buf, 6), 6) << "rule_breaker did not get ready";
  keep_read_end = fds[0];
  return t::ProcessGuard(pid);
}

const welld::Finding& rule(const welld::AuditReport& r, const std::string& name) {
  for (const auto& f : r.findings) {
    if (f.rule == name) return f;
  }
  static welld::Finding none{"missing", Verdict::pass, {}};
  ADD_FAILURE() << "no rule " << name;
  return none;
}

bool has_evidence(const welld::Finding& f, const std::string& text) {
  return std::ranges::any_of(f.evidence, [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

std::string dump(const welld::Finding& f) {
  std::string out = f.rule + " " + std::string(welld::to_string(f.verdict)) + ":";
  for (const auto& e : f.evidence) out += "\n  " + e;
  return out;
}

TEST(Audit, EachBrokenRuleIsFlaggedWithEvidence) {
  if (!std::filesystem::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm tmpfs to hold a file on another mount";
  int launcher_end = -1;
  auto guard = breaker("all", {"SECRET_TOKEN=hunter2", "LD_PRELOAD=", "PATH=/bin"}, launcher_end);
  pid_t pid = guard.pid();
  welld::AuditReport r;
  ASSERT_FALSE(welld::audit_process(pid, {}, r));
  EXPECT_EQ(r.overall(), Verdict::fail);

  const auto& tty = rule(r, "controlling-terminal");
  EXPECT_EQ(tty.verdict, Verdict::fail) << dump(tty);
  EXPECT_TRUE(has_evidence(tty, "has controlling terminal /dev/pts/")) << dump(tty);
  EXPECT_EQ(rule(r, "session").verdict, Verdict::fail) << dump(rule(r, "session"));
  EXPECT_EQ(rule(r, "parent").verdict, Verdict::warn) << dump(rule(r, "parent"));

  const auto& fds = rule(r, "open-fds");
  EXPECT_EQ(fds.verdict, Verdict::fail) << dump(fds);
  EXPECT_TRUE(has_evidence(fds, "(other end held by pid " + std::to_string(::getpid()))) << dump(fds);
  EXPECT_TRUE(has_evidence(fds, "(deleted file)")) << dump(fds);
  EXPECT_TRUE(has_evidence(fds, "/held (file on mount /dev/shm)")) << dump(fds);
  EXPECT_TRUE(has_evidence(fds, "(a terminal)")) << dump(fds);  // the pty master/slave it holds

  const auto& stdio = rule(r, "stdio");
  EXPECT_EQ(stdio.verdict, Verdict::fail) << dump(stdio);
  EXPECT_TRUE(has_evidence(stdio, "fd 0 -> /dev/pts/")) << dump(stdio);

  const auto& sig = rule(r, "signals");
  EXPECT_EQ(sig.verdict, Verdict::fail) << dump(sig);
  EXPECT_TRUE(has_evidence(sig, "SIGTERM is blocked (SigBlk)")) << dump(sig);
  EXPECT_TRUE(has_evidence(sig, "SIGHUP is ignored (SigIgn)")) << dump(sig);
  EXPECT_TRUE(has_evidence(sig, "SIGUSR1 is ignored (SigIgn)")) << dump(sig);
  EXPECT_FALSE(has_evidence(sig, "SIGPIPE")) << "SIGPIPE is commonly ignored on purpose";

  const auto& env = rule(r, "environment");
  EXPECT_EQ(env.verdict, Verdict::fail) << dump(env);
  EXPECT_TRUE(has_evidence(env, "SECRET_TOKEN looks like a secret (value not shown)")) << dump(env);
  EXPECT_TRUE(has_evidence(env, "LD_PRELOAD is set")) << dump(env);
  for (const auto& e : env.evidence) EXPECT_EQ(e.find("hunter2"), std::string::npos) << "a secret value leaked";

  const auto& mask = rule(r, "umask");
  EXPECT_EQ(mask.verdict, Verdict::warn) << dump(mask);
  const auto& cwd = rule(r, "working-directory");
  EXPECT_EQ(cwd.verdict, Verdict::warn) << dump(cwd);
  EXPECT_TRUE(has_evidence(cwd, "pins mount /dev/shm")) << dump(cwd);
  if (::geteuid() == 0) {
    EXPECT_EQ(rule(r, "credentials").verdict, Verdict::warn);
    EXPECT_TRUE(has_evidence(rule(r, "credentials"), "runs as root"));
  }
  std::filesystem::remove_all("/dev/shm/welld-rule-breaker-" + std::to_string(pid));

  // The CLI: exit 1, the table, and the JSON carry the same verdicts.
  auto table = t::run({WELLD_CLI_PATH, "audit", std::to_string(pid)});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_NE(table.out.find("signals              fail    SIGTERM is blocked (SigBlk)"), std::string::npos) << table.out;
  auto json = t::run({WELLD_CLI_PATH, "audit", "--json", std::to_string(pid)});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.out.find("{\"rule\":\"signals\",\"verdict\":\"fail\""), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("hunter2"), std::string::npos);
  ::close(launcher_end);
}

TEST(Audit, RootGroupsKeptAfterADropFail) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  int launcher_end = -1;
  auto guard = breaker("groups", {"PATH=/bin"}, launcher_end);
  welld::AuditReport r;
  ASSERT_FALSE(welld::audit_process(guard.pid(), {}, r));
  const auto& cred = rule(r, "credentials");
  EXPECT_EQ(cred.verdict, Verdict::fail) << dump(cred);
  EXPECT_TRUE(has_evidence(cred, "kept root's supplementary group 0 after dropping to uid 65534")) << dump(cred);
  EXPECT_TRUE(has_evidence(cred, "effective capabilities 0000000000000400 while not root")) << dump(cred);
  ::close(launcher_end);
}

TEST(Audit, WelldStartedDaemonPassesEveryRule) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  auto r = t::run({WELLD_CLI_PATH, "start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  welld::AuditReport report;
  ASSERT_FALSE(welld::audit_process(guard.pid(), {.pidfile = pidfile}, report));
  for (const auto& f : report.findings) {
    EXPECT_NE(f.verdict, Verdict::fail) << dump(f);
    // Only being root may warn (the test runs as root); everything else passes.
    if (f.rule != "credentials") {
      EXPECT_EQ(f.verdict, Verdict::pass) << dump(f);
    }
  }
  auto cli = t::run({WELLD_CLI_PATH, "audit", "-p", pidfile});
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("pidfile              pass    " + pidfile + " names this process"), std::string::npos)
      << cli.out;
}

TEST(Audit, StartStopDaemonFromATermBlockedParentIsFlagged) {
  const char* ssd = ::access("/sbin/start-stop-daemon", X_OK) == 0       ? "/sbin/start-stop-daemon"
                    : ::access("/usr/sbin/start-stop-daemon", X_OK) == 0 ? "/usr/sbin/start-stop-daemon"
                                                                         : nullptr;
  if (ssd == nullptr) GTEST_SKIP() << "start-stop-daemon not installed";
  t::TempDir dir;
  std::string pidfile = dir / "ssd.pid";
  auto r = t::run({BLOCK_TERM_EXEC_PATH, ssd, "--start", "--background", "--make-pidfile", "--pidfile", pidfile,
                   "--exec", "/bin/sleep", "--", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // --background returns before the PID file is written: wait for it (bounded).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (t::read_file(pidfile).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);  // SIGKILL: SIGTERM is blocked in it
  auto audit = t::run({WELLD_CLI_PATH, "audit", std::to_string(pid)});
  EXPECT_EQ(audit.exit_code, 1) << audit.out;
  EXPECT_NE(audit.out.find("SIGTERM is blocked (SigBlk)"), std::string::npos) << audit.out;
}

TEST(Audit, AProcessChosenNameReachesTheTerminalWithoutControlCharacters) {
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NAME, "x\x1b[2Jy", 0, 0, 0);  // an escape sequence that clears the screen
    (void)!::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  t::ProcessGuard guard(pid);
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  auto r = t::run({WELLD_CLI_PATH, "audit", std::to_string(pid)});
  EXPECT_NE(r.out.find("(x?[2Jy)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
}

TEST(Audit, VanishedAndForbiddenProcessesExit4) {
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  auto r = t::run({WELLD_CLI_PATH, "audit", std::to_string(gone)});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "welld: audit: cannot inspect pid " + std::to_string(gone) + ": no such process\n");
  auto missing = t::run({WELLD_CLI_PATH, "audit", "-p", "/nonexistent/welld.pid"});
  EXPECT_EQ(missing.exit_code, 4);

  if (::geteuid() != 0) GTEST_SKIP() << "the permission case needs root to become nobody";
  t::TempDir dir;
  std::string cli = t::copy_for_anyone(dir, WELLD_CLI_PATH);
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
    std::string self = std::to_string(::getppid());  // the (root) test process
    int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::execl(cli.c_str(), "welld", "audit", self.c_str(), nullptr);
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
}

TEST(Audit, AllListsDaemonLikeProcesses) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  ASSERT_EQ(t::run({WELLD_CLI_PATH, "start", "-p", pidfile, "--", "/bin/sleep", "1000"}).exit_code, 0);
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  auto pids = welld::daemon_like_processes();
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end());
  EXPECT_EQ(std::find(pids.begin(), pids.end(), ::getpid()), pids.end()) << "the test process is no daemon";
  auto all = t::run({WELLD_CLI_PATH, "audit", "--all"});
  EXPECT_NE(all.out.find(std::to_string(pid)), std::string::npos) << all.out;
  auto usage = t::run({WELLD_CLI_PATH, "audit"});
  EXPECT_EQ(usage.exit_code, 2);
}

// A child of the test that sets up its signals with `setup`, says so, and waits.
template <typename Setup>
t::ProcessGuard signal_child(Setup setup) {
  int ready[2];
  EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    setup();
    (void)!::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  EXPECT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  return t::ProcessGuard(pid);
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

// Issue 13 items 17 and 18: a name any user can give its process (prctl) with
// an invalid byte, a C1 CSI (as UTF-8 and as a raw byte), a bidi override and
// an escape reaches neither root's terminal nor breaks the JSON.
TEST(Audit, HostileNamesAreTerminalSafeAndJsonStaysValidUtf8) {
  // U+202E (RIGHT-TO-LEFT OVERRIDE) built at run time: a literal holding it is
  // what misc-misleading-bidirectional rightly refuses in source.
  const std::string rlo = {'\xe2', '\x80', '\xae'};
  std::string name = "a\xff\xc2\x9b\x9b" + rlo + "\x1b[z";
  auto guard = signal_child([&] { ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0); });
  std::string pid = std::to_string(guard.pid());
  auto table = t::run({WELLD_CLI_PATH, "audit", pid});
  EXPECT_TRUE(valid_utf8(table.out)) << table.out;
  for (const std::string& bad :
       {std::string("\x1b"), std::string("\x9b"), std::string("\xc2\x9b"), rlo, std::string("\xff")}) {
    EXPECT_EQ(table.out.find(bad), std::string::npos) << table.out;
  }
  EXPECT_NE(table.out.find("(a?????[z)"), std::string::npos) << table.out;
  auto json = t::run({WELLD_CLI_PATH, "audit", "--json", pid});
  EXPECT_TRUE(valid_utf8(json.out)) << json.out;
  EXPECT_NE(json.out.find(R"("command":"a\ufffd\u009b\ufffd\u202e\u001b[z")"), std::string::npos) << json.out;
  auto all = t::run({WELLD_CLI_PATH, "audit", "--all", "--json"});
  EXPECT_TRUE(valid_utf8(all.out));
}

// Issue 14 item 7: what only the program can have chosen (an ignored or
// blocked HUP or INT) is a warning; what makes control impossible (TERM
// blocked or ignored) stays a failure.
TEST(Audit, IgnoredHupIsAWarningButIgnoredOrBlockedTermFails) {
  auto hup = signal_child([] { ::signal(SIGHUP, SIG_IGN); });
  welld::AuditReport r;
  ASSERT_FALSE(welld::audit_process(hup.pid(), {}, r));
  EXPECT_EQ(rule(r, "signals").verdict, Verdict::warn) << dump(rule(r, "signals"));

  auto intr = signal_child([] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGHUP);
    ::sigprocmask(SIG_BLOCK, &s, nullptr);
  });
  ASSERT_FALSE(welld::audit_process(intr.pid(), {}, r));
  EXPECT_EQ(rule(r, "signals").verdict, Verdict::warn) << dump(rule(r, "signals"));

  auto term = signal_child([] { ::signal(SIGTERM, SIG_IGN); });
  ASSERT_FALSE(welld::audit_process(term.pid(), {}, r));
  EXPECT_EQ(rule(r, "signals").verdict, Verdict::fail) << dump(rule(r, "signals"));

  auto blocked = signal_child([] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &s, nullptr);
  });
  ASSERT_FALSE(welld::audit_process(blocked.pid(), {}, r));
  EXPECT_EQ(rule(r, "signals").verdict, Verdict::fail) << dump(rule(r, "signals"));
}

// The table puts a rule's verdict beside the evidence that caused it.
TEST(Audit, TableShowsEachVerdictBesideItsEvidence) {
  auto guard = signal_child([] {
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
  });
  auto table = t::run({WELLD_CLI_PATH, "audit", std::to_string(guard.pid())});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_NE(table.out.find("\nsignals              warn    SIGHUP is ignored (SigIgn)\n"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("\n                     fail    SIGTERM is ignored (SigIgn)\n"), std::string::npos)
      << table.out;
}

// For reload (and others): whether a live process ignores or blocks a signal.
TEST(Audit, SignalStateTellsIgnoredAndBlocked) {
  auto guard = signal_child([] {
    ::signal(SIGHUP, SIG_IGN);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    ::sigprocmask(SIG_BLOCK, &s, nullptr);
  });
  welld::SignalState st;
  ASSERT_FALSE(welld::signal_state(guard.pid(), SIGHUP, st));
  EXPECT_TRUE(st.ignored);
  EXPECT_FALSE(st.blocked);
  ASSERT_FALSE(welld::signal_state(guard.pid(), SIGUSR2, st));
  EXPECT_FALSE(st.ignored);
  EXPECT_TRUE(st.blocked);
  ASSERT_FALSE(welld::signal_state(guard.pid(), SIGTERM, st));
  EXPECT_FALSE(st.ignored || st.blocked);
  EXPECT_EQ(welld::signal_state(guard.pid(), 0, st), std::errc::invalid_argument);
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  EXPECT_EQ(welld::signal_state(gone, SIGHUP, st), std::errc::no_such_process);
}

// Issue 13 item 22: the audit scanned /proc once per pipe or socket fd. Counted
// with strace: the number of times /proc itself is opened does not grow with
// the fds of the audited process, nor with the number of daemons (--all).
int proc_scans(const std::vector<std::string>& welld_args, const t::TempDir& dir) {
  std::string log = dir / "strace.log";
  std::vector<std::string> argv = {"/usr/bin/strace", "-f", "-qq", "-e", "trace=openat", "-o", log, WELLD_CLI_PATH};
  argv.insert(argv.end(), welld_args.begin(), welld_args.end());
  auto r = t::run(argv);
  std::string text = t::read_file(log);
  int n = 0;
  for (size_t at = 0; (at = text.find("openat(AT_FDCWD, \"/proc\", ", at)) != std::string::npos; ++at) ++n;
  return n;
}

TEST(Audit, ScansOfProcDoNotGrowWithFdsOrDaemons) {
  if (::access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "strace not installed";
  t::TempDir dir;
  // A process holding both ends of 100 pipes: each end is a lookup of who
  // else holds the pipe.
  int ends[200];
  for (int i = 0; i < 100; ++i) ASSERT_EQ(::pipe2(&ends[static_cast<size_t>(2 * i)], 0), 0);
  pid_t holder = ::fork();
  if (holder == 0) {
    for (;;) ::pause();  // holds every pipe fd, outside the audited tree
  }
  t::ProcessGuard holder_guard(holder);
  for (int fd : ends) ::close(fd);
  int scans = proc_scans({"audit", std::to_string(holder)}, dir);
  EXPECT_GE(scans, 1);
  EXPECT_LE(scans, 2) << "a /proc scan per pipe fd";
  std::string p1 = dir / "a.pid", p2 = dir / "b.pid";
  ASSERT_EQ(t::run({WELLD_CLI_PATH, "start", "-p", p1, "--", "/bin/sleep", "1000"}).exit_code, 0);
  t::ProcessGuard d1(t::pid_in(p1));
  ASSERT_EQ(t::run({WELLD_CLI_PATH, "start", "-p", p2, "--", "/bin/sleep", "1000"}).exit_code, 0);
  t::ProcessGuard d2(t::pid_in(p2));
  int all = proc_scans({"audit", "--all"}, dir);
  EXPECT_LE(all, 3) << "a /proc scan per daemon";
}

}  // namespace
