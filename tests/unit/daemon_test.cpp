// daemonize() end to end: a helper daemonizes itself from a deliberately dirty
// parent; the test inspects the daemon through /proc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <set>
#include <thread>

#include "support/test_support.hpp"
#include "welld/daemon.hpp"
#include "welld/step.hpp"

using namespace std::chrono_literals;
using welld::Step;
namespace t = welld::test;

namespace {

struct Launch {
  t::RunResult result;
  pid_t daemon = -1;
  t::ProcessGuard guard;
};

Launch launch(std::vector<std::string> args) {
  args.insert(args.begin(), DIRTY_PARENT_PATH);
  Launch l;
  l.result = t::run(args, 60s);
  if (auto pid = t::field_after(l.result.out, "pid")) {
    l.daemon = static_cast<pid_t>(*pid);
    l.guard.reset(l.daemon);
  }
  return l;
}

// "fail STEP ERRNO HOLDER"
struct Failure {
  int step = -1;
  int error = -1;
  int holder = -1;
};

Failure failure_of(const t::RunResult& r) {
  Failure f;
  auto at = r.out.find("fail ");
  if (at != std::string::npos) {
    // "fail STEP ERROR HOLDER": as many numbers as there are.
    const char* p = r.out.c_str() + at + 5;
    for (int* field : {&f.step, &f.error, &f.holder}) {
      char* end = nullptr;
      long value = std::strtol(p, &end, 10);
      if (end == p) break;
      *field = static_cast<int>(value);
      p = end;
    }
  }
  return f;
}

TEST(Daemonize, DaemonFromDirtyParentIsClean) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--cwd", dir.path(), "--pidfile", pidfile});
  ASSERT_FALSE(l.result.timed_out) << "the caller's pipes did not reach EOF: the daemon holds them";
  ASSERT_EQ(l.result.exit_code, 0) << l.result.out << l.result.err;
  ASSERT_GT(l.daemon, 1) << l.result.out;
  pid_t pid = l.daemon;
  ASSERT_TRUE(t::alive(pid));

  auto stat = t::proc_stat(pid);
  EXPECT_EQ(stat[7], "0") << "has a controlling terminal";
  EXPECT_NE(stat[6], std::to_string(pid)) << "is a session leader";
  EXPECT_NE(stat[4], std::to_string(l.result.pid)) << "its parent is the caller";

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
  for (const auto& e : t::proc_environ(pid)) EXPECT_NE(e.rfind("SECRET_TOKEN=", 0), 0U) << e;
  EXPECT_EQ(t::proc_cwd(pid), "/");
  EXPECT_EQ(t::read_file(pidfile), std::to_string(pid) + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(pidfile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644U) << "the caller's umask 077 decided the PID file mode";
}

TEST(Daemonize, ConfiguredUmaskChdirAndLogs) {
  t::TempDir dir;
  std::string log = dir / "out.log";
  Launch l = launch({"--cwd", dir.path(), "--chdir", dir.path(), "--umask", "027", "--log", log});
  ASSERT_EQ(l.result.exit_code, 0) << l.result.out << l.result.err;
  auto status = t::proc_status(l.daemon);
  EXPECT_EQ(status["Umask"], "0027");
  EXPECT_EQ(t::proc_cwd(l.daemon), dir.path());
  auto fds = t::proc_fds(l.daemon);
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[1], log);
  EXPECT_EQ(fds[2], log);
  EXPECT_NE(t::read_file(log).find("init ran"), std::string::npos);
}

TEST(Daemonize, KeptFdSurvives) {
  Launch l = launch({"--keep-fd"});
  ASSERT_EQ(l.result.exit_code, 0) << l.result.out << l.result.err;
  auto inherited = t::field_after(l.result.out, "inherited");
  ASSERT_TRUE(inherited);
  auto fds = t::proc_fds(l.daemon);
  ASSERT_TRUE(fds.count(static_cast<int>(*inherited)));
  EXPECT_EQ(fds[static_cast<int>(*inherited)], "/etc/hostname");
}

TEST(Daemonize, InitFailureIsReportedWithItsCodeAndLeavesNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--pidfile", pidfile, "--init-fail", "42"});
  EXPECT_EQ(l.result.exit_code, 1);
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::init)) << l.result.out;
  EXPECT_EQ(f.error, 42);
  EXPECT_NE(l.result.out.find("initialization failed with code 42"), std::string::npos);
  EXPECT_FALSE(t::exists(pidfile));
  auto daemon = t::field_after(l.result.out, "daemon");
  ASSERT_TRUE(daemon && *daemon > 1) << l.result.out;
  EXPECT_FALSE(t::alive(static_cast<pid_t>(*daemon))) << "the failed daemon is still running";
}

TEST(Daemonize, UnwritablePidfileDirectoryFailsAtThePidfileStep) {
  // /proc/sys refuses file creation even to root; an ordinary user is refused
  // a 0555 directory too.
  std::string pidfile = "/proc/sys/welld-test.pid";
  Launch l = launch({"--pidfile", pidfile});
  EXPECT_EQ(l.result.exit_code, 1);
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::pidfile)) << l.result.out;
  EXPECT_NE(f.error, 0);
  EXPECT_NE(l.result.out.find("cannot write the PID file " + pidfile), std::string::npos) << l.result.out;
  auto daemon = t::field_after(l.result.out, "daemon");
  ASSERT_TRUE(daemon && *daemon > 1) << l.result.out;
  EXPECT_FALSE(t::alive(static_cast<pid_t>(*daemon)));
}

TEST(Daemonize, MissingPidfileDirectoryFailsBeforeForking) {
  t::TempDir dir;
  Launch l = launch({"--pidfile", dir / "no/such/dir/d.pid"});
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::pidfile));
  EXPECT_EQ(f.error, ENOENT);
  EXPECT_NE(l.result.out.find("daemon -1"), std::string::npos) << "it forked: " << l.result.out;
}

TEST(Daemonize, NonexistentChdirFailsAtTheChdirStep) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--pidfile", pidfile, "--chdir", dir / "missing"});
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::chdir)) << l.result.out;
  EXPECT_EQ(f.error, ENOENT);
  EXPECT_NE(l.result.out.find("daemon -1"), std::string::npos) << "it forked: " << l.result.out;
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(Daemonize, UnknownUserFailsBeforeForking) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--pidfile", pidfile, "--user", "no-such-user-welld"});
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::drop_privileges)) << l.result.out;
  EXPECT_NE(l.result.out.find("unknown user 'no-such-user-welld'"), std::string::npos) << l.result.out;
  EXPECT_NE(l.result.out.find("daemon -1"), std::string::npos);
  EXPECT_FALSE(t::exists(pidfile));
}

TEST(Daemonize, GroupWithoutUserIsAConflict) {
  Launch l = launch({"--group", "root"});
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::prepare)) << l.result.out;
  EXPECT_NE(l.result.out.find("a group was given without a user"), std::string::npos);
}

TEST(Daemonize, DaemonDyingBeforeReportIsReportedWithItsSignal) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--pidfile", pidfile, "--init-crash", "--collect"});
  ASSERT_FALSE(l.result.timed_out);
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::daemon_died)) << l.result.out;
  EXPECT_NE(l.result.out.find("was killed by signal 9 (SIGKILL) before it was initialized"), std::string::npos)
      << l.result.out;
  // The lock died with the daemon: a new start succeeds at once.
  Launch again = launch({"--pidfile", pidfile});
  EXPECT_EQ(again.result.exit_code, 0) << again.result.out;
}

TEST(Daemonize, StalePidfileIsReplaced) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  t::write_file(pidfile, "99999\n");
  Launch l = launch({"--pidfile", pidfile});
  ASSERT_EQ(l.result.exit_code, 0) << l.result.out;
  EXPECT_EQ(t::read_file(pidfile), std::to_string(l.daemon) + "\n");
}

TEST(Daemonize, SymlinkedPidfileIsRefused) {
  t::TempDir dir;
  std::string target = dir / "target";
  t::write_file(target, "precious\n");
  std::string pidfile = dir / "d.pid";
  ASSERT_EQ(::symlink(target.c_str(), pidfile.c_str()), 0);
  Launch l = launch({"--pidfile", pidfile});
  Failure f = failure_of(l.result);
  EXPECT_EQ(f.step, static_cast<int>(Step::pidfile)) << l.result.out;
  EXPECT_EQ(f.error, ELOOP);
  EXPECT_EQ(t::read_file(target), "precious\n");
}

TEST(Daemonize, SixteenConcurrentStartsYieldExactlyOneDaemon) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  std::vector<std::future<Launch>> racers;
  racers.reserve(16);
  for (int i = 0; i < 16; ++i) {
    racers.push_back(std::async(std::launch::async, [&] { return launch({"--pidfile", pidfile}); }));
  }
  std::vector<Launch> results;
  results.reserve(racers.size());
  for (auto& r : racers) results.push_back(r.get());
  std::set<pid_t> winners;
  for (auto& l : results) {
    if (l.result.exit_code == 0) winners.insert(l.daemon);
  }
  ASSERT_EQ(winners.size(), 1U);
  pid_t winner = *winners.begin();
  EXPECT_TRUE(t::alive(winner));
  EXPECT_EQ(t::read_file(pidfile), std::to_string(winner) + "\n");
  for (auto& l : results) {
    if (l.result.exit_code == 0) continue;
    Failure f = failure_of(l.result);
    EXPECT_EQ(f.step, static_cast<int>(Step::pidfile)) << l.result.out;
    EXPECT_EQ(f.error, EEXIST);
    EXPECT_EQ(f.holder, winner) << l.result.out;
    EXPECT_NE(l.result.out.find("already running (pid " + std::to_string(winner) + ")"), std::string::npos);
    auto daemon = t::field_after(l.result.out, "daemon");
    ASSERT_TRUE(daemon);
    EXPECT_FALSE(t::alive(static_cast<pid_t>(*daemon))) << "a losing daemon is still running";
  }
}

// spawn_daemon's children run in the caller's memory (clone with CLONE_VM |
// CLONE_VFORK). Spawns from several threads at once, while another thread
// keeps allocating, must each yield a running daemon with its own PID file,
// and leave the caller's threads and heap intact.
TEST(SpawnDaemon, ThreadsSpawningAtOnceEachGetTheirDaemon) {
  t::TempDir dir;
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  std::thread busy([&] {
    while (!stop) {
      std::vector<std::string> churn(64, std::string(100, 'x'));
      rounds += static_cast<long>(churn.size());
    }
  });
  std::vector<std::future<welld::Status>> starts;
  starts.reserve(4);
  for (int i = 0; i < 4; ++i) {
    starts.push_back(std::async(std::launch::async, [&dir, i] {
      welld::Options o;
      o.pidfile = dir / ("s" + std::to_string(i) + ".pid");
      return welld::spawn_daemon(o, {"sleep", "1000"});
    }));
  }
  std::vector<welld::Status> results;
  results.reserve(starts.size());
  for (auto& s : starts) results.push_back(s.get());
  std::vector<t::ProcessGuard> guards;
  guards.reserve(results.size());
  for (const auto& st : results) guards.emplace_back(st.pid);
  stop = true;
  busy.join();
  EXPECT_GT(rounds.load(), 0);
  std::set<pid_t> pids;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& st = results[i];
    ASSERT_TRUE(st) << st.message();
    pids.insert(st.pid);
    EXPECT_EQ(t::read_file(dir / ("s" + std::to_string(i) + ".pid")), std::to_string(st.pid) + "\n");
    ASSERT_TRUE(t::wait_for_exec(st.pid));
    auto status = t::proc_status(st.pid);
    EXPECT_EQ(status["Name"], "sleep");
    EXPECT_EQ(status["SigBlk"], "0000000000000000");
  }
  EXPECT_EQ(pids.size(), results.size());
}

// The privilege drop in a daemon spawned from a threaded caller changes the
// daemon's credentials only, not those of any of the caller's threads.
TEST(SpawnDaemon, UserSwitchFromAThreadedCallerChangesOnlyTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  t::TempDir dir;
  std::atomic<bool> stop{false};
  std::atomic<pid_t> idle_tid{0};
  std::thread idle([&] {
    idle_tid = ::gettid();
    while (!stop) std::this_thread::sleep_for(1ms);
  });
  while (idle_tid == 0) std::this_thread::yield();
  welld::Options o;
  o.pidfile = dir / "n.pid";
  o.user = "nobody";
  welld::Status st = welld::spawn_daemon(o, {"sleep", "1000"});
  t::ProcessGuard guard(st.pid);
  auto idle_status = t::read_file("/proc/self/task/" + std::to_string(idle_tid.load()) + "/status");
  stop = true;
  idle.join();
  ASSERT_TRUE(st) << st.message();
  ASSERT_TRUE(t::wait_for_exec(st.pid));  // the name is set just after the exec confirmation
  auto daemon = t::proc_status(st.pid);
  EXPECT_EQ(daemon["Name"], "sleep");
  EXPECT_EQ(daemon["Uid"].substr(0, daemon["Uid"].find_first_of(" \t")), std::to_string(nobody->pw_uid));
  EXPECT_NE(idle_status.find("\nUid:\t0\t0\t0\t0\n"), std::string::npos) << idle_status;
  EXPECT_EQ(::geteuid(), 0U);
}

TEST(RunForeground, RunsInitRunAndRemovesPidfile) {
  t::TempDir dir;
  std::string pidfile = dir / "d.pid";
  Launch l = launch({"--foreground", "--pidfile", pidfile});
  EXPECT_EQ(l.result.exit_code, 0) << l.result.out << l.result.err;
  EXPECT_NE(l.result.out.find("foreground 7"), std::string::npos) << l.result.out;
  EXPECT_FALSE(t::exists(pidfile));
}

}  // namespace

namespace {

// A chrooted library daemon holds no directory fd: one on the host's side
// would let it leave the chroot with openat(fd, "..").
TEST(Daemonize, AChrootedDaemonHoldsNoDirectoryOfTheHost) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  t::TempDir host;
  t::TempDir jail;
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  welld::Options o;
  o.pidfile = host / "c.pid";
  o.chroot = jail.path();
  o.keep_fds = {report[1]};
  int write_end = report[1];
  welld::Status st = welld::daemonize(o, nullptr, [write_end] {
    char count = 0;
    for (int fd = 3; fd < 1024; ++fd) {
      struct stat s {};
      if (fd != write_end && ::fstat(fd, &s) == 0 && S_ISDIR(s.st_mode)) ++count;
    }
    (void)!::write(write_end, &count, 1);
    return 0;
  });
  ::close(report[1]);
  ASSERT_TRUE(st) << st.message();
  t::ProcessGuard daemon(st.pid);
  char count = -1;
  ASSERT_EQ(::read(report[0], &count, 1), 1);
  ::close(report[0]);
  EXPECT_EQ(count, 0) << "the chrooted daemon holds a directory fd";
}

}  // namespace
