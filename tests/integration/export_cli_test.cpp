// welld export FORMAT: what each format refuses, that an export writes
// nothing but its files, and round trips through the real managers (Debian's
// s6, runit and supervisor; welld itself for the sysv script): a program that
// records its argv and environment (tests/helpers/print_args) is exported
// with arguments and values full of spaces, quotes, $, %, \, newlines and
// non-ASCII, run by the manager, and what it received is compared byte for
// byte. systemd, launchd and docker are not running here: their files are
// checked by systemd-analyze verify, xmllint against the plist DTD
// (tests/data/PropertyList-1.0.dtd) and a JSON parser. openrc-run only works
// on a system OpenRC booted: its script is checked with sh -n.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace {

// Every character the issue names, and a few more that break generated files.
const std::vector<std::string>& args() {
  static const std::vector<std::string> kArgs = {
      "plain",     "with space", "dq\"uote", "sq'uote", "$HOME ${X}", "100% %n %%", "back\\slash",
      "new\nline", "ünïcødé ✓",  "",         "*",       ";",          "tab\there",  "x ;not #comment",
  };
  return kArgs;
}
const std::vector<std::string>& envs() {
  static const std::vector<std::string> kEnv = {
      "QUEUE=*",   "SPACES=a b  c", "DOLLAR=$HOME",     "PERCENT=100%",
      "UNI=ünï ✓", "BACK=a\\b",     "NEWLINE=one\ntwo", "QUOTE=say \"hi\"",
  };
  return kEnv;
}

bool have(const std::string& program) { return ::access(program.c_str(), X_OK) == 0; }

bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

struct Printed {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
};

// print_args' records: "arg LEN:BYTES\n" and "env LEN:BYTES\n".
Printed parse_printed(const std::string& text) {
  Printed p;
  size_t at = 0;
  while (at < text.size()) {
    size_t space = text.find(' ', at);
    size_t colon = text.find(':', space);
    std::string kind = text.substr(at, space - at);
    size_t len = std::stoul(text.substr(space + 1, colon - space - 1));
    std::string value = text.substr(colon + 1, len);
    at = colon + 1 + len + 1;
    if (kind == "arg") p.args.push_back(value);
    if (kind == "env") p.env[value.substr(0, value.find('='))] = value.substr(value.find('=') + 1);
  }
  return p;
}

void expect_round_trip(const std::string& out_file) {
  Printed p = parse_printed(t::read_file(out_file));
  EXPECT_EQ(p.args, args());
  for (const auto& e : envs()) {
    std::string name = e.substr(0, e.find('='));
    EXPECT_EQ(p.env[name], e.substr(e.find('=') + 1)) << name;
  }
}

// welld export FORMAT -o DIR --name rt --env ... OPTIONS -- print_args OUT ARGS...
t::RunResult export_to(const std::string& format, const std::string& dir, const std::string& out_file,
                       const std::vector<std::string>& options) {
  std::vector<std::string> argv = {"export", format, "-o", dir, "--welld", WELLD_CLI_PATH, "--name", "rt"};
  for (const auto& e : envs()) argv.push_back("--env=" + e);
  argv.insert(argv.end(), options.begin(), options.end());
  argv.emplace_back("--");
  argv.emplace_back(PRINT_ARGS_PATH);
  argv.push_back(out_file);
  argv.insert(argv.end(), args().begin(), args().end());
  return t::welld_cli(argv);
}

// A manager as the test's child, its output into `log`.
t::ProcessGuard spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << argv[0];
  return t::ProcessGuard(rc == 0 ? pid : -1);
}

// A manager the test started, ended on every path out of the test by its own
// way to quit (which stops what it runs), then reaped; SIGKILL by its guard
// only if that fails.
class Manager {
 public:
  Manager(const std::vector<std::string>& argv, const std::string& log, std::vector<std::string> quit)
      : guard_(spawn(argv, log)), quit_(std::move(quit)) {}
  ~Manager() { stop(); }
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
  Manager(Manager&&) = delete;
  Manager& operator=(Manager&&) = delete;
  void stop() {
    if (guard_.pid() <= 0 || stopped_) return;
    stopped_ = true;
    auto r = t::run(quit_);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(guard_.wait_gone(30s)) << quit_[0];
    int status = 0;
    ::waitpid(guard_.pid(), &status, 0);
  }

 private:
  t::ProcessGuard guard_;
  std::vector<std::string> quit_;
  bool stopped_ = false;
};

// supervisord.conf for a test: its socket, logs and PID file in `dir`,
// the exported sections from dir/conf.d.
std::string supervisord_conf(const t::TempDir& dir) {
  std::string conf = dir / "supervisord.conf";
  t::write_file(conf, "[unix_http_server]\nfile=" + (dir / "sv.sock") +
                          "\n[supervisord]\nlogfile=" + (dir / "supervisord.log") +
                          "\npidfile=" + (dir / "supervisord.pid") + "\nchildlogdir=" + dir.path() +
                          "\nnodaemon=true\n[rpcinterface:supervisor]\n"
                          "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                          "[supervisorctl]\nserverurl=unix://" +
                          (dir / "sv.sock") + "\n[include]\nfiles=" + (dir / "conf.d/*.conf") + "\n");
  return conf;
}

}  // namespace

TEST(ExportCli, EveryFormatRefusesAnOptionItCannotExpressByName) {
  t::TempDir dir;
  for (const char* format : {"systemd", "sysv", "openrc", "s6", "runit", "supervisord", "launchd", "docker"}) {
    auto r = t::welld_cli({"export", format, "--notify-fd=5", "--", "/bin/true"});
    EXPECT_EQ(r.exit_code, 2) << format;
    EXPECT_NE(r.err.find("--notify-fd"), std::string::npos) << format << r.err;
    EXPECT_EQ(r.out, "") << format;
  }
  struct Case {
    const char* format;
    const char* option;
  };
  for (Case c : {Case{"runit", "--ready=notify"}, Case{"runit", "--stop-timeout=5s"}, Case{"launchd", "--ready=fd"},
                 Case{"supervisord", "--respawn=on-abnormal"}, Case{"sysv", "--grace=1s"},
                 Case{"systemd", "--restart-max-delay=1m"}, Case{"s6", "--restart-delay=1s"}}) {
    auto r = t::welld_cli({"export", c.format, c.option, "--", "/bin/true"});
    std::string name = std::string(c.option).substr(0, std::string(c.option).find('='));
    EXPECT_EQ(r.exit_code, 2) << c.format << " " << c.option;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
  }
}

TEST(ExportCli, WritesOnlyItsFilesAndNothingTheOptionsName) {
  t::TempDir dir;
  for (const char* format : {"systemd", "sysv", "openrc", "s6", "runit", "supervisord", "launchd", "docker"}) {
    std::string out = dir / format;
    auto r = t::welld_cli({"export", format, "-o", out, "--log", dir / "logs/never-made", "--pidfile",
                           dir / "run/never-made.pid", "--chdir", dir / "never-made", "--", "/bin/true"});
    // systemd's own log files cannot carry --pidfile's directory: either way nothing outside -o appears.
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << format << r.err;
  }
  EXPECT_FALSE(t::exists(dir / "logs"));
  EXPECT_FALSE(t::exists(dir / "run"));
  EXPECT_FALSE(t::exists(dir / "never-made"));
  auto printed = t::welld_cli({"export", "systemd", "--", "/bin/true"});
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("ExecStart=\"/bin/true\"\n"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("[Service]\n"), std::string::npos);
}

TEST(ExportCli, SystemdUnitsVerifyCleanWithRealSystemdAnalyze) {
  if (!have("/usr/bin/systemd-analyze")) GTEST_SKIP() << "systemd-analyze (package systemd) is not installed";
  t::TempDir dir;
  struct Case {
    std::string name;
    std::vector<std::string> options;
  };
  std::vector<Case> cases = {
      {"direct",
       {"--ready=notify", "--stop-signal=INT", "--stop-timeout=20s", "--respawn=on-failure", "--restart-limit=5/30s",
        "--rlimit=nofile=4096:8192", "--nice=5", "--umask=027", "--chdir=/tmp", "--no-new-privs",
        "--output=/var/log/rt%.log"}},
      {"emulated", {"--ready=tcp:127.0.0.1:8080", "--pidfile=/run/rt.pid", "--listen=tcp:8080"}},
      {"socket", {"--listen=tcp:127.0.0.1:8080", "--listen=unix:/run/rt.sock"}},
  };
  for (const auto& c : cases) {
    std::string out = dir / c.name;
    auto r = export_to("systemd", out, "/tmp/never", c.options);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> verify = {"/usr/bin/systemd-analyze", "verify", "--man=no", out + "/rt.service"};
    if (t::exists(out + "/rt.socket")) verify.push_back(out + "/rt.socket");
    auto v = t::run(verify);
    EXPECT_EQ(v.exit_code, 0) << c.name << "\n" << v.out << v.err << t::read_file(out + "/rt.service");
    // Not a word about our units (other units on this machine may have warnings of their own).
    EXPECT_EQ(v.err.find("rt.service"), std::string::npos) << c.name << "\n" << v.err;
    EXPECT_EQ(v.err.find("rt.socket"), std::string::npos) << c.name << "\n" << v.err;
  }
  EXPECT_NE(t::read_file(dir / "emulated/rt.service").find("Type=notify\nExecStart=\"" WELLD_CLI_PATH "\" \"run\""),
            std::string::npos);
  EXPECT_TRUE(t::exists(dir / "socket/rt.socket"));
  EXPECT_FALSE(t::exists(dir / "emulated/rt.socket")) << "welld run binds --listen itself";
}

TEST(ExportCli, SysvScriptActionsAndLsbCodesTwiceInARowWithRealWelld) {
  t::TempDir dir;
  std::string out_file = dir / "printed";
  std::string pidfile = dir / "rt.pid";
  auto r = export_to("sysv", dir / "init.d", out_file, {"--pidfile=" + pidfile});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string script = dir / "init.d/rt";
  ASSERT_EQ(t::run({"/bin/sh", "-n", script}).exit_code, 0);
  auto action = [&](const std::string& verb) {
    auto a = t::run({"/bin/sh", script, verb});
    if (a.exit_code != 0) std::cerr << verb << ": " << a.exit_code << " " << a.out << a.err << "\n";
    return a.exit_code;
  };
  EXPECT_EQ(action("status"), 3);
  EXPECT_EQ(action("reload"), 7);
  EXPECT_EQ(action("start"), 0);
  t::ProcessGuard first(t::pid_in(pidfile));
  EXPECT_EQ(action("start"), 0) << "LSB: start of a running service succeeds";
  EXPECT_EQ(t::pid_in(pidfile), first.pid()) << "and starts no second copy";
  ASSERT_TRUE(eventually([&] { return t::exists(out_file); }));
  expect_round_trip(out_file);
  EXPECT_EQ(action("status"), 0);
  EXPECT_EQ(action("reload"), 0);
  EXPECT_EQ(action("force-reload"), 0);
  EXPECT_TRUE(t::alive(first.pid())) << "a reload is no stop";
  EXPECT_EQ(action("restart"), 0);
  t::ProcessGuard second(t::pid_in(pidfile));
  EXPECT_NE(second.pid(), first.pid());
  EXPECT_TRUE(first.wait_gone(10s));
  EXPECT_EQ(action("restart"), 0);
  t::ProcessGuard third(t::pid_in(pidfile));
  EXPECT_TRUE(second.wait_gone(10s));
  EXPECT_EQ(action("try-restart"), 0);
  t::ProcessGuard fourth(t::pid_in(pidfile));
  EXPECT_EQ(action("stop"), 0);
  EXPECT_TRUE(fourth.wait_gone(10s));
  EXPECT_EQ(action("stop"), 0) << "LSB: stop of a stopped service succeeds";
  EXPECT_EQ(action("status"), 3);
  EXPECT_EQ(action("try-restart"), 0);
  EXPECT_FALSE(t::exists(pidfile)) << "try-restart starts nothing that was stopped";
  EXPECT_EQ(action("bogus"), 2);
  // A stale PID file: a process that is gone.
  auto gone = t::run({"/bin/true"});
  t::write_file(pidfile, std::to_string(gone.pid) + "\n");
  EXPECT_EQ(action("status"), 1) << "dead but the PID file exists";
  ::unlink(out_file.c_str());
  EXPECT_EQ(action("start"), 0);
  t::ProcessGuard fifth(t::pid_in(pidfile));
  EXPECT_NE(fifth.pid(), gone.pid);
  ASSERT_TRUE(eventually([&] { return t::exists(out_file); }));
  expect_round_trip(out_file);
  EXPECT_EQ(action("stop"), 0);
  EXPECT_TRUE(fifth.wait_gone(10s));
}

TEST(ExportCli, OpenrcScriptIsValidShWithoutOpenrcAsInit) {
  // openrc-run keeps its state under /run/openrc, which OpenRC creates when
  // it boots the system; without it as init only the syntax can be checked.
  t::TempDir dir;
  auto r = export_to("openrc", dir.path(), dir / "printed", {"--pidfile=/run/rt.pid", "--respawn"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = t::read_file(dir / "rt");
  EXPECT_TRUE(text.starts_with("#!/sbin/openrc-run\n"));
  auto n = t::run({"/bin/sh", "-n", dir / "rt"});
  EXPECT_EQ(n.exit_code, 0) << n.err;
  // The functions openrc-run calls, defined and calling welld with the PID file.
  for (const char* f : {"depend() {", "start() {", "stop() {", "reload() {"})
    EXPECT_NE(text.find(f), std::string::npos) << f;
  EXPECT_NE(text.find("\"$WELLD\" stop --pidfile \"$PIDFILE\""), std::string::npos);
}

TEST(ExportCli, S6RoundTripReadinessAndStopWithRealS6) {
  if (!have("/usr/bin/s6-svscan")) GTEST_SKIP() << "s6 is not installed (scripts/deps.sh)";
  t::TempDir dir;
  std::string scan = dir / "scan";
  std::string out_file = dir / "printed";
  // Native: s6's notification fd (the program writes a newline on fd 3) and down-signal.
  auto r = export_to("s6", scan, out_file, {"--ready=fd:3", "--stop-signal=INT", "--stop-timeout=5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(t::read_file(scan + "/rt/notification-fd"), "3\n");
  EXPECT_EQ(t::read_file(scan + "/rt/down-signal"), "SIGINT\n");
  EXPECT_EQ(t::read_file(scan + "/rt/timeout-kill"), "5000\n");
  Manager svscan({"/usr/bin/s6-svscan", scan}, dir / "svscan.log", {"/usr/bin/s6-svscanctl", "-t", scan});
  // s6-svscan starts s6-supervise on its own time: s6-svok says when it runs.
  ASSERT_TRUE(eventually([&] {
    return t::run({"/usr/bin/s6-svok", scan + "/rt"}).exit_code == 0;
  })) << t::read_file(dir / "svscan.log");
  auto up = t::run({"/usr/bin/s6-svwait", "-U", "-t", "30000", scan + "/rt"});
  EXPECT_EQ(up.exit_code, 0) << up.err << t::read_file(dir / "svscan.log");
  EXPECT_TRUE(t::exists(out_file)) << "ready only after the program wrote its file";
  expect_round_trip(out_file);
  auto down = t::run({"/usr/bin/s6-svc", "-wD", "-T", "30000", "-d", scan + "/rt"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  auto stat = t::run({"/usr/bin/s6-svstat", scan + "/rt"});
  EXPECT_TRUE(stat.out.starts_with("down")) << stat.out;
  EXPECT_NE(stat.out.find("signal SIGINT"), std::string::npos) << "stopped by its down-signal: " << stat.out;
  svscan.stop();
}

TEST(ExportCli, S6ReadinessThroughWelldRunWithRealS6) {
  if (!have("/usr/bin/s6-svscan")) GTEST_SKIP() << "s6 is not installed (scripts/deps.sh)";
  t::TempDir dir;
  std::string scan = dir / "scan";
  std::string out_file = dir / "printed";
  // Emulated: --ready=file: is welld run's, which tells s6 through --notify-fd.
  auto r = export_to("s6", scan, out_file, {"--ready=file:" + out_file, "--umask=027", "--chdir=/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string run = t::read_file(scan + "/rt/run");
  EXPECT_NE(run.find("'--notify-fd=3'"), std::string::npos) << run;
  EXPECT_NE(run.find("'--umask=027'"), std::string::npos) << "with welld run in between, it applies the umask";
  Manager svscan({"/usr/bin/s6-svscan", scan}, dir / "svscan.log", {"/usr/bin/s6-svscanctl", "-t", scan});
  // s6-svscan starts s6-supervise on its own time: s6-svok says when it runs.
  ASSERT_TRUE(eventually([&] {
    return t::run({"/usr/bin/s6-svok", scan + "/rt"}).exit_code == 0;
  })) << t::read_file(dir / "svscan.log");
  auto up = t::run({"/usr/bin/s6-svwait", "-U", "-t", "30000", scan + "/rt"});
  EXPECT_EQ(up.exit_code, 0) << up.err << t::read_file(dir / "svscan.log");
  EXPECT_TRUE(t::exists(out_file));
  expect_round_trip(out_file);
  auto down = t::run({"/usr/bin/s6-svc", "-wD", "-T", "30000", "-d", scan + "/rt"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  svscan.stop();
}

TEST(ExportCli, RunitRoundTripStatusAndStopWithRealRunit) {
  if (!have("/usr/bin/runsv")) GTEST_SKIP() << "runit is not installed (scripts/deps.sh)";
  t::TempDir dir;
  std::string out_file = dir / "printed";
  auto r = export_to("runit", dir / "sv", out_file, {"--log=" + (dir / "logdir"), "--log-timestamps=tai64n"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string service = dir / "sv/rt";
  Manager runsv({"/usr/bin/runsv", service}, dir / "runsv.log", {"/usr/bin/sv", "exit", service});
  ASSERT_TRUE(eventually([&] { return t::exists(out_file); })) << t::read_file(dir / "runsv.log");
  expect_round_trip(out_file);
  auto status = t::run({"/usr/bin/sv", "status", service});
  EXPECT_TRUE(status.out.starts_with("run: ")) << status.out;
  EXPECT_NE(status.out.find("; run: log:"), std::string::npos) << "log/run runs svlogd: " << status.out;
  auto stop = t::run({"/usr/bin/sv", "-w", "30", "stop", service});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(stop.out.starts_with("ok: down: ")) << stop.out;
  EXPECT_TRUE(t::exists(dir / "logdir/current")) << "svlogd made its directory at run time";
  runsv.stop();
}

TEST(ExportCli, SupervisordRoundTripStartStopStatusWithRealSupervisord) {
  if (!have("/usr/bin/supervisord")) GTEST_SKIP() << "supervisor is not installed (scripts/deps.sh)";
  t::TempDir dir;
  std::string out_file = dir / "printed";
  // QUOTE holds a double quote: environment= cannot carry it, so the env goes to welld run.
  auto r = export_to("supervisord", dir / "conf.d", out_file,
                     {"--stop-timeout=10s", "--respawn", "--stdout=" + (dir / "rt.out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string conf = supervisord_conf(dir);
  Manager supervisord({"/usr/bin/supervisord", "-n", "-c", conf}, dir / "stdout.log",
                      {"/usr/bin/supervisorctl", "-c", conf, "shutdown"});
  auto ctl = [&](const std::string& verb) { return t::run({"/usr/bin/supervisorctl", "-c", conf, verb, "rt"}); };
  ASSERT_TRUE(eventually([&] { return ctl("status").out.find("RUNNING") != std::string::npos; }))
      << t::read_file(dir / "supervisord.log") << t::read_file(dir / "conf.d/rt.conf");
  ASSERT_TRUE(eventually([&] { return t::exists(out_file); }));
  expect_round_trip(out_file);
  auto stop = ctl("stop");
  EXPECT_NE(stop.out.find("stopped"), std::string::npos) << stop.out;
  EXPECT_NE(ctl("status").out.find("STOPPED"), std::string::npos);
  ::unlink(out_file.c_str());
  auto start = ctl("start");
  EXPECT_NE(start.out.find("started"), std::string::npos) << start.out << start.err;
  ASSERT_TRUE(eventually([&] { return t::exists(out_file); }));
  expect_round_trip(out_file);
  EXPECT_EQ(ctl("stop").exit_code, 0);
  supervisord.stop();
}

TEST(ExportCli, LaunchdPlistValidatesAgainstThePlistDtdWithXmllint) {
  if (!have("/usr/bin/xmllint")) GTEST_SKIP() << "xmllint (libxml2-utils) is not installed";
  t::TempDir dir;
  auto r = export_to("launchd", dir.path(), dir / "printed",
                     {"--user=root:root", "--rlimit=nofile=256:1024", "--respawn=on-failure", "--stop-timeout=20s",
                      "--umask=027", "--chdir=/tmp", "--output=/var/log/rt.log", "--nice=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string dtd = std::string(WELLD_TEST_DATA_DIR) + "/PropertyList-1.0.dtd";
  auto v = t::run({"/usr/bin/xmllint", "--noout", "--dtdvalid", dtd, dir / "rt.plist"});
  EXPECT_EQ(v.exit_code, 0) << v.err << t::read_file(dir / "rt.plist");
  // Every argument read back by an XML parser, as launchd would.
  auto listed = t::run(
      {"/usr/bin/xmllint", "--xpath", "//key[.='ProgramArguments']/following-sibling::array[1]", dir / "rt.plist"});
  EXPECT_NE(listed.out.find("<string>sq'uote</string>"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("<string>new\nline</string>"), std::string::npos) << listed.out;
  EXPECT_NE(t::read_file(dir / "rt.plist").find("<key>Umask</key>\n\t<integer>23</integer>"), std::string::npos);
}

TEST(ExportCli, DockerEntrypointAndComposeParseAsJson) {
  // No docker here: the ENTRYPOINT's exec form and the Compose file are JSON,
  // read back by Python's json module.
  if (!have("/usr/bin/python3")) GTEST_SKIP() << "python3 is not installed";
  t::TempDir dir;
  auto r = export_to("docker", dir.path(), dir / "printed",
                     {"--stop-signal=INT", "--stop-timeout=1500ms", "--respawn=on-failure", "--no-new-privs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string check = R"(
import json, sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
entry = json.loads([l for l in lines if l.startswith('ENTRYPOINT ')][0][len('ENTRYPOINT '):])
assert 'STOPSIGNAL SIGINT' in lines, lines
compose = json.load(open(sys.argv[2], encoding='utf-8'))['services']['rt']
assert compose['stop_signal'] == 'SIGINT' and compose['stop_grace_period'] == '1500ms', compose
undollar = [w.replace('$$', '$') for w in compose['entrypoint']]
assert undollar == entry, (undollar, entry)
sys.stdout.buffer.write(b'\0'.join(w.encode() for w in entry))
)";
  auto p = t::run({"/usr/bin/python3", "-c", check, dir / "rt.Dockerfile", dir / "rt.compose.yaml"});
  ASSERT_EQ(p.exit_code, 0) << p.err << t::read_file(dir / "rt.Dockerfile");
  std::vector<std::string> words;
  size_t at = 0;
  for (size_t nul = p.out.find('\0'); nul != std::string::npos; nul = p.out.find('\0', at)) {
    words.push_back(p.out.substr(at, nul - at));
    at = nul + 1;
  }
  words.push_back(p.out.substr(at));
  ASSERT_GE(words.size(), args().size());
  EXPECT_EQ(std::vector<std::string>(words.end() - static_cast<long>(args().size()), words.end()), args());
  EXPECT_EQ(words[0], WELLD_CLI_PATH);
  EXPECT_EQ(words[1], "run");
  EXPECT_NE(std::find(words.begin(), words.end(), "--env=QUEUE=*"), words.end());
  // A flag with a value keeps it; a plain flag stays a flag.
  EXPECT_NE(std::find(words.begin(), words.end(), "--respawn=on-failure"), words.end());
  EXPECT_NE(std::find(words.begin(), words.end(), "--no-new-privs"), words.end());
}

// ---- --forking --program-pidfile ---------------------------------------------------------

namespace {

// welld export FORMAT -o DIR --name fd --forking --program-pidfile PIDFILE -- forking_daemon ok PIDFILE LOG
t::RunResult export_forking(const std::string& format, const std::string& dir, const std::string& state,
                            const std::vector<std::string>& options = {}) {
  std::vector<std::string> argv = {
      "export",       format,   "-o", dir,         "--welld",
      WELLD_CLI_PATH, "--name", "fd", "--forking", "--program-pidfile=" + state + "/server.pid"};
  argv.insert(argv.end(), options.begin(), options.end());
  for (const std::string& w : {std::string("--"), std::string(FORKING_DAEMON_PATH), std::string("ok"),
                               state + "/server.pid", state + "/log"}) {
    argv.push_back(w);
  }
  return t::welld_cli(argv);
}

// The server of forking_daemon, once its PID file names a process whose
// parent is `parent_name` (welld run, the foreground proxy, adopted it).
pid_t server_under(const std::string& pidfile, const std::string& parent_name) {
  pid_t server = -1;
  eventually([&] {
    server = t::pid_in(pidfile);
    if (server <= 0 || !t::alive(server)) return false;
    auto stat = t::proc_stat(server);  // 1-based: field 4 is the PPid
    pid_t parent = stat.size() > 4 ? static_cast<pid_t>(std::stol(stat[4])) : -1;
    return parent > 0 && t::proc_status(parent)["Name"] == parent_name;
  });
  return server;
}

}  // namespace

TEST(ExportCli, ForkingIsTypeForkingForSystemdAndTheForegroundProxyElsewhere) {
  t::TempDir dir;
  std::string state = dir / "state";
  auto systemd = export_forking("systemd", dir / "systemd", state);
  ASSERT_EQ(systemd.exit_code, 0) << systemd.err;
  std::string unit = t::read_file(dir / "systemd/fd.service");
  EXPECT_NE(unit.find("Type=forking\nPIDFile=" + state + "/server.pid\nExecStart=\"" FORKING_DAEMON_PATH "\" \"ok\""),
            std::string::npos)
      << unit;
  EXPECT_EQ(unit.find(WELLD_CLI_PATH), std::string::npos) << "systemd runs the program itself: " << unit;
  // With welld run in between anyway (its --pidfile), the forking goes to it.
  auto emulated = export_forking("systemd", dir / "emulated", state, {"--pidfile=/run/fd.pid"});
  ASSERT_EQ(emulated.exit_code, 0) << emulated.err;
  std::string via = t::read_file(dir / "emulated/fd.service");
  EXPECT_NE(via.find("Type=notify\nExecStart=\"" WELLD_CLI_PATH "\" \"run\""), std::string::npos) << via;
  EXPECT_NE(via.find("\"--forking\" \"--program-pidfile=" + state + "/server.pid\""), std::string::npos) << via;
  EXPECT_EQ(via.find("PIDFile="), std::string::npos) << via;

  std::string quoted = "'--forking' '--program-pidfile=" + state + "/server.pid'";
  struct Case {
    const char* format;
    std::string file;
    std::string needle;
  };
  for (const Case& c :
       {Case{"sysv", "fd", quoted}, Case{"openrc", "fd", quoted}, Case{"s6", "fd/run", quoted},
        Case{"runit", "fd/run", quoted}, Case{"supervisord", "fd.conf", quoted},
        Case{"launchd", "fd.plist", "<string>--forking</string>"},
        Case{"docker", "fd.Dockerfile", R"("--forking", "--program-pidfile=)" + state + R"(/server.pid")"}}) {
    auto r = export_forking(c.format, dir / c.format, state);
    ASSERT_EQ(r.exit_code, 0) << c.format << ": " << r.err;
    std::string text = t::read_file(dir / c.format + "/" + c.file);
    EXPECT_NE(text.find(c.needle), std::string::npos) << c.format << ":\n" << text;
  }
  EXPECT_EQ(t::read_file(dir / "s6/fd/notification-fd"), "3\n") << "welld run tells s6 once the server is named";
  EXPECT_EQ(t::read_file(dir / "runit/fd/run").find("--notify-fd"), std::string::npos) << "runit has no readiness";
  EXPECT_FALSE(t::exists(state)) << "nothing is made at export time";

  if (!have("/usr/bin/systemd-analyze")) return;
  auto v = t::run({"/usr/bin/systemd-analyze", "verify", "--man=no", dir / "systemd/fd.service"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.err.find("fd.service"), std::string::npos) << v.err;
}

TEST(ExportCli, S6RunsAForkingDaemonThroughTheForegroundProxyWithRealS6) {
  if (!have("/usr/bin/s6-svscan")) GTEST_SKIP() << "s6 is not installed (scripts/deps.sh)";
  t::TempDir dir;
  std::string scan = dir / "scan";
  auto r = export_forking("s6", scan, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Manager svscan({"/usr/bin/s6-svscan", scan}, dir / "svscan.log", {"/usr/bin/s6-svscanctl", "-t", scan});
  ASSERT_TRUE(eventually([&] {
    return t::run({"/usr/bin/s6-svok", scan + "/fd"}).exit_code == 0;
  })) << t::read_file(dir / "svscan.log");
  // Up (notification-fd) only once welld run found the server through its PID file.
  auto up = t::run({"/usr/bin/s6-svwait", "-U", "-t", "30000", scan + "/fd"});
  EXPECT_EQ(up.exit_code, 0) << up.err << t::read_file(dir / "svscan.log");
  pid_t server = server_under(dir / "server.pid", "welld");
  ASSERT_GT(server, 0) << t::read_file(dir / "svscan.log");
  t::ProcessGuard server_guard(server);
  auto down = t::run({"/usr/bin/s6-svc", "-wD", "-T", "30000", "-d", scan + "/fd"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_TRUE(server_guard.wait_gone(10s)) << "s6-svc -d reaches the server through welld run";
  auto stat = t::run({"/usr/bin/s6-svstat", scan + "/fd"});
  EXPECT_TRUE(stat.out.starts_with("down")) << stat.out;
  EXPECT_NE(stat.out.find("exitcode 42"), std::string::npos) << "the server's own status: " << stat.out;
  svscan.stop();
}

TEST(ExportCli, SupervisordRunsAForkingDaemonThroughTheForegroundProxyWithRealSupervisord) {
  if (!have("/usr/bin/supervisord")) GTEST_SKIP() << "supervisor is not installed (scripts/deps.sh)";
  t::TempDir dir;
  auto r = export_forking("supervisord", dir / "conf.d", dir.path(), {"--stop-timeout=10s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string conf = supervisord_conf(dir);
  Manager supervisord({"/usr/bin/supervisord", "-n", "-c", conf}, dir / "stdout.log",
                      {"/usr/bin/supervisorctl", "-c", conf, "shutdown"});
  auto ctl = [&](const std::string& verb) { return t::run({"/usr/bin/supervisorctl", "-c", conf, verb, "fd"}); };
  ASSERT_TRUE(eventually([&] { return ctl("status").out.find("RUNNING") != std::string::npos; }))
      << t::read_file(dir / "supervisord.log") << t::read_file(dir / "conf.d/fd.conf");
  pid_t server = server_under(dir / "server.pid", "welld");
  ASSERT_GT(server, 0) << t::read_file(dir / "supervisord.log");
  t::ProcessGuard server_guard(server);
  EXPECT_NE(ctl("status").out.find("RUNNING"), std::string::npos) << "welld run stays in the foreground";
  auto stop = ctl("stop");
  EXPECT_NE(stop.out.find("stopped"), std::string::npos) << stop.out;
  EXPECT_TRUE(server_guard.wait_gone(10s)) << "supervisorctl stop reaches the server through welld run";
  EXPECT_NE(ctl("status").out.find("STOPPED"), std::string::npos);
  supervisord.stop();
}
