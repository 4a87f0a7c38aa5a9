// Control that ends the whole service and remembers how (issue 14 items 2, 5,
// 6 and 7's reload): stop ends every process of the daemon's cgroup or
// session, the stop and reload settings recorded at start are used, a PID
// file the daemon wrote itself is controlled by --exec/--name, and reload says
// when the daemon ignores its signal. Daemons are started with the library
// (welld::spawn_daemon) and controlled with the CLI; every process a test
// starts is ended by pidfd (t::ProcessGuard) even when an assertion fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "support/test_support.hpp"
#include "welld/control.hpp"
#include "welld/daemon.hpp"
#include "welld/process.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// Sets an environment variable for the test's lifetime (each test runs in its own process under CTest).
class EnvKnob {
 public:
  explicit EnvKnob(const char* name) : name_(name) { ::setenv(name, "1", 1); }
  ~EnvKnob() { ::unsetenv(name_); }
  EnvKnob(const EnvKnob&) = delete;
  EnvKnob& operator=(const EnvKnob&) = delete;
  EnvKnob(EnvKnob&&) = delete;
  EnvKnob& operator=(EnvKnob&&) = delete;

 private:
  const char* name_;
};

// The PIDs written to `file` one a line, once it holds `n` of them (the
// helper writes them when they run: the readiness signal), or fewer after 30 s.
std::vector<pid_t> pids_in(const std::string& file, size_t n) {
  std::vector<pid_t> pids;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    pids.clear();
    std::ifstream in(file);
    for (long v = 0; in >> v;) pids.push_back(static_cast<pid_t>(v));
    if (pids.size() >= n) return pids;
    std::this_thread::sleep_for(10ms);
  }
  return pids;
}

// The reproduction: a main process that ignores TERM and a child
// (sleep 600, which inherits the ignored TERM) in the session welld created.
welld::Status start_term_ignorer(const t::TempDir& dir, const std::string& pidfile) {
  std::string script = "trap '' TERM; sleep 600 & echo $! > " + dir / "child" + "; while :; do sleep 1; done";
  return welld::spawn_daemon({.pidfile = pidfile}, {"/bin/sh", "-c", script});
}

// start_term_ignorer, with the daemon and its child guarded.
struct TermIgnorer {
  welld::Status status;
  t::ProcessGuard main;
  t::ProcessGuard sleeper;
};

void start_guarded_term_ignorer(const t::TempDir& dir, const std::string& pidfile, TermIgnorer& out) {
  out.status = start_term_ignorer(dir, pidfile);
  ASSERT_TRUE(out.status) << out.status.message();
  out.main.reset(out.status.pid);
  std::vector<pid_t> child = pids_in(dir / "child", 1);
  ASSERT_EQ(child.size(), 1U);
  out.sleeper.reset(child[0]);
}

bool cgroup_usable() {
  if (::geteuid() != 0) return false;
  std::string mount = welld::cgroup2_mount();
  return !mount.empty() && ::access((mount + welld::process_cgroup(0)).c_str(), W_OK) == 0;
}

std::string xattr_of(const std::string& path, const char* name) {
  char buf[1024];
  ssize_t n = ::getxattr(path.c_str(), name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

// ---- item 2: stop ends the whole service --------------------------------------------

TEST(StopScope, WithoutACgroupAChildLeftInTheSessionIsEndedToo) {
  EnvKnob no_cgroup("WELLD_TEST_NO_CGROUP");
  t::TempDir dir;
  std::string pidfile = dir / "k.pid";
  TermIgnorer s;
  ASSERT_NO_FATAL_FAILURE(start_guarded_term_ignorer(dir, pidfile, s));
  EXPECT_EQ(xattr_of(pidfile, welld::kServiceXattr).find("cgroup"), std::string::npos);

  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--timeout", "1s"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(s.main.wait_gone(10s));
  EXPECT_TRUE(s.sleeper.wait_gone(10s)) << "sleep 600 survived the stop: " << stop.out;
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(StopScope, TheServiceCgroupIsEndedAndRemoved) {
  if (!cgroup_usable()) GTEST_SKIP() << "needs root and a writable cgroup v2 hierarchy";
  t::TempDir dir;
  std::string pidfile = dir / "k.pid";
  TermIgnorer s;
  ASSERT_NO_FATAL_FAILURE(start_guarded_term_ignorer(dir, pidfile, s));
  // The daemon and its child live in the service's own cgroup, recorded beside the identity.
  std::string cgroup = welld::process_cgroup(s.status.pid);
  EXPECT_NE(cgroup.find("/welld-"), std::string::npos) << cgroup;
  EXPECT_EQ(welld::process_cgroup(s.sleeper.pid()), cgroup);
  EXPECT_NE(xattr_of(pidfile, welld::kServiceXattr).find("cgroup " + cgroup + "\n"), std::string::npos);
  // A process that left the session is still in the cgroup.
  std::string dir_path = welld::cgroup2_mount() + cgroup;
  ASSERT_TRUE(t::exists(dir_path));

  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--timeout", "1s"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(s.main.wait_gone(10s));
  EXPECT_TRUE(s.sleeper.wait_gone(10s));
  EXPECT_FALSE(t::exists(dir_path)) << "the empty cgroup was left behind";
}

TEST(StopScope, WithoutCgroupKillEveryMemberIsKilledThroughItsPidfd) {
  if (!cgroup_usable()) GTEST_SKIP() << "needs root and a writable cgroup v2 hierarchy";
  t::TempDir dir;
  std::string pidfile = dir / "k.pid";
  TermIgnorer s;
  ASSERT_NO_FATAL_FAILURE(start_guarded_term_ignorer(dir, pidfile, s));
  std::string dir_path = welld::cgroup2_mount() + welld::process_cgroup(s.status.pid);
  EnvKnob no_kill("WELLD_TEST_NO_CGROUP_KILL");  // the CLI inherits it
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--timeout", "1s"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(s.sleeper.wait_gone(10s));
  EXPECT_FALSE(t::exists(dir_path));
}

TEST(StopScope, WorkersThatIgnoreTermDoNotOutliveTheirMaster) {
  t::TempDir dir;
  std::string pidfile = dir / "srv.pid";
  int port = t::free_tcp_port();
  ASSERT_GT(port, 0);
  welld::Status st = welld::spawn_daemon(
      {.pidfile = pidfile}, {SERVER_LIKE_PATH, "--listen-tcp", std::to_string(port), "--workers", "2", "--workers-out",
                             dir / "workers", "--worker-ignores-term"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard master(st.pid);
  std::vector<pid_t> workers = pids_in(dir / "workers", 2);
  ASSERT_EQ(workers.size(), 2U);
  t::ProcessGuard w1(workers[0]);
  t::ProcessGuard w2(workers[1]);
  // The master is killed outright: its workers, which ignore TERM, must go too.
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--signal", "KILL", "--timeout", "1s"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(master.wait_gone(10s));
  EXPECT_TRUE(w1.wait_gone(10s));
  EXPECT_TRUE(w2.wait_gone(10s));
}

TEST(StopScope, StartsRollbackScopeIsTheSpawnedSession) {
  EnvKnob no_cgroup("WELLD_TEST_NO_CGROUP");
  t::TempDir dir;
  welld::Status st = start_term_ignorer(dir, dir / "r.pid");
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard guard(st.pid);
  std::vector<pid_t> child = pids_in(dir / "child", 1);
  ASSERT_EQ(child.size(), 1U);
  t::ProcessGuard sleeper(child[0]);
  welld::Process main;
  ASSERT_FALSE(welld::Process::open(st.pid, 0, main));
  welld::ServiceScope scope = welld::scope_of(main);
  EXPECT_GT(scope.session, 1);
  EXPECT_NE(scope.session, ::getsid(0));
  welld::StopResult r = welld::stop_process(main, scope, {SIGTERM, 500ms, 10s});
  EXPECT_EQ(r.outcome, welld::StopOutcome::killed) << r.reason;
  EXPECT_GE(r.others, 1);  // sleep 600, and the loop's sleep 1 of the moment
  EXPECT_TRUE(r.survivors.empty());
  EXPECT_TRUE(sleeper.wait_gone(10s));
}

// ---- item 5: the stop settings recorded at start -------------------------------------

TEST(StopSettings, RecordedAtStartAreUsedByStopAndReload) {
  t::TempDir dir;
  std::string pidfile = dir / "rec.pid";
  std::string log = dir / "signals.log";
  welld::Options o{.pidfile = pidfile};
  o.stop_signal = SIGINT;
  o.stop_timeout = 30s;
  o.reload_signal = SIGUSR2;
  welld::Status st = welld::spawn_daemon(o, {SIGNAL_RECORDER_PATH, log});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard daemon(st.pid);
  ASSERT_TRUE(t::wait_for_exec(st.pid));
  std::string record = xattr_of(pidfile, welld::kServiceXattr);
  EXPECT_NE(record.find("stop-signal 2\n"), std::string::npos) << record;
  EXPECT_NE(record.find("stop-timeout 30000\n"), std::string::npos) << record;
  EXPECT_NE(record.find("reload-signal 12\n"), std::string::npos) << record;
  EXPECT_NE(record.find("session "), std::string::npos) << record;
  welld::PidfileInfo info = welld::inspect_pidfile(pidfile);
  EXPECT_EQ(info.service.stop_signal, SIGINT);
  EXPECT_EQ(info.service.reload_signal, SIGUSR2);

  // The recorder installs its handlers after exec: wait until it has.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::mask_has(t::proc_status(st.pid)["SigCgt"], SIGUSR2) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  t::RunResult reload = t::welld_cli({"reload", "-p", pidfile});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_NE(reload.out.find("SIGUSR2"), std::string::npos) << reload.out;
  // reload returns once the signal is sent; with SIGINT also pending the
  // kernel would deliver the lower number first and the recorder would end
  // before logging 12. Wait until it has logged the reload.
  deadline = std::chrono::steady_clock::now() + 30s;
  while (t::read_file(log).find("signal 12\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(10s));
  std::string signals = t::read_file(log);
  EXPECT_NE(signals.find("signal 12\n"), std::string::npos) << signals;
  EXPECT_NE(signals.find("signal 2\n"), std::string::npos) << signals;
  EXPECT_EQ(signals.find("signal 15\n"), std::string::npos) << signals;
}

TEST(StopSettings, TheCommandLineOverridesTheRecord) {
  t::TempDir dir;
  std::string pidfile = dir / "rec.pid";
  std::string log = dir / "signals.log";
  welld::Options o{.pidfile = pidfile};
  o.stop_signal = SIGINT;
  welld::Status st = welld::spawn_daemon(o, {SIGNAL_RECORDER_PATH, log});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard daemon(st.pid);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::mask_has(t::proc_status(st.pid)["SigCgt"], SIGTERM) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--signal", "TERM"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(10s));
  std::string signals = t::read_file(log);
  EXPECT_NE(signals.find("signal 15\n"), std::string::npos) << signals;
  EXPECT_EQ(signals.find("signal 2\n"), std::string::npos) << signals;
}

// Through the CLI: `start --stop-signal` records the signal, and `restart`
// (without --signal) stops the running instance with it.
TEST(StopSettings, StartRecordsThemAndRestartUsesThem) {
  t::TempDir dir;
  std::string pidfile = dir / "rec.pid";
  std::string log = dir / "signals.log";
  t::RunResult start = t::welld_cli(
      {"start", "-p", pidfile, "--stop-signal", "INT", "--stop-timeout", "30s", "--", SIGNAL_RECORDER_PATH, log});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  pid_t first = std::stoi(t::read_file(pidfile));
  t::ProcessGuard old(first);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::mask_has(t::proc_status(first)["SigCgt"], SIGINT) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  t::RunResult restart = t::welld_cli({"restart", "-p", pidfile, "--", SIGNAL_RECORDER_PATH, log});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_TRUE(old.wait_gone(10s));
  t::ProcessGuard second(std::stoi(t::read_file(pidfile)));
  EXPECT_NE(second.pid(), first);
  std::string signals = t::read_file(log);
  EXPECT_NE(signals.find("signal 2\n"), std::string::npos) << signals;
  EXPECT_EQ(signals.find("signal 15\n"), std::string::npos) << signals;
}

// A PID file owned by another user may, with --trust-pidfile, name the
// process root stops, but its service record never widens the stop to a
// cgroup or session: here it names a welld-looking cgroup holding one of
// root's processes, which must survive with its cgroup.
TEST(StopScope, AnotherOwnersRecordNeverNamesTheCgroupToEnd) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string mount = welld::cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount";
  std::string name = "/welld-victim-" + std::to_string(::getpid());
  std::string victim_dir = mount + name;
  if (::mkdir(victim_dir.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a cgroup: " << std::strerror(errno);
  auto spawn_sleep = [] {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  t::ProcessGuard named(spawn_sleep());
  t::ProcessGuard victim(spawn_sleep());
  t::write_file(victim_dir + "/cgroup.procs", std::to_string(victim.pid()) + "\n");
  ASSERT_TRUE(t::wait_for_exec(named.pid()));
  t::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string pidfile = dir / "x.pid";
  t::write_file(pidfile, std::to_string(named.pid()) + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(pidfile.c_str(), &st), 0);
  std::string record = dir / ".x.pid.welld";
  t::write_file(record, "welld-pidfile 1\ninode " + std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) +
                            "\nidentity " + std::to_string(named.pid()) + " " +
                            std::to_string(welld::process_start_time(named.pid())) + "\ncgroup " + name + "\n");
  ASSERT_EQ(::chown(pidfile.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chown(record.c_str(), 65534, 65534), 0);
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile, "--trust-pidfile"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_TRUE(named.wait_gone(10s));
  EXPECT_TRUE(t::alive(victim.pid())) << "a process of a cgroup the file's owner named was killed";
  EXPECT_TRUE(t::exists(victim_dir)) << "a cgroup the file's owner named was removed";
  victim.reset();
  ::rmdir(victim_dir.c_str());
}

TEST(ServiceRecord, FormatsAndParsesBackAndRefusesGarbage) {
  welld::ServiceRecord r;
  r.session = 4242;
  std::strcpy(r.cgroup, "/welld-1-2-3");
  r.stop_signal = SIGINT;
  r.stop_timeout_ms = 60000;
  r.reload_signal = SIGUSR1;
  char text[welld::kSideRecordMax];
  size_t n = welld::format_service_record(r, text, sizeof text);
  ASSERT_GT(n, 0U);
  auto back = welld::parse_service_record(std::string_view(text, n));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->session, 4242);
  EXPECT_STREQ(back->cgroup, "/welld-1-2-3");
  EXPECT_EQ(back->stop_signal, SIGINT);
  EXPECT_EQ(back->stop_timeout_ms, 60000U);
  EXPECT_EQ(back->reload_signal, SIGUSR1);
  EXPECT_TRUE(welld::parse_service_record("later-key anything\n"));  // unknown keys: ignored
  for (const char* bad : {"stop-signal 0\n", "stop-signal 65\n", "stop-signal TERM\n", "session 1\n",
                          "cgroup relative\n", "stop-signal 2\nstop-signal 2\n", "stop-signal 2", "nokey\n"}) {
    EXPECT_FALSE(welld::parse_service_record(bad)) << bad;
  }
  // In a side record, a bad service line leaves the identity standing and the service empty.
  auto side = welld::parse_side_record("welld-pidfile 1\ninode 1 2\nidentity 3 4\nstop-signal 2\nsession 77\n");
  ASSERT_TRUE(side);
  EXPECT_EQ(side->service.stop_signal, 2);
  EXPECT_EQ(side->service.session, 77);
}

// ---- item 6: a PID file the daemon wrote itself ------------------------------------------

class ForeignPidfile : public ::testing::Test {
 protected:
  void SetUp() override {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    sleeper_.reset(pid);
    ASSERT_TRUE(t::wait_for_exec(pid));
    // Written after the process started, as a daemon writes its own: no welld identity.
    t::write_file(pidfile_, std::to_string(pid) + "\n");
    ASSERT_EQ(::chmod(pidfile_.c_str(), 0644), 0);
  }

  const std::string& pidfile() const { return pidfile_; }
  const t::ProcessGuard& sleeper() const { return sleeper_; }

 private:
  t::TempDir dir_;
  std::string pidfile_ = dir_ / "own.pid";
  t::ProcessGuard sleeper_;
};

TEST_F(ForeignPidfile, IsUnknownWithoutAMatchAndControlledWithOne) {
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile()}).exit_code, 4);
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile()}).exit_code, 1);
  t::RunResult status = t::welld_cli({"status", "-p", pidfile(), "--exec", "/bin/sleep"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  // The wrong program: status says dead-but-file-remains, stop and reload refuse.
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile(), "--exec", "/bin/sh"}).exit_code, 1);
  t::RunResult wrong = t::welld_cli({"stop", "-p", pidfile(), "--exec", "/bin/sh"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("refusing to signal"), std::string::npos) << wrong.err;
  EXPECT_EQ(t::welld_cli({"reload", "-p", pidfile(), "--name", "nginx"}).exit_code, 1);
  EXPECT_TRUE(t::alive(sleeper().pid()));
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile(), "--name", "sleep"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(sleeper().wait_gone(10s));
}

TEST_F(ForeignPidfile, AMatchDoesNotRelaxTheFileRules) {
  ASSERT_EQ(::chmod(pidfile().c_str(), 0666), 0);
  t::RunResult stop = t::welld_cli({"stop", "-p", pidfile(), "--exec", "/bin/sleep", "--trust-pidfile"});
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_NE(stop.err.find("writable by group or others"), std::string::npos) << stop.err;
  EXPECT_TRUE(t::alive(sleeper().pid()));
}

// ---- item 7: reload of a signal the daemon ignores --------------------------------------

TEST(Reload, ASignalTheDaemonIgnoresIsNotSentAndSaysSo) {
  t::TempDir dir;
  std::string pidfile = dir / "hup.pid";
  welld::Status st = welld::spawn_daemon({.pidfile = pidfile}, {SERVER_LIKE_PATH, "--ignore-hup"});
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard daemon(st.pid);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!t::mask_has(t::proc_status(st.pid)["SigIgn"], SIGHUP) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  t::RunResult reload = t::welld_cli({"reload", "-p", pidfile});
  EXPECT_EQ(reload.exit_code, 1) << reload.out << reload.err;
  EXPECT_NE(reload.err.find("ignores SIGHUP"), std::string::npos) << reload.err;
  EXPECT_TRUE(t::alive(st.pid));
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  EXPECT_TRUE(daemon.wait_gone(10s));
}
