// Issue 13's PID-file, path-trust and control items, each as the attack it
// describes: an unprivileged attacker (t::AttackerUser), a group member, a
// careless administrator, a kernel or file system without a feature (forced
// through the fault shim). Through the CLI, as root; skipped otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"

namespace t = welld::test;
using namespace std::chrono_literals;

namespace {

#define REQUIRE_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root"

// The CLI with only PATH and `env` in its environment.
t::RunResult welld_cli_env(std::vector<std::string> args, const std::vector<std::string>& env) {
  std::vector<std::string> full = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  full.insert(full.end(), env.begin(), env.end());
  return t::welld_cli(std::move(args), 60s, full);
}

// The environment that makes the shim fail CALLS (WELLD_FAULT) and log what fired.
std::vector<std::string> fault(const std::string& spec, const std::string& log) {
  return {"LD_PRELOAD=" WELLD_FAULT_SHIM_PATH, "WELLD_FAULT=" + spec, "WELLD_FAULT_LOG=" + log};
}

// The PID a regular file names, as welld reads it (never 0 or 1), or -1:
// unlike t::pid_in, a planted symlink or FIFO names nothing.
pid_t pid_as_welld_reads(const std::string& pidfile) {
  struct stat st {};
  if (::lstat(pidfile.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return welld::parse_pid(t::read_file(pidfile));
}
// Starts /bin/sleep as a daemon with `pidfile`; the guard ends it.
t::ProcessGuard start_sleeper(const std::string& pidfile, const std::vector<std::string>& env = {}) {
  auto r = welld_cli_env({"start", "-p", pidfile, "--", "/bin/sleep", "1000"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return t::ProcessGuard(pid_as_welld_reads(pidfile));
}

// Opens `dir` to everyone and makes `sticky` in it a world-writable sticky
// directory, as /tmp is.
void make_sticky_tmp(const t::TempDir& dir, const std::string& sticky) {
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(sticky.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sticky.c_str(), 01777), 0);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

// ---- item 5: every ancestor is checked -----------------------------------------------

TEST(SecurityAncestors, AnAncestorOwnedByAnotherUserIsRefused) {
  REQUIRE_ROOT();
  t::AttackerUser attacker;
  if (!attacker.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string anc = dir / "anc";
  ASSERT_EQ(::mkdir(anc.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((anc + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(::chown(anc.c_str(), attacker.uid(), attacker.gid()), 0);
  auto r = t::welld_cli({"start", "-p", anc + "/sub/app.pid", "--", "/bin/sleep", "1000"});
  t::ProcessGuard leaked(pid_as_welld_reads(anc + "/sub/app.pid"));
  EXPECT_EQ(r.exit_code, 4) << r.err;  // EPERM: "no permission"
  EXPECT_NE(r.err.find("belongs to uid " + std::to_string(attacker.uid())), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(anc + "/sub/app.pid"));
}

TEST(SecurityAncestors, StopThroughASwappedAncestorSignalsNothing) {
  REQUIRE_ROOT();
  t::AttackerUser attacker;
  if (!attacker.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "victim").c_str(), 0755), 0);
  t::ProcessGuard victim = start_sleeper(dir / "victim/app.pid");
  ASSERT_GT(victim.pid(), 1);
  std::string anc = dir / "anc";
  ASSERT_EQ(::mkdir(anc.c_str(), 0755), 0);
  ASSERT_EQ(::chown(anc.c_str(), attacker.uid(), attacker.gid()), 0);
  // The attacker replaces anc/sub (once a root 0755 directory) with a symlink.
  auto swap = attacker.sh("ln -s " + dir / "victim" + " " + anc + "/sub");
  ASSERT_EQ(swap.exit_code, 0) << swap.err;
  auto stop = t::welld_cli({"stop", "-p", anc + "/sub/app.pid", "--trust-pidfile"});
  EXPECT_EQ(stop.exit_code, 1) << stop.out << stop.err;
  EXPECT_NE(stop.err.find("belongs to uid"), std::string::npos) << stop.err;
  EXPECT_TRUE(t::alive(victim.pid()));
  EXPECT_EQ(t::welld_cli({"status", "-p", anc + "/sub/app.pid"}).exit_code, 4);
}

// ---- item 4: group-writable directories and planted files -----------------------------

TEST(SecurityGroupWritable, StartRefusesAGroupWritableDirectoryForPidfileAndLog) {
  REQUIRE_ROOT();
  t::AttackerUser member;
  if (!member.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string shared = dir / "shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0775), 0);
  ASSERT_EQ(::chown(shared.c_str(), 0, member.gid()), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0775), 0);
  auto r = t::welld_cli({"start", "-p", shared + "/a.pid", "--", "/bin/sleep", "1000"});
  t::ProcessGuard leaked(pid_as_welld_reads(shared + "/a.pid"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("writable by its group"), std::string::npos) << r.err;
  // A member could pre-create the log and read the daemon's output.
  auto plant = member.sh("touch " + shared + "/out.log && chmod 0666 " + shared + "/out.log");
  ASSERT_EQ(plant.exit_code, 0) << plant.err;
  auto log = t::welld_cli({"start", "-p", dir / "b.pid", "--stdout", shared + "/out.log", "--", "/bin/echo", "secret"});
  t::ProcessGuard leaked_log(pid_as_welld_reads(dir / "b.pid"));
  EXPECT_EQ(log.exit_code, 4) << log.err;
  EXPECT_NE(log.err.find("writable by its group"), std::string::npos) << log.err;
  EXPECT_EQ(t::read_file(shared + "/out.log"), "");
}

TEST(SecurityGroupWritable, AGroupMemberCannotRedirectStopToAnotherDaemon) {
  REQUIRE_ROOT();
  t::AttackerUser member;
  if (!member.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string shared = dir / "shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0);
  t::ProcessGuard a = start_sleeper(shared + "/a.pid");
  t::ProcessGuard b = start_sleeper(shared + "/b.pid");
  ASSERT_GT(a.pid(), 1);
  ASSERT_GT(b.pid(), 1);
  // The administrator then shares the directory with a group.
  ASSERT_EQ(::chown(shared.c_str(), 0, member.gid()), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0775), 0);
  auto mv = member.sh("mv " + shared + "/b.pid " + shared + "/a.pid");
  ASSERT_EQ(mv.exit_code, 0) << mv.err;
  auto stop = t::welld_cli({"stop", "-p", shared + "/a.pid"});
  EXPECT_EQ(stop.exit_code, 1) << stop.out << stop.err;
  EXPECT_TRUE(t::alive(b.pid()));
  EXPECT_TRUE(t::alive(a.pid()));
  auto status = t::welld_cli({"status", "-p", shared + "/a.pid"});
  EXPECT_EQ(status.exit_code, 4) << status.out << status.err;
  EXPECT_NE(status.err.find("writable by its group"), std::string::npos) << status.err;
}

TEST(SecurityPlanted, AnotherUsersPidfileInAStickyDirectoryIsNotOurs) {
  REQUIRE_ROOT();
  t::AttackerUser attacker;
  if (!attacker.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  std::string sticky = dir / "tmp";
  ASSERT_NO_FATAL_FAILURE(make_sticky_tmp(dir, sticky));
  std::string pidfile = sticky + "/a.pid";
  // The attacker's own daemon, with a genuine identity record, under root's name.
  auto plant = attacker.run({WELLD_CLI_PATH, "start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  t::ProcessGuard planted(pid_as_welld_reads(pidfile));
  ASSERT_EQ(plant.exit_code, 0) << plant.err;
  ASSERT_GT(planted.pid(), 1);
  auto status = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(status.exit_code, 4) << status.out << status.err;
  EXPECT_NE(status.err.find("owned by uid " + std::to_string(attacker.uid())), std::string::npos) << status.err;
  auto ok = t::welld_cli({"start", "--ok-if-running", "-p", pidfile, "--", "/bin/sleep", "1000"});
  EXPECT_NE(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.err.find("belongs to uid " + std::to_string(attacker.uid())), std::string::npos) << ok.err;
  EXPECT_EQ(pid_as_welld_reads(pidfile), planted.pid());
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 1);
  EXPECT_TRUE(t::alive(planted.pid()));
}

// ---- items 13, 16, 22: what is at the path ------------------------------------------

TEST(SecurityPath, ADataFileIsNeverReplaced) {
  t::TempDir dir;
  std::string db = dir / "important.db";
  std::string data;
  for (int i = 1; i <= 1000; ++i) data += std::to_string(i) + "\n";
  t::write_file(db, data);
  auto r = t::welld_cli({"start", "-p", db, "--", "/bin/sleep", "1000"});
  t::ProcessGuard leaked(pid_as_welld_reads(db));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("holds data that is not a PID"), std::string::npos) << r.err;
  EXPECT_EQ(t::read_file(db), data);
  EXPECT_EQ(t::welld_cli({"stop", "-p", db}).exit_code, 1);
  EXPECT_EQ(t::read_file(db), data);
}

// A hard link to a secret, with and without unnamed files (O_TMPFILE).
TEST(SecurityPath, AHardLinkedPidfileIsRefused) {
  t::TempDir dir;
  std::string secret = dir / "secret";
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::string text = std::to_string(dead) + "\n";  // a stale PID: replaceable but for the link
  t::write_file(secret, text);
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  std::string pidfile = dir / "app.pid";
  std::string log = dir / "fault.log";
  auto no_tmpfile = fault("tmpfile:EOPNOTSUPP:1:grandchild,tmpfile:EOPNOTSUPP:2:grandchild", log);
  for (const auto& env : {std::vector<std::string>{}, no_tmpfile}) {
    ::unlink(pidfile.c_str());
    ASSERT_EQ(::link(secret.c_str(), pidfile.c_str()), 0);
    auto r = welld_cli_env({"start", "-p", pidfile, "--", "/bin/sleep", "1000"}, env);
    t::ProcessGuard leaked(r.exit_code == 0 ? pid_as_welld_reads(pidfile) : -1);
    EXPECT_EQ(r.exit_code, 1) << (env.empty() ? "" : "without O_TMPFILE: ") << r.err;
    EXPECT_NE(r.err.find("hard links"), std::string::npos) << r.err;
    EXPECT_EQ(t::read_file(secret), text);
    EXPECT_EQ(mode_of(secret), 0600U);
  }
}

TEST(SecurityPath, HardLinkedLogIsRefused) {
  t::TempDir dir;
  std::string secret = dir / "secret";
  t::write_file(secret, "s3cret\n");
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  std::string log = dir / "out.log";
  ASSERT_EQ(::link(secret.c_str(), log.c_str()), 0);
  auto r = t::welld_cli({"start", "--stdout", log, "--", "/bin/echo", "leaked"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(t::read_file(secret), "s3cret\n");
}

// Item 8: in a sticky directory, an attacker who creates the log name in a
// loop must never receive the daemon's output (with fs.protected_regular=0,
// root's O_CREAT open without O_EXCL followed the attacker's file 18 times in 40).
TEST(SecurityPath, AnAttackerRacingToCreateTheLogNeverGetsTheOutput) {
  REQUIRE_ROOT();
  t::AttackerUser attacker;
  if (!attacker.available()) GTEST_SKIP() << "cannot create a user";
  t::TempDir dir;
  std::string sticky = dir / "tmp";
  ASSERT_NO_FATAL_FAILURE(make_sticky_tmp(dir, sticky));
  std::string log = sticky + "/out.log";
  std::string leaks = sticky + "/leaks";
  std::string loop = "while :; do grep -qs secret " + log + " && echo leak >> " + leaks + "; rm -f " + log +
                     " 2>/dev/null; : > " + log + " 2>/dev/null; chmod 666 " + log + " 2>/dev/null; done";
  pid_t racer = ::fork();
  if (racer == 0) {
    std::string uid = "--reuid=" + std::to_string(attacker.uid());
    std::string gid = "--regid=" + std::to_string(attacker.gid());
    ::execl("/usr/bin/setpriv", "setpriv", uid.c_str(), gid.c_str(), "--init-groups", "--inh-caps=-all", "--",
            "/bin/sh", "-c", loop.c_str(), nullptr);
    ::_exit(127);
  }
  t::ProcessGuard racing(racer);
  // The race is on once the attacker's file has appeared.
  for (int i = 0; i < 10000 && !t::exists(log); ++i) ::usleep(1000);
  ASSERT_TRUE(t::exists(log)) << "the attacker's loop never ran";
  int started = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = t::welld_cli({"start", "-p", dir / "x.pid", "--stdout", log, "--", "/bin/echo", "secret"});
    if (r.exit_code != 0) continue;  // refused: the attacker's file was there
    ++started;
    t::ProcessGuard daemon(pid_as_welld_reads(dir / "x.pid"));
    EXPECT_TRUE(daemon.wait_gone(10s));
    struct stat st {};
    if (::lstat(log.c_str(), &st) == 0 && st.st_uid == 0) ::unlink(log.c_str());  // ours: reset the race
  }
  racing.reset();
  struct stat st {};
  bool attackers = ::lstat(log.c_str(), &st) == 0 && st.st_uid == attacker.uid();
  EXPECT_FALSE(t::exists(leaks)) << t::read_file(leaks);
  if (attackers) {
    EXPECT_EQ(t::read_file(log).find("secret"), std::string::npos);
  }
  RecordProperty("starts", started);
}

// Opening a FIFO for reading releases a writer blocked in its open: status
// and stop must look at the name before they open it.
TEST(SecurityPath, StatusAndStopNeverOpenAFifo) {
  REQUIRE_ROOT();  // reads /proc/PID/syscall of the writer
  t::TempDir dir;
  std::string fifo = dir / "app.pid";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  for (const char* verb : {"status", "stop"}) {
    pid_t writer = ::fork();
    if (writer == 0) {
      int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // blocks until a reader opens
      ::_exit(fd >= 0 ? 0 : 1);
    }
    t::ProcessGuard guard(writer);
    // Wait until the writer is blocked inside openat (syscall 257 on x86-64, 56 on arm64).
    std::string syscall;
    for (int i = 0; i < 3000; ++i) {
      syscall = t::read_file("/proc/" + std::to_string(writer) + "/syscall");
      if (syscall.rfind("257 ", 0) == 0 || syscall.rfind("56 ", 0) == 0) break;
      ::usleep(1000);
    }
    ASSERT_TRUE(syscall.rfind("257 ", 0) == 0 || syscall.rfind("56 ", 0) == 0) << syscall;
    auto r = t::welld_cli({verb, "-p", fifo});
    EXPECT_NE(r.exit_code, 0) << verb;
    // Had it been opened, the writer would have returned from open and exited.
    EXPECT_FALSE(guard.wait_gone(1s)) << verb << " opened the FIFO";
  }
}

// ---- item 11: a relative path that cannot be made absolute -------------------------

TEST(SecurityPath, RelativePidfileFromADeletedDirectoryIsRefused) {
  t::TempDir dir;
  std::string gone = dir / "gone";
  std::string elsewhere = dir / "elsewhere";
  ASSERT_EQ(::mkdir(gone.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
  auto r = t::run({"/bin/sh", "-c",
                   "cd " + gone + " && rmdir " + gone + " && exec " WELLD_CLI_PATH " start -p x.pid --chdir " +
                       elsewhere + " -- /bin/sleep 1000"});
  t::ProcessGuard leaked(pid_as_welld_reads(elsewhere + "/x.pid"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("current directory"), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(elsewhere + "/x.pid"));
}

// ---- item 14: no identity, no start -------------------------------------------------

TEST(SecurityIdentity, AStartThatCannotReadItsStartTimeFailsAndLeavesNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "x.pid";
  std::string log = dir / "fault.log";
  // The daemon cannot open /proc/PID/stat (EMFILE), as under `ulimit -n 5`.
  auto r = welld_cli_env({"start", "-p", pidfile, "--", "/bin/sleep", "1000"},
                         fault("open:EMFILE:1:grandchild:/stat", log));
  t::ProcessGuard leaked(pid_as_welld_reads(pidfile));
  EXPECT_NE(t::read_file(log).find("fired open "), std::string::npos) << t::read_file(log);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(std::strerror(EMFILE)), std::string::npos) << r.err;
  EXPECT_FALSE(t::exists(pidfile));
  // And for real: under `ulimit -n 5` a start fails or records identity, never neither.
  auto limited = t::run(
      {"/bin/sh", "-c", "ulimit -n 5; exec " WELLD_CLI_PATH " start -p " + pidfile + " -- /bin/sleep 1000"});
  t::ProcessGuard daemon(pid_as_welld_reads(pidfile));
  if (limited.exit_code == 0) {
    EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 0);
  } else {
    EXPECT_FALSE(t::exists(pidfile)) << limited.err;
  }
}

// ---- item 3: file systems without user extended attributes --------------------------

void expect_identity_works(const std::string& pidfile, const std::vector<std::string>& start_env, bool side_record) {
  t::ProcessGuard daemon = start_sleeper(pidfile, start_env);
  ASSERT_GT(daemon.pid(), 1);
  EXPECT_EQ(t::read_file(pidfile), std::to_string(daemon.pid()) + "\n");
  std::string record = std::filesystem::path(pidfile).parent_path() /
                       ("." + std::filesystem::path(pidfile).filename().string() + ".welld");
  EXPECT_EQ(t::exists(record), side_record) << record;
  auto status = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  auto again = t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already running (pid " + std::to_string(daemon.pid()) + ")"), std::string::npos)
      << again.err;
  EXPECT_EQ(t::welld_cli({"reload", "-p", pidfile, "--signal", "CONT"}).exit_code, 0);
  auto stop = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(10s));
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_FALSE(t::exists(record));
  // The next start works, and a restart after it.
  t::ProcessGuard next = start_sleeper(pidfile, start_env);
  EXPECT_GT(next.pid(), 1);
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  EXPECT_TRUE(next.wait_gone(10s));
}

TEST(SecurityNoXattrs, IdentityWorksOnRamfs) {
  REQUIRE_ROOT();
  t::TempDir dir;
  t::Mount ram;
  if (auto why = ram.mount("ramfs", dir / "ram"); !why.empty()) GTEST_SKIP() << why;
  expect_identity_works(dir / "ram/app.pid", {}, true);
}

TEST(SecurityNoXattrs, IdentityWorksOnTmpfs) {
  REQUIRE_ROOT();
  t::TempDir dir;
  t::Mount tmp;
  if (auto why = tmp.mount("tmpfs", dir / "tmp"); !why.empty()) GTEST_SKIP() << why;
  // tmpfs has user xattrs since Linux 6.6: a side record only before that.
  std::string probe = dir / "tmp/probe";
  t::write_file(probe, "");
  bool xattrs = ::setxattr(probe.c_str(), "user.welld.probe", "1", 1, 0) == 0;
  ::unlink(probe.c_str());
  expect_identity_works(dir / "tmp/app.pid", {}, !xattrs);
}

TEST(SecurityNoXattrs, IdentityWorksWhenXattrsAreRefused) {
  for (const char* error : {"EOPNOTSUPP", "EPERM"}) {
    SCOPED_TRACE(error);
    t::TempDir dir;
    std::string log = dir / "fault.log";
    expect_identity_works(dir / "app.pid", fault(std::string("xattr:") + error + ":1:grandchild", log), true);
    EXPECT_NE(t::read_file(log).find("fired xattr"), std::string::npos);
  }
}

TEST(SecurityNoXattrs, ASideRecordNamesOneInode) {
  REQUIRE_ROOT();
  t::TempDir dir;
  t::Mount ram;
  if (auto why = ram.mount("ramfs", dir / "ram"); !why.empty()) GTEST_SKIP() << why;
  std::string pidfile = dir / "ram/app.pid";
  t::ProcessGuard daemon = start_sleeper(pidfile);
  ASSERT_GT(daemon.pid(), 1);
  // A copy in the file's place (same text, another inode) has no identity.
  std::string text = t::read_file(pidfile);
  ASSERT_EQ(::unlink(pidfile.c_str()), 0);
  t::write_file(pidfile, text);
  auto status = t::welld_cli({"status", "-p", pidfile});
  EXPECT_EQ(status.exit_code, 4) << status.out;
  EXPECT_NE(status.err.find("no welld identity"), std::string::npos) << status.err;
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 1);
  EXPECT_TRUE(t::alive(daemon.pid()));
}

// ---- forced fallbacks: no pidfd_open, no O_TMPFILE ----------------------------------

TEST(SecurityFallbacks, WithoutPidfdOpenControlStillPinsTheIdentity) {
  t::TempDir dir;
  std::string pidfile = dir / "app.pid";
  std::string log = dir / "fault.log";
  t::ProcessGuard daemon = start_sleeper(pidfile);
  ASSERT_GT(daemon.pid(), 1);
  auto no_pidfd = fault("pidfd_open:ENOSYS:1:caller", log);
  auto status = welld_cli_env({"status", "-p", pidfile}, no_pidfd);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  auto reload = welld_cli_env({"reload", "-p", pidfile, "--signal", "CONT"}, no_pidfd);
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  // Without pidfd_send_signal either there is no safe way to signal: refused.
  auto refused = welld_cli_env({"reload", "-p", pidfile, "--signal", "TERM"},
                               fault("pidfd_open:ENOSYS:1:caller,pidfd_send_signal:ENOSYS:1:caller", log));
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("never signals a process by its number"), std::string::npos) << refused.err;
  EXPECT_TRUE(t::alive(daemon.pid()));
  auto stop = welld_cli_env({"stop", "-p", pidfile}, no_pidfd);
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(daemon.wait_gone(10s));
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_NE(t::read_file(log).find("fired pidfd_open "), std::string::npos) << t::read_file(log);
}

TEST(SecurityFallbacks, WithoutUnnamedFilesThePidfileIsWrittenInPlace) {
  t::TempDir dir;
  std::string pidfile = dir / "app.pid";
  std::string log = dir / "fault.log";
  auto env = fault("tmpfile:EOPNOTSUPP:1:grandchild,tmpfile:EOPNOTSUPP:2:grandchild", log);
  ::umask(077);
  t::ProcessGuard daemon = start_sleeper(pidfile, env);
  ::umask(022);
  ASSERT_GT(daemon.pid(), 1);
  EXPECT_NE(t::read_file(log).find("fired tmpfile"), std::string::npos);
  EXPECT_EQ(mode_of(pidfile), 0644U);  // created by welld: its mode whatever the umask
  EXPECT_EQ(t::welld_cli({"status", "-p", pidfile}).exit_code, 0);
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  EXPECT_TRUE(daemon.wait_gone(10s));
  // A stale file of ours is rewritten in place, its mode left as it was.
  t::write_file(pidfile, "999999\n");
  ASSERT_EQ(::chmod(pidfile.c_str(), 0600), 0);
  t::ProcessGuard again = start_sleeper(pidfile, env);
  EXPECT_EQ(mode_of(pidfile), 0600U);
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
}

}  // namespace

// ---- item 19: stop --timeout beyond 2^31 ms --------------------------------------------

namespace {

TEST(SecurityControl, WaitsBeyondPollsIntOfMillisecondsAreWaitedInFull) {
  pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "3", nullptr);
    ::_exit(127);
  }
  t::ProcessGuard guard(child);
  welld::Process process;
  ASSERT_FALSE(welld::Process::open(child, 0, process));
  // 4294968296 ms truncated to an int is 1000 ms: the wait would give up
  // after a second, long before the child's three.
  EXPECT_TRUE(process.wait_exit(std::chrono::milliseconds(4294968296LL)));
  EXPECT_FALSE(t::alive(child));
}

}  // namespace
