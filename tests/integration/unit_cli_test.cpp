// welld start/run/stop/status/reload --unit FILE.service: systemd units in
// the shapes packages ship them, run without systemd.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

std::string write_unit(const t::TempDir& dir, const std::string& name, const std::string& text) {
  t::write_file(dir / name, text);
  return dir / name;
}

std::string tcp_answer(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) out = t::read_until(fd, "\n");
  ::close(fd);
  return out;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string cmdline_of(pid_t pid) {
  std::string raw = t::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : raw) c = c == '\0' ? '|' : c;
  return raw;
}

bool has(const std::vector<std::string>& v, const std::string& item) {
  return std::find(v.begin(), v.end(), item) != v.end();
}

TEST(UnitCli, SimpleWithEnvironmentFileRunsTheUnitsCommandLineAndEnvironment) {
  t::TempDir dir;
  t::write_file(dir / "web.env", "# settings\nQUEUE=\"*\"\nGREETING='hello  world'\nWORDS=a b\n");
  std::string unit = write_unit(
      dir, "web.service",
      "[Unit]\nDescription=A web app\n[Service]\nType=simple\n"
      "Environment=PLAIN=1 \"SPACED=x y\"\nEnvironmentFile=" +
          dir / "web.env" + "\nEnvironmentFile=-" + dir / "absent.env" + "\nWorkingDirectory=" + dir.path() +
          "\nUMask=0027\nExecStart=" UNIT_SERVICE_PATH
          " wait ${GREETING} $WORDS \"%n\" ${QUEUE}\n[Install]\nWantedBy=multi-user.target\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "web.pid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(dir / "web.pid"));
  ASSERT_TRUE(t::wait_for_exec(daemon.pid()));
  EXPECT_EQ(cmdline_of(daemon.pid()), UNIT_SERVICE_PATH "|wait|hello  world|a|b|web.service|*|");
  auto env = t::proc_environ(daemon.pid());
  EXPECT_TRUE(has(env, "PLAIN=1"));
  EXPECT_TRUE(has(env, "SPACED=x y"));
  EXPECT_TRUE(has(env, "QUEUE=*"));
  EXPECT_EQ(t::proc_cwd(daemon.pid()), dir.path());
  EXPECT_EQ(t::proc_status(daemon.pid())["Umask"], "0027");
  EXPECT_EQ(r.err, "") << "nothing to warn about in this unit";

  auto status = t::welld_cli({"status", "--unit", unit, "-p", dir / "web.pid"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  auto stop = t::welld_cli({"stop", "--unit", unit, "-p", dir / "web.pid"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(30s));
}

TEST(UnitCli, DefaultPidFileIsUnderRunWelldAndTheControlVerbsFindIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "the default PID file is /run/welld/NAME.pid for root";
  t::TempDir dir;
  std::string name = "welld-unit-test-" + std::to_string(::getpid());
  std::string unit = write_unit(dir, name + ".service", "[Service]\nExecStart=" UNIT_SERVICE_PATH " wait\n");
  auto r = t::welld_cli({"start", "--unit", unit});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string pidfile = "/run/welld/" + name + ".pid";
  t::ProcessGuard daemon(t::pid_in(pidfile));
  EXPECT_GT(daemon.pid(), 0);
  auto status = t::welld_cli({"status", "--unit", unit});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find(name + " is running"), std::string::npos) << status.out;
  auto again = t::welld_cli({"start", "--unit", unit});
  EXPECT_EQ(again.exit_code, 1) << "a second start must not start a second copy: " << again.out << again.err;
  auto stop = t::welld_cli({"stop", "--unit", unit});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(30s));
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_EQ(t::welld_cli({"status", "--unit", unit}).exit_code, 3);
}

TEST(UnitCli, NotifyWithExecStartPreAndRuntimeDirectoryAsItsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (User=nobody, /run)";
  passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  t::TempDir dir;
  std::string helper = t::copy_for_anyone(dir, UNIT_SERVICE_PATH);
  std::string runtime = "welld-unit-test-" + std::to_string(::getpid());
  std::string log = dir / "log";
  std::string unit = write_unit(
      dir, "notifier.service",
      "[Service]\nType=notify\nUser=nobody\nRuntimeDirectory=" + runtime +
          "\nRuntimeDirectoryMode=0750\n"
          "ExecStartPre=+/bin/sh -c 'echo pre >> " +
          log +
          "'\n"
          "ExecStartPre=/bin/sh -c 'id -u > ${RUNTIME_DIRECTORY}/pre-uid'\n"
          "ExecStart=" +
          helper + " notify ${RUNTIME_DIRECTORY}/ready\nExecStartPost=+/bin/sh -c 'echo post ${MAINPID} >> " + log +
          "'\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "n.pid"});
  std::filesystem::path rundir = "/run/" + runtime;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(dir / "n.pid"));
  EXPECT_TRUE(t::exists(rundir / "ready")) << "welld start returned before READY=1";
  struct stat st {};
  ASSERT_EQ(::stat(rundir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  EXPECT_EQ(st.st_mode & 07777, 0750U);
  EXPECT_EQ(t::read_file(rundir / "pre-uid"), std::to_string(nobody->pw_uid) + "\n");
  EXPECT_EQ(t::read_file(log), "pre\npost " + std::to_string(daemon.pid()) + "\n");
  EXPECT_TRUE(has(t::proc_environ(daemon.pid()), "RUNTIME_DIRECTORY=" + rundir.string()));
  EXPECT_EQ(t::proc_status(daemon.pid())["Uid"].substr(0, std::to_string(nobody->pw_uid).size()),
            std::to_string(nobody->pw_uid));
  EXPECT_EQ(t::welld_cli({"stop", "--unit", unit, "-p", dir / "n.pid"}).exit_code, 0);
  EXPECT_TRUE(daemon.wait_gone(30s));
  std::filesystem::remove_all(rundir);
}

TEST(UnitCli, FailingExecStartPreAbortsTheStartAndNamesTheLine) {
  t::TempDir dir;
  std::string unit = write_unit(
      dir, "web.service",
      "[Service]\nExecStartPre=-/bin/false\nExecStartPre=/bin/false\nExecStart=" UNIT_SERVICE_PATH " wait\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "web.pid"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: " + unit + ":3: /bin/false exited with status 1\n");
  EXPECT_FALSE(t::exists(dir / "web.pid"));
}

TEST(UnitCli, ForkingWithPidFileStartsReportsAndStops) {
  t::TempDir dir;
  std::string pidfile = dir / "forking.pid";
  std::string unit = write_unit(dir, "forker.service",
                                "[Service]\nType=forking\nPIDFile=" + pidfile +
                                    "\nExecStart=" UNIT_SERVICE_PATH " forking " + pidfile +
                                    "\nExecReload=/bin/kill -HUP $MAINPID\n");
  auto r = t::welld_cli({"start", "--unit", unit});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(pidfile));
  ASSERT_GT(daemon.pid(), 0);
  EXPECT_TRUE(t::alive(daemon.pid()));
  EXPECT_EQ(t::proc_stat(daemon.pid()).at(5), std::to_string(daemon.pid())) << "the forked child leads a session";
  auto status = t::welld_cli({"status", "--unit", unit});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  auto stop = t::welld_cli({"stop", "--unit", unit});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(30s));
}

// A Type=forking unit in the shape packages ship (PIDFile=, ExecReload= with
// $MAINPID), with tests/helpers/forking_daemon: the options of welld start
// --forking --program-pidfile PIDFile=, welld's own PID file apart.
std::string forking_unit(const t::TempDir& dir, const std::string& mode, const std::string& extra = "") {
  std::string pidfile = dir / "server.pid";
  return write_unit(dir, "forker.service",
                    "[Unit]\nDescription=A self-forking server\n[Service]\nType=forking\nPIDFile=" + pidfile +
                        "\nExecStart=" FORKING_DAEMON_PATH " " + mode + " " + pidfile + " " + dir / "log" + extra +
                        "\nExecReload=/bin/kill -HUP $MAINPID\n[Install]\nWantedBy=multi-user.target\n");
}

// The lines of forking_daemon's log, "PID hup" and "PID usr1".
std::string server_log(const t::TempDir& dir) { return t::exists(dir / "log") ? t::read_file(dir / "log") : ""; }

TEST(UnitCli, ForkingUnitIsStartedStatusedReloadedAndStoppedThroughWelldsOwnPidFile) {
  t::TempDir dir;
  std::string ours = dir / "welld.pid";
  std::string unit = forking_unit(dir, "ok", "");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", ours});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  t::ProcessGuard server(t::pid_in(dir / "server.pid"));
  ASSERT_GT(server.pid(), 0);
  EXPECT_EQ(t::pid_in(ours), server.pid()) << "welld's PID file records the server PIDFile= named";
  auto status = t::welld_cli({"status", "--unit", unit, "-p", ours});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find(" is running (pid " + std::to_string(server.pid()) + ","), std::string::npos) << status.out;
  auto reload = t::welld_cli({"reload", "--unit", unit, "-p", ours});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_TRUE(wait_until([&] { return server_log(dir) == std::to_string(server.pid()) + " hup\n"; }))
      << server_log(dir);
  auto stop = t::welld_cli({"stop", "--unit", unit, "-p", ours});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(server.wait_gone(30s));
  EXPECT_FALSE(t::exists(ours));
  EXPECT_EQ(t::welld_cli({"status", "--unit", unit, "-p", ours}).exit_code, 3);
}

TEST(UnitCli, ForkingUnitsPidFileIsCheckedAsForkingProgramPidfileChecksIt) {
  t::TempDir dir;
  t::ProcessGuard outsider = t::sleeping_child();
  std::string unit = forking_unit(dir, "outside", " " + std::to_string(outsider.pid()));
  std::filesystem::create_directory(dir / "forker.service.d");
  t::write_file(dir / "forker.service.d/timeout.conf", "[Service]\nTimeoutStartSec=2s\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "welld.pid"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("names pid " + std::to_string(outsider.pid()) + ", which is not a new process of the program"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(t::alive(outsider.pid())) << "the process outside the tree is never signalled";
  EXPECT_FALSE(t::exists(dir / "welld.pid"));
  std::filesystem::remove(dir / "server.pid");
  auto same = t::welld_cli({"start", "--unit", unit, "-p", dir / "server.pid"});
  EXPECT_EQ(same.exit_code, 2) << same.err;
  EXPECT_NE(same.err.find("cannot be welld's --pidfile"), std::string::npos) << same.err;
}

TEST(UnitCli, RunOfAForkingUnitSupervisesItsServerAndExitsWithItsStatus) {
  t::TempDir dir;
  std::string post = dir / "post";
  std::string unit = forking_unit(dir, "ok", "\nExecStartPost=/bin/sh -c 'echo ${MAINPID} > " + post + "'");
  t::RunResult r;
  std::thread run([&] { r = t::welld_cli({"run", "--unit", unit}); });
  pid_t server = -1;
  bool adopted = wait_until([&] {
    server = t::pid_in(dir / "server.pid");
    return server > 0 && t::exists(post) && t::read_file(post) == std::to_string(server) + "\n";
  });
  EXPECT_TRUE(adopted) << "ExecStartPost= sees the server as $MAINPID";
  if (adopted) ::kill(server, SIGTERM);  // forking_daemon's server exits 42 on TERM
  run.join();
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_FALSE(t::alive(server));
}

TEST(UnitCli, ReloadRunsExecReloadWithMainPidAndStopRunsExecStop) {
  t::TempDir dir;
  std::string hups = dir / "hups";
  std::string log = dir / "log";
  std::string unit = write_unit(dir, "web.service",
                                "[Service]\nExecStart=" UNIT_SERVICE_PATH " wait " + hups +
                                    "\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/sh -c 'echo stop "
                                    "${MAINPID} >> " +
                                    log + "'\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "web.pid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(dir / "web.pid"));
  ASSERT_TRUE(t::wait_for_exec(daemon.pid()));
  auto reload = t::welld_cli({"reload", "--unit", unit, "-p", dir / "web.pid"});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_EQ(reload.out, "reloaded web (ExecReload=)\n");
  EXPECT_TRUE(wait_until([&] { return t::exists(hups) && t::read_file(hups) == "hup\n"; }));
  auto stop = t::welld_cli({"stop", "--unit", unit, "-p", dir / "web.pid"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(t::read_file(log), "stop " + std::to_string(daemon.pid()) + "\n");
  EXPECT_TRUE(daemon.wait_gone(30s));
}

TEST(UnitCli, SocketActivatedAnswersOnLoopback) {
  t::TempDir dir;
  int port = t::free_tcp_port();
  ASSERT_GT(port, 0);
  std::string unit = write_unit(dir, "echo.service", "[Service]\nExecStart=" UNIT_SERVICE_PATH " listen\n");
  write_unit(dir, "echo.socket",
             "[Socket]\nListenStream=127.0.0.1:" + std::to_string(port) + "\n[Install]\nWantedBy=sockets.target\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "echo.pid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(dir / "echo.pid"));
  EXPECT_EQ(tcp_answer(port), "hello tcp-" + std::to_string(port) + "\n");
  EXPECT_EQ(t::welld_cli({"stop", "--unit", unit, "-p", dir / "echo.pid"}).exit_code, 0);
  EXPECT_TRUE(daemon.wait_gone(30s));
}

TEST(UnitCli, RestartAlwaysRunsUnderASupervisor) {
  t::TempDir dir;
  std::string unit = write_unit(dir, "worker.service",
                                "[Service]\nExecStart=" UNIT_SERVICE_PATH " wait\nRestart=always\nRestartSec=50ms\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "worker.pid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard supervisor(t::pid_in(dir / "worker.pid"));
  auto status = t::welld_cli({"status", "--unit", unit, "-p", dir / "worker.pid"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("worker is supervised"), std::string::npos) << status.out;
  EXPECT_EQ(t::welld_cli({"stop", "--unit", unit, "-p", dir / "worker.pid"}).exit_code, 0);
  EXPECT_TRUE(supervisor.wait_gone(30s));
}

TEST(UnitCli, RunOneshotRunsEveryCommandInOrderAndStopsAtAFailure) {
  t::TempDir dir;
  std::string log = dir / "log";
  std::string ok = write_unit(dir, "setup.service",
                              "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo one >> " + log +
                                  "'\nExecStart=-/bin/false\nExecStart=/bin/sh -c 'echo two >> " + log + "'\n");
  auto r = t::welld_cli({"run", "--unit", ok});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(t::read_file(log), "one\ntwo\n");
  std::string failing = write_unit(
      dir, "broken.service",
      "[Service]\nType=oneshot\nExecStart=/bin/false\nExecStart=/bin/sh -c 'echo three >> " + log + "'\n");
  auto f = t::welld_cli({"run", "--unit", failing});
  EXPECT_EQ(f.exit_code, 125) << f.err;
  EXPECT_EQ(t::read_file(log), "one\ntwo\n");
}

TEST(UnitCli, RunKeepsTheProgramInTheForegroundAndExitsWithItsStatus) {
  t::TempDir dir;
  std::string unit = write_unit(dir, "job.service", "[Service]\nExecStart=/bin/sh -c 'exit 7'\n");
  auto r = t::welld_cli({"run", "--unit", unit, "-p", dir / "job.pid"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
}

TEST(UnitCli, WarningsNameEveryIgnoredDirectiveAndStrictUnitRefusesSandboxing) {
  t::TempDir dir;
  std::string unit = write_unit(dir, "web.service",
                                "[Unit]\nAfter=network.target\n[Service]\nExecStart=" UNIT_SERVICE_PATH
                                " wait\nProtectSystem=full\nCPUQuota=10%%\n");
  auto r = t::welld_cli({"start", "--unit", unit, "-p", dir / "web.pid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard daemon(t::pid_in(dir / "web.pid"));
  EXPECT_EQ(r.err, "welld: start: warning: " + unit +
                       ":2: Unit.After=: dependencies and ordering are not managed by welld: ignored\n"
                       "welld: start: warning: " +
                       unit +
                       ":5: Service.ProtectSystem=: not enforced by welld (--strict-unit refuses it)\n"
                       "welld: start: warning: " +
                       unit + ":6: Service.CPUQuota=: ignored\n");
  EXPECT_EQ(t::welld_cli({"stop", "-p", dir / "web.pid"}).exit_code, 0);
  EXPECT_TRUE(daemon.wait_gone(30s));

  auto strict = t::welld_cli({"start", "--unit", unit, "--strict-unit", "-p", dir / "web.pid"});
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_EQ(strict.err,
            "welld: start: " + unit + ":5: ProtectSystem=: not enforced by welld (refused by --strict-unit)\n");
  EXPECT_FALSE(t::exists(dir / "web.pid"));
}

TEST(UnitCli, UsageErrors) {
  t::TempDir dir;
  std::string unit = write_unit(dir, "web.service", "[Service]\nExecStart=/bin/true\n");
  auto both = t::welld_cli({"start", "--unit", unit, "--", "/bin/true"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  auto neither = t::welld_cli({"start"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_EQ(neither.err, "welld: start: command is required\n");
  auto no_pidfile = t::welld_cli({"stop"});
  EXPECT_EQ(no_pidfile.exit_code, 2);
  EXPECT_EQ(no_pidfile.err, "welld: stop: --pidfile is required\n");
  auto missing = t::welld_cli({"start", "--unit", dir / "absent.service"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read " + dir / "absent.service"), std::string::npos) << missing.err;
  std::string bad = write_unit(dir, "bad.service", "[Service]\nExecStart=/bin/true\nRestart=on-watchdog\n");
  auto refused = t::welld_cli({"start", "--unit", bad});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err, "welld: start: " + bad +
                             ":3: Restart=: 'on-watchdog' is not supported (welld restarts: no, always, on-failure, "
                             "on-abnormal)\n");
}

}  // namespace
