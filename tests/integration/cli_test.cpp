// The welld CLI end to end: real daemons, inspected through /proc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <set>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// A started daemon, killed at the end of the test whatever happens.
struct Started {
  t::RunResult result;
  pid_t pid = -1;
  t::ProcessGuard guard;
};

Started start(const std::string& pidfile, std::vector<std::string> extra,
              std::vector<std::string> command = {"/bin/sleep", "1000"},
              const std::optional<std::vector<std::string>>& env = std::nullopt) {
  std::vector<std::string> args = {"start", "-p", pidfile};
  args.insert(args.end(), extra.begin(), extra.end());
  args.emplace_back("--");
  args.insert(args.end(), command.begin(), command.end());
  Started s;
  s.result = t::welld_cli(args, 120s, env);
  if (s.result.exit_code == 0) {
    s.pid = t::pid_in(pidfile);
    s.guard.reset(s.pid);
    EXPECT_TRUE(t::wait_for_exec(s.pid)) << "pid " << s.pid << " did not finish its exec";
  }
  return s;
}

TEST(Cli, StartStatusStop) {
  t::TempDir dir;
  std::string pidfile = dir / "sleep.pid";
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  ASSERT_GT(s.pid, 1);
  // The PID file names COMMAND itself, a clean daemon.
  EXPECT_EQ(t::read_file(pidfile), std::to_string(s.pid) + "\n");
  EXPECT_EQ(t::proc_stat(s.pid)[2], "sleep");
  EXPECT_EQ(t::proc_stat(s.pid)[7], "0");
  EXPECT_NE(t::proc_stat(s.pid)[6], std::to_string(s.pid));
  struct stat st {};
  ASSERT_EQ(::stat(pidfile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644U);

  auto status = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("sleep is running (pid " + std::to_string(s.pid)), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("/bin/sleep 1000"), std::string::npos) << status.out;

  auto stop = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(s.guard.wait_gone(10s));
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 3);
  auto again = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(again.exit_code, 0) << "stop of a stopped daemon is success (LSB)";
  EXPECT_NE(again.out.find("not running"), std::string::npos);
}

TEST(Cli, DefaultsUmaskChdirAndEnvironment) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8",      "LC_TIME=C", "SECRET_TOKEN=x",
                                  "LD_PRELOAD=",        "HOME=/nonexistent", "TZ=UTC"};
  Started s = start(pidfile, {}, {"/bin/sleep", "1000"}, env);
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  EXPECT_EQ(t::proc_status(s.pid)["Umask"], "0022");
  EXPECT_EQ(t::proc_cwd(s.pid), "/");
  auto e = t::proc_environ(s.pid);
  std::set<std::string> got(e.begin(), e.end());
  EXPECT_EQ(got, (std::set<std::string>{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_TIME=C", "TZ=UTC"}));
}

TEST(Cli, EnvironmentOptions) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::vector<std::string> env = {"SECRET_TOKEN=x", "APP_ONE=1", "APP_TWO=2", "LD_PRELOAD=", "MALLOC_ARENA_MAX=2"};
  Started s = start(pidfile, {"--env", "GREETING=hi", "--keep-env", "APP_*", "--umask", "077", "--chdir", dir.path()},
                    {"/bin/sleep", "1000"}, env);
  ASSERT_EQ(s.result.exit_code, 0) << s.result.err;
  auto e = t::proc_environ(s.pid);
  std::set<std::string> got(e.begin(), e.end());
  std::string default_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  EXPECT_EQ(got, (std::set<std::string>{default_path, "GREETING=hi", "APP_ONE=1", "APP_TWO=2"}));
  EXPECT_EQ(t::proc_status(s.pid)["Umask"], "0077");
  EXPECT_EQ(t::proc_cwd(s.pid), dir.path());

  std::string pidfile2 = dir / "e.pid";
  Started all = start(pidfile2, {"--inherit-env"}, {"/bin/sleep", "1000"}, env);
  ASSERT_EQ(all.result.exit_code, 0) << all.result.err;
  auto e2 = t::proc_environ(all.pid);
  std::set<std::string> got2(e2.begin(), e2.end());
  EXPECT_TRUE(got2.count("SECRET_TOKEN=x"));
  EXPECT_FALSE(got2.count("LD_PRELOAD="));
  EXPECT_FALSE(got2.count("MALLOC_ARENA_MAX=2"));
  EXPECT_NE(all.result.err.find("welld: start: warning: not passing LD_PRELOAD"), std::string::npos) << all.result.err;
  EXPECT_NE(all.result.err.find("not passing MALLOC_ARENA_MAX"), std::string::npos);

  std::string pidfile3 = dir / "f.pid";
  Started kept = start(pidfile3, {"--inherit-env", "--keep-env", "LD_PRELOAD"}, {"/bin/sleep", "1000"}, env);
  ASSERT_EQ(kept.result.exit_code, 0) << kept.result.err;
  auto e3 = t::proc_environ(kept.pid);
  EXPECT_TRUE(std::set<std::string>(e3.begin(), e3.end()).count("LD_PRELOAD="));
}

TEST(Cli, OutputOptions) {
  t::TempDir dir;
  std::string out = dir / "out.log", err = dir / "err.log", both = dir / "both.log";
  t::write_file(out, "earlier\n");
  std::vector<std::string> script = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; exec sleep 1000"};
  Started a = start(dir / "a.pid", {"--stdout", out, "--stderr", err}, script);
  ASSERT_EQ(a.result.exit_code, 0) << a.result.err;
  Started b = start(dir / "b.pid", {"--output", both}, script);
  ASSERT_EQ(b.result.exit_code, 0) << b.result.err;
  // The shell execs sleep after writing: wait until it has.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((t::proc_stat(a.pid)[2] != "sleep" || t::proc_stat(b.pid)[2] != "sleep") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);  // no readiness protocol for a plain shell
  }
  EXPECT_EQ(t::read_file(out), "earlier\nto-out\n") << "stdout is appended to";
  EXPECT_EQ(t::read_file(err), "to-err\n");
  std::string b_text = t::read_file(both);
  EXPECT_NE(b_text.find("to-out\n"), std::string::npos);
  EXPECT_NE(b_text.find("to-err\n"), std::string::npos);
  EXPECT_EQ(t::proc_fds(a.pid)[0], "/dev/null");
}

TEST(Cli, AlreadyRunningAndOkIfRunningAndName) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0);
  auto second = t::welld_cli({"start", "-p", pidfile, "--name", "web", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(second.err, "welld: start: web: already running (pid " + std::to_string(s.pid) + ")\n");
  auto ok = t::welld_cli({"start", "-p", pidfile, "--ok-if-running", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_NE(ok.out.find("already running (pid " + std::to_string(s.pid) + ")"), std::string::npos);
  EXPECT_EQ(t::pid_in(pidfile), s.pid);
}

// The ready file of the running daemon exists already: that is no reason to
// refuse, --ok-if-running answers "running" whatever --ready says.
TEST(Cli, OkIfRunningWinsOverReadyFilePrecheck) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::string ready = dir / "ready";
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0);
  t::write_file(ready, "");
  auto ok = t::welld_cli(
      {"start", "-p", pidfile, "--ok-if-running", "--ready=file:" + ready, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("already running (pid " + std::to_string(s.pid) + ")"), std::string::npos) << ok.out;
  EXPECT_EQ(t::pid_in(pidfile), s.pid);
  auto refused = t::welld_cli({"start", "-p", dir / "other.pid", "--ready=file:" + ready, "--", "/bin/sleep", "1000"});
  EXPECT_NE(refused.exit_code, 0) << "without a running daemon the precheck still refuses";
}

TEST(Cli, ExecFailuresExit5AndLeaveNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::string not_exec = dir / "plain.txt";
  t::write_file(not_exec, "not a program\n");
  ::chmod(not_exec.c_str(), 0644);
  std::string bad_format = dir / "bad";
  t::write_file(bad_format, std::string("\x7f"
                                        "ELF garbage",
                                        12));
  ::chmod(bad_format.c_str(), 0755);
  struct Case {
    std::string command;
    std::string message;
  };
  std::vector<Case> cases = {
      {"no-such-program-welld", "cannot execute no-such-program-welld: No such file or directory"},
      {dir / "missing", "cannot execute " + (dir / "missing") + ": No such file or directory"},
      {bad_format, "cannot execute " + bad_format + ": Exec format error"},
  };
  if (::geteuid() != 0) {
    cases.push_back({not_exec, "cannot execute " + not_exec + ": Permission denied"});
  }
  for (const auto& c : cases) {
    auto r = t::welld_cli({"start", "-p", pidfile, "--", c.command});
    EXPECT_EQ(r.exit_code, 5) << c.command << ": " << r.err;
    EXPECT_EQ(r.err, "welld: start: " + c.message + "\n");
    EXPECT_FALSE(t::exists(pidfile)) << c.command;
  }
}

TEST(Cli, UsageErrorsExit2) {
  t::TempDir dir;
  std::string p = dir / "d.pid";
  std::vector<std::vector<std::string>> bad = {
      {"start", "-p", p},
      {"start", "-p", "", "--", "/bin/true"},
      {"start", "--umask", "999", "--", "/bin/true"},
      {"start", "--umask", "abc", "--", "/bin/true"},
      {"start", "--env", "NOEQUALS", "--", "/bin/true"},
      {"start", "--output", "x", "--stdout", "y", "--", "/bin/true"},
      {"start", "--chdir", "", "--", "/bin/true"},
      {"stop"},
      {"stop", "-p", p, "--timeout", "soon"},
      {"stop", "-p", p, "--signal", "NOSUCH"},
      {"reload", "-p", p, "--signal", "99"},
      {"frobnicate"},
      {},
  };
  for (const auto& args : bad) {
    auto r = t::welld_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(r.err.rfind("welld: ", 0), 0U) << r.err;
  }
  EXPECT_FALSE(t::exists(p));
}

TEST(Cli, HelpDocumentsExitCodes) {
  auto top = t::welld_cli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("status: 0 running, 1 dead but PID file exists, 3 not running, 4 unknown"), std::string::npos);
  for (std::string verb : {"start", "stop", "status", "reload", "restart"}) {
    auto r = t::welld_cli({verb, "--help"});
    EXPECT_EQ(r.exit_code, 0) << verb;
    EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << verb;
  }
}

// main() creates only the named verb's subcommand: a second verb after it is
// still one usage line and exit 2, and --version and help still print (the
// standard streams are built on demand, tools/welld/cli11.hpp).
TEST(Cli, OnlyTheNamedVerbIsDefinedYetUsageAndHelpHold) {
  auto extra = t::welld_cli({"status", "stop", "-p", "/nonexistent/x.pid"});
  EXPECT_EQ(extra.exit_code, 2) << extra.err;
  EXPECT_EQ(std::count(extra.err.begin(), extra.err.end(), '\n'), 1) << extra.err;
  EXPECT_EQ(extra.err.rfind("welld: status: ", 0), 0U) << extra.err;
  auto version = t::welld_cli({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("welld ", 0), 0U) << version.out;
  auto help = t::welld_cli({"status", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: welld status -p FILE"), std::string::npos) << help.out;
}

TEST(Cli, SixteenConcurrentStartsLeaveOneDaemon) {
  t::TempDir dir;
  std::string pidfile = dir / "race.pid";
  std::vector<std::future<t::RunResult>> racers;
  racers.reserve(16);
  for (int i = 0; i < 16; ++i) {
    racers.push_back(std::async(std::launch::async, [&] {
      return t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
    }));
  }
  std::vector<t::RunResult> results;
  results.reserve(racers.size());
  for (auto& r : racers) results.push_back(r.get());
  pid_t winner = t::pid_in(pidfile);
  t::ProcessGuard guard(winner);
  int ok = 0;
  for (const auto& r : results) {
    if (r.exit_code == 0) {
      ++ok;
      continue;
    }
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "welld: start: already running (pid " + std::to_string(winner) + ")\n");
  }
  EXPECT_EQ(ok, 1);
  EXPECT_TRUE(t::alive(winner));
  // No other sleep 1000 of ours survived: every loser's daemon has exited.
  for (const auto& r : results) EXPECT_FALSE(r.timed_out);
}

TEST(Cli, ReusedPidIsNeverSignalled) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0);
  s.guard.reset();  // kill the daemon; the PID file (with its identity) stays
  ASSERT_TRUE(t::exists(pidfile));
  // The file now names an unrelated live process, as after PID reuse.
  auto other = t::sleeping_child();
  {
    // Rewrite the contents in place (the identity record stays with the file).
    FILE* f = std::fopen(pidfile.c_str(), "r+");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(::ftruncate(::fileno(f), 0), 0);
    std::fprintf(f, "%d\n", other.pid());
    std::fclose(f);
  }
  auto status = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(status.exit_code, 1) << status.out << status.err;
  EXPECT_NE(status.out.find("now belongs to another process"), std::string::npos) << status.out;
  auto stop = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  auto reload = t::welld_cli({"reload", "-p", pidfile});
  EXPECT_EQ(reload.exit_code, 7);
  EXPECT_TRUE(t::alive(other.pid())) << "stop signalled a stranger";
  Started again = start(pidfile, {});
  EXPECT_EQ(again.result.exit_code, 0) << again.result.err;
  EXPECT_TRUE(t::alive(other.pid()));
}

TEST(Cli, SymlinkedPidfileIsRefused) {
  t::TempDir dir;
  std::string target = dir / "precious";
  t::write_file(target, "keep\n");
  std::string pidfile = dir / "d.pid";
  ASSERT_EQ(::symlink(target.c_str(), pidfile.c_str()), 0);
  auto r = t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: refusing PID file " + pidfile + ": it is a symbolic link\n");
  EXPECT_EQ(t::read_file(target), "keep\n");
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 1);
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 4);
  EXPECT_EQ(t::read_file(target), "keep\n");
}

TEST(Cli, GarbagePidfilesNeverLeadToASignal) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  // Our own shell-like parent and ourselves must never be signalled either.
  std::vector<std::string> contents = {"",
                                       "abc",
                                       "-1",
                                       "0",
                                       "1",
                                       "99999999999",
                                       std::string(10240, '7'),
                                       std::to_string(::getpid()) + "\n",
                                       std::to_string(::getppid()) + "\n"};
  for (const auto& c : contents) {
    t::write_file(pidfile, c);
    auto stop = t::welld_cli({"stop", "-p", pidfile, "--signal", "KILL"});
    EXPECT_EQ(stop.exit_code, 1) << '"' << c.substr(0, 12) << "\": " << stop.err;
    EXPECT_NE(stop.err.find("refusing to signal"), std::string::npos) << stop.err;
    EXPECT_EQ(t::welld_cli({"reload", "-p", pidfile, "--signal", "KILL"}).exit_code, 1);
    EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 4);
  }
  // We are alive to assert it. An empty file or a number that is no PID does
  // not block start; other data is never replaced (issue 13 item 13).
  t::write_file(pidfile, "abc");
  EXPECT_EQ(start(pidfile, {}).result.exit_code, 1);
  EXPECT_EQ(t::read_file(pidfile), "abc");
  for (const auto& c : {std::string("0"), std::string("")}) {
    t::write_file(pidfile, c);
    Started s = start(pidfile, {});
    EXPECT_EQ(s.result.exit_code, 0) << s.result.err;
    EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  }
}

TEST(Cli, StopEscalatesToSigkill) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::string ready = dir / "ready";
  Started s = start(pidfile, {}, {"/bin/sh", "-c", "trap '' TERM; touch " + ready + "; while :; do sleep 1; done"});
  ASSERT_EQ(s.result.exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::exists(ready) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(t::exists(ready)) << "the TERM trap was never installed";
  auto stop = t::welld_cli({"stop", "-p", pidfile, "--timeout", "300ms"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.err.find("did not stop within 300ms after SIGTERM; sent SIGKILL"), std::string::npos) << stop.err;
  EXPECT_TRUE(s.guard.wait_gone(10s));
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(Cli, DaemonFromTermBlockedParentStillStops) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  auto r = t::run({BLOCK_TERM_EXEC_PATH, WELLD_CLI_PATH, "start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  auto status = t::proc_status(pid);
  EXPECT_FALSE(t::mask_has(status["SigBlk"], SIGTERM));
  EXPECT_FALSE(t::mask_has(status["SigIgn"], SIGHUP));
  auto stop = t::welld_cli({"stop", "-p", pidfile, "--timeout", "30s"});
  EXPECT_EQ(stop.exit_code, 0);
  EXPECT_NE(stop.out.find("stopped"), std::string::npos) << "needed SIGKILL: " << stop.out << stop.err;
  EXPECT_TRUE(guard.wait_gone(10s));
}

TEST(Cli, ReloadSendsHupAndSevenWhenNotRunning) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::string log = dir / "log";
  std::string ready = dir / "ready";
  Started s = start(pidfile, {"--output", log},
                    {"/bin/sh", "-c", "trap 'echo reloaded' HUP; touch " + ready + "; while :; do sleep 0.05; done"});
  ASSERT_EQ(s.result.exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::exists(ready) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  auto r = t::welld_cli({"reload", "-p", pidfile});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  while (t::read_file(log).find("reloaded") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(t::read_file(log).find("reloaded"), std::string::npos);
  EXPECT_TRUE(t::alive(s.pid));
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  auto gone = t::welld_cli({"reload", "-p", pidfile});
  EXPECT_EQ(gone.exit_code, 7);
  EXPECT_NE(gone.err.find("not running"), std::string::npos);
}

TEST(Cli, StatusCodes) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 3);
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0);
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 0);
  s.guard.reset();  // dies; the file remains
  auto dead = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(dead.exit_code, 1);
  EXPECT_NE(dead.out.find("is not running, but its PID file remains"), std::string::npos);
  t::write_file(pidfile, "garbage");
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 4);
}

TEST(Cli, RestartReplacesTheDaemon) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Started s = start(pidfile, {});
  ASSERT_EQ(s.result.exit_code, 0);
  auto r = t::welld_cli({"restart", "-p", pidfile, "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t fresh = t::pid_in(pidfile);
  t::ProcessGuard guard(fresh);
  EXPECT_NE(fresh, s.pid);
  EXPECT_TRUE(s.guard.wait_gone(10s));
  EXPECT_TRUE(t::alive(fresh));
  // restart of a stopped service just starts it
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  auto r2 = t::welld_cli({"restart", "-p", pidfile, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r2.exit_code, 0);
  t::ProcessGuard guard2(t::pid_in(pidfile));
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

}  // namespace
