// Privileges, confinement and files opened as root (welld start as root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// Wait (bounded) until `file` contains `text`: the probe has no readiness protocol.
bool wait_for_text(const std::string& file, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (t::read_file(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

#define REQUIRE_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root"

// A temporary directory a dropped user can traverse (mkdtemp makes it 0700),
// holding a copy of the probe (the build tree may sit in a directory that
// nobody cannot enter).
struct OpenDir : t::TempDir {
  std::string probe = t::copy_for_anyone(*this, PRIV_PROBE_PATH);
};

TEST(Privileges, DropToNobodyLeavesNoRootGroupAndCannotRegainRoot) {
  REQUIRE_ROOT();
  OpenDir dir;
  std::string pidfile = dir / "p.pid", log = dir / "p.log";
  auto r = t::welld_cli({"start", "-p", pidfile, "--output", log, "--user", "nobody", "--", dir.probe});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  ASSERT_TRUE(wait_for_text(log, "probe done")) << t::read_file(log);
  auto status = t::proc_status(pid);
  EXPECT_EQ(status["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(status["Gid"], "65534\t65534\t65534\t65534");
  std::istringstream groups(status["Groups"]);
  std::string g;
  while (groups >> g) EXPECT_EQ(g, "65534") << "a group other than nobody's: " << g;
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  std::string out = t::read_file(log);
  EXPECT_NE(out.find("setuid(0): Operation not permitted"), std::string::npos) << out;
  EXPECT_NE(out.find("setgid(0): Operation not permitted"), std::string::npos) << out;
  auto env = t::proc_environ(pid);
  std::set<std::string> e(env.begin(), env.end());
  EXPECT_TRUE(e.contains("HOME=/nonexistent") && e.contains("USER=nobody") && e.contains("LOGNAME=nobody") &&
              e.contains("SHELL=/usr/sbin/nologin"));
  // The PID file was written as root before the drop: the daemon cannot rewrite it.
  struct stat st {};
  ASSERT_EQ(::stat(pidfile.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 07777, 0644U);
}

TEST(Privileges, SupplementaryGroupsOption) {
  REQUIRE_ROOT();
  OpenDir dir;
  std::string pidfile = dir / "p.pid";
  auto r = t::welld_cli({"start", "-p", pidfile, "--user", "nobody:nogroup", "--supplementary-groups", "daemon,0", "--",
                         "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  EXPECT_EQ(t::proc_status(guard.pid())["Groups"].substr(0, 4), "0 1 ");
  auto none = t::welld_cli(
      {"start", "-p", dir / "q.pid", "--user", "nobody", "--supplementary-groups", "none", "--", "/bin/sleep", "1000"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  t::ProcessGuard guard2(t::pid_in(dir / "q.pid"));
  EXPECT_EQ(t::proc_status(guard2.pid())["Groups"], "");
}

TEST(Privileges, UnknownNamesFailBeforeForking) {
  t::TempDir dir;
  std::string pidfile = dir / "p.pid";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--user", "no-such-user-welld"}, "welld: start: unknown user 'no-such-user-welld'\n"},
      {{"--user", "nobody:no-such-group-welld"}, "welld: start: unknown group 'no-such-group-welld'\n"},
      {{"--user", "nobody", "--supplementary-groups", "nogroup,nope-welld"},
       "welld: start: unknown group 'nope-welld'\n"},
      {{"--user", "nobody", "--keep-caps", "cap_fly"}, "welld: start: unknown capability 'cap_fly'\n"},
      {{"--user", ":x"}, "welld: start: invalid user ':x' (USER or USER:GROUP)\n"},
      {{"--group", "nogroup"}, "welld: start: --group, --supplementary-groups and --keep-caps need --user\n"},
      {{"--rlimit", "nofiles=10"}, ""},
      {{"--rlimit", "nofile=ten"},
       "welld: start: invalid --rlimit value 'ten' (a number, optionally K/M/G/T, or unlimited)\n"},
      {{"--rlimit", "nofile=20:10"},
       "welld: start: invalid --rlimit 'nofile=20:10': the soft limit is above the hard limit\n"},
      {{"--nice", "40"}, ""},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"start", "-p", pidfile};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), {"--", "/bin/sleep", "1000"});
    auto r = t::welld_cli(args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args[1] << ": " << r.err;
    if (!c.message.empty()) {
      EXPECT_EQ(r.err, c.message);
    }
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(t::exists(pidfile));
  }
}

TEST(Privileges, PlantedSymlinksAreRefusedAndTargetsUntouched) {
  REQUIRE_ROOT();
  t::TempDir dir;
  std::string target = dir / "root-owned";
  t::write_file(target, "precious\n");
  timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, target.c_str(), old_times, 0), 0);
  std::string pidfile = dir / "p.pid", log = dir / "p.log";
  ASSERT_EQ(::symlink(target.c_str(), pidfile.c_str()), 0);
  auto r = t::welld_cli({"start", "-p", pidfile, "--user", "nobody", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "welld: start: refusing PID file " + pidfile + ": it is a symbolic link\n");
  ::unlink(pidfile.c_str());
  ASSERT_EQ(::symlink(target.c_str(), log.c_str()), 0);
  auto r2 = t::welld_cli({"start", "-p", pidfile, "--stdout", log, "--user", "nobody", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_EQ(r2.err, "welld: start: refusing log file " + log + ": it is a symbolic link\n");
  EXPECT_FALSE(t::exists(pidfile));
  EXPECT_EQ(t::read_file(target), "precious\n");
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
}

TEST(Privileges, DirectoryWritableByOthersIsRefused) {
  t::TempDir dir;
  std::string open_dir = dir / "open";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  auto r = t::welld_cli({"start", "-p", open_dir + "/p.pid", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "welld: start: refusing PID file " + open_dir + "/p.pid: directory " + open_dir +
                       " is writable by others and is not sticky\n");
  // A sticky one (like /tmp) is fine while the file is ours.
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  auto ok = t::welld_cli({"start", "-p", open_dir + "/p.pid", "--", "/bin/sleep", "1000"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  t::ProcessGuard guard(t::pid_in(open_dir + "/p.pid"));
}

TEST(Privileges, UntrustedPidfileIsRefusedByRootUnlessTrusted) {
  REQUIRE_ROOT();
  t::TempDir dir;
  std::string pidfile = dir / "p.pid";
  auto r = t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  ASSERT_EQ(::chmod(pidfile.c_str(), 0664), 0);
  auto stop = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_NE(stop.err.find("writable by group or others"), std::string::npos) << stop.err;
  EXPECT_NE(stop.err.find("--trust-pidfile"), std::string::npos);
  EXPECT_EQ(t::welld_cli({"reload", "-p", pidfile}).exit_code, 1);
  ASSERT_EQ(::chmod(pidfile.c_str(), 0644), 0);
  ASSERT_EQ(::chown(pidfile.c_str(), 65534, 65534), 0);
  auto stop2 = t::welld_cli({"stop", "-p", pidfile});
  EXPECT_EQ(stop2.exit_code, 1);
  EXPECT_NE(stop2.err.find("owned by uid 65534, not root"), std::string::npos) << stop2.err;
  EXPECT_TRUE(t::alive(guard.pid()));
  auto trusted = t::welld_cli({"stop", "-p", pidfile, "--trust-pidfile"});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_TRUE(guard.wait_gone(10s));
}

TEST(Privileges, SecretsAndLoaderVariablesStayOut) {
  REQUIRE_ROOT();
  OpenDir dir;
  std::string pidfile = dir / "p.pid";
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent.so", "API_TOKEN=s3cret",
                                  "KEEP_ME=yes"};
  auto r = t::welld_cli(
      {"start", "-p", pidfile, "--user", "nobody", "--keep-env", "KEEP_ME", "--", "/bin/sleep", "1000"}, 120s, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  ASSERT_TRUE(t::wait_for_exec(guard.pid()));
  auto e = t::proc_environ(guard.pid());
  std::set<std::string> got(e.begin(), e.end());
  EXPECT_TRUE(got.count("KEEP_ME=yes"));
  for (const auto& entry : e) {
    EXPECT_NE(entry.rfind("LD_PRELOAD", 0), 0U);
    EXPECT_NE(entry.rfind("API_TOKEN", 0), 0U);
  }
}

TEST(Privileges, KeepCapsLetsNobodyBindAPrivilegedPort) {
  REQUIRE_ROOT();
  OpenDir dir;
  int port = t::free_privileged_port(800, 899);  // webapp_test takes 900-999
  ASSERT_GT(port, 0) << "no free port in 800-899 on 127.0.0.1";
  std::string pidfile = dir / "p.pid", log = dir / "p.log";
  auto r = t::welld_cli({"start", "-p", pidfile, "--output", log, "--user", "nobody", "--keep-caps",
                         "cap_net_bind_service", "--", dir.probe, "--bind", std::to_string(port)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  ASSERT_TRUE(wait_for_text(log, "probe done")) << t::read_file(log);
  EXPECT_NE(t::read_file(log).find("bind: ok"), std::string::npos) << t::read_file(log);
  EXPECT_NE(t::read_file(log).find("setuid(0): Operation not permitted"), std::string::npos);
  EXPECT_EQ(t::proc_status(guard.pid())["CapAmb"], "0000000000000400");
  // Without the capability the same bind is refused.
  std::string log2 = dir / "q.log";
  auto r2 = t::welld_cli({"start", "-p", dir / "q.pid", "--output", log2, "--user", "nobody", "--", dir.probe, "--bind",
                          std::to_string(port)});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  t::ProcessGuard guard2(t::pid_in(dir / "q.pid"));
  ASSERT_TRUE(wait_for_text(log2, "probe done"));
  EXPECT_NE(t::read_file(log2).find("bind: Permission denied"), std::string::npos) << t::read_file(log2);
}

TEST(Privileges, RlimitNiceAndNoNewPrivsAreApplied) {
  t::TempDir dir;
  std::string pidfile = dir / "p.pid";
  auto r = t::welld_cli({"start", "-p", pidfile, "--nice", "7", "--rlimit", "nofile=512:1024", "--rlimit", "core=0",
                         "--no-new-privs", "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  t::ProcessGuard guard(t::pid_in(pidfile));
  std::string limits = t::read_file("/proc/" + std::to_string(guard.pid()) + "/limits");
  EXPECT_NE(limits.find("Max open files            512                  1024"), std::string::npos) << limits;
  EXPECT_NE(limits.find("Max core file size        0                    0"), std::string::npos) << limits;
  EXPECT_EQ(t::proc_stat(guard.pid())[19], "7");
  EXPECT_EQ(t::proc_status(guard.pid())["NoNewPrivs"], "1");
}

TEST(Privileges, ChrootMakesTheDirectoryTheRoot) {
  REQUIRE_ROOT();
  t::TempDir host;
  std::string jail = host / "jail";
  std::filesystem::create_directories(jail + "/bin");
  std::filesystem::copy_file(STATIC_PAUSE_PATH, jail + "/bin/pause");
  std::string pidfile = host / "p.pid";
  auto r = t::welld_cli({"start", "-p", pidfile, "--chroot", jail, "--user", "nobody", "--", "/bin/pause"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = t::pid_in(pidfile);
  t::ProcessGuard guard(pid);
  std::error_code ec;
  EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/root", ec).string(), jail);
  EXPECT_EQ(t::proc_cwd(pid), jail);
  // The PID file is a host path; stop works from outside.
  EXPECT_EQ(t::welld_cli({"stop", "-p", pidfile}).exit_code, 0);
  EXPECT_TRUE(guard.wait_gone(10s));
  // A program missing inside the jail is reported before anything forks.
  auto missing = t::welld_cli({"start", "-p", pidfile, "--chroot", jail, "--", "/bin/sleep", "1"});
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_EQ(missing.err, "welld: start: cannot execute /bin/sleep: No such file or directory\n");
}

}  // namespace

// The attacker-user fixture that security tests build on: a real, separate,
// unprivileged uid, removed afterwards.
TEST(AttackerUserFixture, RunsStepsAsItsOwnUnprivilegedUser) {
  std::string name;
  {
    t::AttackerUser user;
    if (!user.available()) GTEST_SKIP() << "needs root to create a user";
    name = user.name();
    t::RunResult r = user.run({"/usr/bin/id", "-u"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::stoul(r.out), user.uid());
    EXPECT_NE(user.uid(), 0U);
    t::RunResult caps = user.sh("grep CapEff /proc/self/status");
    EXPECT_NE(caps.out.find("0000000000000000"), std::string::npos) << caps.out;
  }
  EXPECT_NE(t::run({"/usr/bin/id", "-u", name}).exit_code, 0) << "the user outlived its fixture";
}

// Issue 13 item 2: a numeric id is a uid_t/gid_t only between 0 and
// 4294967294 (4294967295 is (uid_t)-1, "no change"); anything above used to
// wrap (4294967296 ran the daemon as root, 4294968296 as uid 1000).
TEST(Privileges, NumericIdsOutsideTheRangeAreRefused) {
  t::TempDir dir;
  std::string pidfile = dir / "p.pid";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::string range = " is out of range (0 to 4294967294)\n";
  std::vector<Case> cases = {
      {{"--user", "4294967296"}, "welld: start: user id 4294967296" + range},
      {{"--user", "4294968296"}, "welld: start: user id 4294968296" + range},
      {{"--user", "4294967295"}, "welld: start: user id 4294967295" + range},
      {{"--user", "99999999999999999999999"}, "welld: start: user id 99999999999999999999999" + range},
      {{"--user", "nobody", "--group", "4294967296"}, "welld: start: group id 4294967296" + range},
      {{"--user", "nobody:4294967296"}, "welld: start: group id 4294967296" + range},
      {{"--user", "nobody", "--supplementary-groups", "nogroup,4294967296"},
       "welld: start: group id 4294967296" + range},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"start", "-p", pidfile};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), {"--", "/bin/sleep", "1000"});
    auto r = t::welld_cli(args);
    t::ProcessGuard guard(t::exists(pidfile) ? t::pid_in(pidfile) : -1);  // the unfixed code started one
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_EQ(r.err, c.message);
    EXPECT_FALSE(t::exists(pidfile));
    if (guard.pid() > 0) std::filesystem::remove(pidfile);
  }
}
