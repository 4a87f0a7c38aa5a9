// Robustness: PID files on a full or read-only filesystem, many start/stop
// cycles of one PID file, and concurrent start and stop against one PID file.
//
// Tests that follow daemons to their end make this process a child subreaper,
// so that every daemon, once its launcher exits, is our child: it can be
// counted, reaped, and killed by PID if an assertion fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <latch>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"
#include "welld/control.hpp"
#include "welld/daemon.hpp"
#include "welld/pidfile.hpp"

using namespace std::chrono_literals;
using welld::Step;
namespace t = welld::test;

namespace {

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Our children, alive or zombie, found through /proc (each process's field 4).
std::set<pid_t> children() {
  std::set<pid_t> found;
  std::string self = std::to_string(::getpid());
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = t::proc_stat(std::stoi(name));
    if (stat.size() > 4 && stat[4] == self) found.insert(std::stoi(name));
  }
  return found;
}

bool is_zombie(pid_t pid) {
  auto stat = t::proc_stat(pid);
  return stat.size() > 3 && stat[3] == "Z";
}

// Raw wait status of our child `pid` (it must have exited or be about to).
int reap(pid_t pid) {
  int ws = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &ws, 0);
  } while (r < 0 && errno == EINTR);
  return r == pid ? ws : -1;
}

// Wait status of our child `pid` once it has exited, waiting at most
// `timeout` (by its pidfd); nullopt when it is still running.
std::optional<int> reap_within(pid_t pid, std::chrono::milliseconds timeout) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return std::nullopt;
  pollfd p{fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return reap(pid);
}

bool has_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// At the end of a test, whatever failed: SIGKILL and reap every child left.
// (A child's PID cannot be reused before we reap it, so kill(pid) is safe.)
class ChildrenCleanup {
 public:
  ChildrenCleanup() = default;
  ~ChildrenCleanup() {
    for (pid_t pid : children()) {
      ::kill(pid, SIGKILL);
      reap(pid);
    }
  }
  ChildrenCleanup(const ChildrenCleanup&) = delete;
  ChildrenCleanup& operator=(const ChildrenCleanup&) = delete;
  ChildrenCleanup(ChildrenCleanup&&) = delete;
  ChildrenCleanup& operator=(ChildrenCleanup&&) = delete;
};

// ---- mounts ---------------------------------------------------------------

// The tests' mounts are made in a private mount namespace of this process:
// only it and its children see them, and they vanish with it whatever
// happens. Empty when entered, else why not.
std::string private_mount_namespace() {
  static const std::string why = []() -> std::string {
    if (::geteuid() != 0) return "needs root (CAP_SYS_ADMIN) to mount";
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("cannot make / private in the new namespace: ") + std::strerror(errno);
    }
    return {};
  }();
  return why;
}

// Fill the filesystem holding `dir` with one file until it reports ENOSPC.
void fill(const std::string& dir) {
  std::string path = dir + "/fill";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string block(4096, 'x');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  int err = errno;
  ::close(fd);
  ASSERT_EQ(err, ENOSPC) << std::strerror(err);
}

// A dead PID: a child of ours that exited and was reaped.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  reap(pid);
  return pid;
}

// Writing `pidfile` fails with `expected` (an errno) through the library's
// write_pidfile, through daemonize and through `welld start`: a clear error
// naming the PID-file step, no daemon left, and `dir` holds `left` only.
void expect_pidfile_write_fails(const std::string& dir, const std::string& pidfile, int expected,
                                const std::set<std::string>& left) {
  std::string text = std::strerror(expected);

  pid_t holder = 0;
  EXPECT_EQ(welld::write_pidfile(pidfile.c_str(), ::getpid(), &holder),
            std::error_code(expected, std::system_category()));
  EXPECT_EQ(holder, -1);
  EXPECT_EQ(entries(dir), left) << "write_pidfile";

  welld::Status st = welld::daemonize(
      {.pidfile = pidfile, .collect_exit_status = true}, [] { return 0; },
      [] {
        for (;;) ::pause();
        return 0;
      });
  EXPECT_EQ(st.step, Step::pidfile) << st.message();
  EXPECT_EQ(st.error, expected) << st.message();
  EXPECT_EQ(st.message(), "cannot write the PID file " + pidfile + ": " + text);
  EXPECT_GT(st.pid, 1) << "the daemon was created and failed at the PID-file step";
  EXPECT_FALSE(t::exists("/proc/" + std::to_string(st.pid))) << "the failed daemon was not reaped";
  EXPECT_EQ(entries(dir), left) << "daemonize";

  // As subreaper, a daemon left behind by welld would become our child.
  t::Subreaper subreaper;
  ChildrenCleanup cleanup;
  auto r = t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "welld: start: cannot write the PID file " + pidfile + ": " + text + "\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(entries(dir), left) << "welld start";

  EXPECT_EQ(children(), std::set<pid_t>()) << "a daemon was left behind";
  EXPECT_FALSE(has_children());
}

TEST(FullFilesystem, PidfileWriteFailsCleanlyWhenNoBlockIsLeft) {
  if (auto why = private_mount_namespace(); !why.empty()) GTEST_SKIP() << why;
  t::TempDir dir;
  std::string mnt = dir / "full";
  t::Mount mount;
  ASSERT_EQ(mount.tmpfs(mnt, "size=16k"), "");
  fill(mnt);
  // The file is created (tmpfs inodes cost no blocks); writing its PID fails.
  expect_pidfile_write_fails(mnt, mnt + "/x.pid", ENOSPC, {"fill"});
}

TEST(FullFilesystem, PidfileWriteFailsCleanlyWhenNoInodeIsLeft) {
  if (auto why = private_mount_namespace(); !why.empty()) GTEST_SKIP() << why;
  t::TempDir dir;
  std::string mnt = dir / "full";
  t::Mount mount;
  // The root directory takes the only inode: creating the file fails.
  ASSERT_EQ(mount.tmpfs(mnt, "size=64k,nr_inodes=1"), "");
  expect_pidfile_write_fails(mnt, mnt + "/x.pid", ENOSPC, {});
}

TEST(FullFilesystem, PidfileWriteFailsCleanlyWhenTheIdentityDoesNotFit) {
  if (auto why = private_mount_namespace(); !why.empty()) GTEST_SKIP() << why;
  t::TempDir dir;
  std::string mnt = dir / "full";
  {
    // tmpfs stores user extended attributes since Linux 6.6, charged to the
    // inode space that nr_inodes bounds; before that they are unsupported and
    // a PID file there simply has no identity (see pidfile.hpp).
    t::Mount probe;
    ASSERT_EQ(probe.tmpfs(mnt, "size=64k"), "");
    t::write_file(mnt + "/probe", "x");
    if (::setxattr((mnt + "/probe").c_str(), welld::kIdentityXattr, "1 1", 3, 0) != 0) {
      GTEST_SKIP() << "tmpfs here has no user extended attributes: " << std::strerror(errno);
    }
  }
  t::Mount mount;
  // Two inodes: the root and the PID file. The PID is written, then the
  // identity attribute finds no space: the file must not stay without it.
  ASSERT_EQ(mount.tmpfs(mnt, "size=64k,nr_inodes=2"), "");
  expect_pidfile_write_fails(mnt, mnt + "/x.pid", ENOSPC, {});
}

TEST(ReadOnlyFilesystem, PidfileWriteFailsCleanlyAndAStaleFileIsKept) {
  if (auto why = private_mount_namespace(); !why.empty()) GTEST_SKIP() << why;
  t::TempDir dir;
  std::string src = dir / "src";
  std::string ro = dir / "ro";
  std::filesystem::create_directory(src);
  ::chmod(src.c_str(), 0755);
  // A stale PID file from an earlier run, identity and all.
  std::string stale_text = std::to_string(dead_pid()) + "\n";
  t::write_file(src + "/stale.pid", stale_text);
  ASSERT_EQ(::setxattr((src + "/stale.pid").c_str(), welld::kIdentityXattr, "2 1", 3, 0), 0) << std::strerror(errno);
  t::Mount mount;
  ASSERT_EQ(mount.read_only_bind(src, ro), "");

  // Absent: creating it fails.
  expect_pidfile_write_fails(ro, ro + "/new.pid", EROFS, {"stale.pid"});
  // Stale: opening it for writing fails; the file stays as it was.
  expect_pidfile_write_fails(ro, ro + "/stale.pid", EROFS, {"stale.pid"});
  EXPECT_EQ(t::read_file(ro + "/stale.pid"), stale_text);
  EXPECT_EQ(welld::inspect_pidfile(ro + "/stale.pid").state, welld::PidfileState::stale);
}

// Without /proc (hidden here), through which unnamed files are linked and the
// start time is read, no PID file is written at all: never one without identity.
TEST(PidfileFallback, WithoutProcNoFileIsWrittenWithoutIdentity) {
  if (auto why = private_mount_namespace(); !why.empty()) GTEST_SKIP() << why;
  t::TempDir dir;
  std::string fresh = dir / "fresh.pid";
  std::string stale = dir / "stale.pid";
  std::string stale_text = std::to_string(dead_pid()) + "\n";
  t::write_file(stale, stale_text);
  ASSERT_EQ(::setxattr(stale.c_str(), welld::kIdentityXattr, "2 1", 3, 0), 0) << std::strerror(errno);
  std::string mnt = dir / "full";
  t::Mount full;
  ASSERT_EQ(full.tmpfs(mnt, "size=16k"), "");
  fill(mnt);
  std::error_code fresh_result, stale_result, full_result;
  {
    t::Mount hidden_proc;
    ASSERT_EQ(hidden_proc.tmpfs("/proc", "size=4k"), "");
    fresh_result = welld::write_pidfile(fresh.c_str(), ::getpid());
    stale_result = welld::write_pidfile(stale.c_str(), ::getpid());
    full_result = welld::write_pidfile((mnt + "/x.pid").c_str(), ::getpid());
  }
  ASSERT_TRUE(t::exists("/proc/self/stat"));
  // Without /proc there is no start time to record: no file is published
  // without identity (issue 13 item 14), and a stale one stays as it was.
  // The in-place writing itself is forced through the fault shim instead
  // (fault_test.cpp, PidfileFallbacks).
  for (const auto* result : {&fresh_result, &stale_result, &full_result}) {
    EXPECT_EQ(*result, std::error_code(ENOENT, std::system_category())) << result->message();
  }
  EXPECT_FALSE(t::exists(fresh));
  EXPECT_EQ(t::read_file(stale), stale_text);
  EXPECT_EQ(entries(mnt), std::set<std::string>{"fill"});
}

// ---- start/stop cycles ----------------------------------------------------

TEST(StartStopCycles, HundredCliCyclesLeakNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "cycle.pid";
  t::Subreaper subreaper;
  ChildrenCleanup cleanup;
  auto fds_before = t::proc_fds(::getpid());
  for (int cycle = 0; cycle < 100; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    auto start = t::welld_cli({"start", "-p", pidfile, "--", "/bin/sleep", "1000"});
    ASSERT_EQ(start.exit_code, 0) << start.err;
    pid_t pid = welld::parse_pid(t::read_file(pidfile));
    ASSERT_GT(pid, 1);
    t::ProcessGuard guard(pid);
    ASSERT_TRUE(t::wait_for_exec(pid));
    auto stat = t::proc_stat(pid);
    ASSERT_GT(stat.size(), 4U);
    EXPECT_EQ(stat[2], "sleep");
    EXPECT_NE(stat[3], "Z");
    // welld has exited: the daemon is ours, as its nearest subreaper.
    EXPECT_EQ(stat[4], std::to_string(::getpid()));
    EXPECT_EQ(welld::process_command_line(pid), "/bin/sleep 1000");

    auto status = t::welld_cli({"status", "-p", pidfile});
    EXPECT_EQ(status.exit_code, 0) << status.out << status.err;

    auto stop = t::welld_cli({"stop", "-p", pidfile});
    EXPECT_EQ(stop.exit_code, 0) << stop.err;
    EXPECT_EQ(stop.out, "cycle stopped (pid " + std::to_string(pid) + ")\n");
    auto ws = reap_within(pid, 30s);
    ASSERT_TRUE(ws) << "the daemon survived stop";
    EXPECT_TRUE(WIFSIGNALED(*ws) && WTERMSIG(*ws) == SIGTERM) << "wait status " << *ws;
    EXPECT_FALSE(t::alive(pid));
    EXPECT_FALSE(t::exists(pidfile));
    EXPECT_EQ(entries(dir.path()), std::set<std::string>());
    EXPECT_FALSE(has_children());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(t::proc_fds(::getpid()), fds_before);
  EXPECT_FALSE(has_children());
}

TEST(StartStopCycles, HundredLibraryCyclesLeakNothing) {
  t::TempDir dir;
  std::string pidfile = dir / "cycle.pid";
  t::Subreaper subreaper;
  ChildrenCleanup cleanup;
  auto fds_before = t::proc_fds(::getpid());
  for (int cycle = 0; cycle < 100; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    // The daemon waits for SIGTERM, whose disposition daemonize reset to the default.
    welld::Status st = welld::daemonize(
        {.pidfile = pidfile}, [] { return 0; },
        [] {
          for (;;) ::pause();
          return 0;
        });
    ASSERT_TRUE(st) << st.message();
    ASSERT_GT(st.pid, 1);
    t::ProcessGuard guard(st.pid);
    EXPECT_EQ(t::read_file(pidfile), std::to_string(st.pid) + "\n");
    EXPECT_EQ(t::proc_stat(st.pid)[4], std::to_string(::getpid()));
    welld::DaemonLookup found = welld::find_daemon(pidfile);
    EXPECT_EQ(found.file.state, welld::PidfileState::running) << found.file.reason;
    EXPECT_EQ(found.process.pid(), st.pid);

    welld::StopResult stop = welld::stop_daemon(pidfile, SIGTERM, 30s);
    EXPECT_EQ(stop.outcome, welld::StopOutcome::stopped) << stop.reason;
    EXPECT_EQ(stop.pid, st.pid);
    // stop_daemon reaped it: it was our child.
    EXPECT_FALSE(t::alive(st.pid));
    EXPECT_FALSE(t::exists(pidfile));
    EXPECT_EQ(entries(dir.path()), std::set<std::string>());
    EXPECT_FALSE(has_children());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(t::proc_fds(::getpid()), fds_before);
  EXPECT_FALSE(has_children());
}

// ---- concurrent start and stop --------------------------------------------

// A signal_recorder started by the test: a live process that is no daemon of
// the race, and writes to `log` any signal it receives.
t::ProcessGuard start_stranger(const std::string& log) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(SIGNAL_RECORDER_PATH, "signal_recorder", log.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[16] = {};
  ssize_t n;
  do {
    n = ::read(out[0], buf, sizeof buf - 1);  // "ready": its handlers are in place
  } while (n < 0 && errno == EINTR);
  ::close(out[0]);
  return t::ProcessGuard(pid);
}

bool pidfd_alive(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  bool alive = ::poll(&p, 1, 0) == 0;
  ::close(fd);
  return alive;
}

// Lines of the shared signal log written by `pid`.
std::vector<std::string> log_lines_of(const std::string& log, pid_t pid) {
  std::vector<std::string> lines;
  std::istringstream in(t::read_file(log));
  std::string line;
  std::string prefix = std::to_string(pid) + " ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  }
  return lines;
}

std::optional<pid_t> pid_in_message(const std::string& text, const std::string& before) {
  auto at = text.find(before);
  if (at == std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::stol(text.substr(at + before.size())));
}

enum class Plant { nothing, forged_start_time, forged_pid, old_without_identity };

// Put the stranger's PID in `pidfile` as a stale file of the given kind.
void plant(const std::string& pidfile, Plant how, pid_t stranger) {
  if (how == Plant::nothing) return;
  t::write_file(pidfile, std::to_string(stranger) + "\n");
  ::chmod(pidfile.c_str(), 0644);
  std::string identity;
  if (how == Plant::forged_start_time) {
    identity = std::to_string(stranger) + " " + std::to_string(welld::process_start_time(stranger) + 1);
  } else if (how == Plant::forged_pid) {
    identity = std::to_string(dead_pid()) + " " + std::to_string(welld::process_start_time(stranger));
  }
  if (!identity.empty()) {
    ASSERT_EQ(::setxattr(pidfile.c_str(), welld::kIdentityXattr, identity.data(), identity.size(), 0), 0);
  } else {
    // Written long before the stranger started: it cannot be the stranger's.
    timespec old[2] = {{978307200, 0}, {978307200, 0}};  // 2001-01-01
    ASSERT_EQ(::utimensat(AT_FDCWD, pidfile.c_str(), old, 0), 0);
  }
  ASSERT_EQ(welld::inspect_pidfile(pidfile).state, welld::PidfileState::stale);
}

struct Round {
  std::vector<t::RunResult> starts;
  std::vector<t::RunResult> stops;
};

// `starters` concurrent `welld start`s and, at the same time, `welld stop`
// again and again until every starter has returned.
Round race(const std::string& pidfile, const std::vector<std::string>& command, int starters) {
  Round round;
  round.starts.resize(static_cast<size_t>(starters));
  std::latch go(starters + 1);
  std::atomic<int> starting(starters);
  std::vector<std::thread> threads;
  threads.reserve(starters + 1);
  for (int i = 0; i < starters; ++i) {
    threads.emplace_back([&, i] {
      std::vector<std::string> args = {"start", "-p", pidfile, "--"};
      args.insert(args.end(), command.begin(), command.end());
      go.arrive_and_wait();
      round.starts[static_cast<size_t>(i)] = t::welld_cli(args);
      starting.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {
    go.arrive_and_wait();
    do {
      round.stops.push_back(t::welld_cli({"stop", "-p", pidfile}));
    } while (starting.load() > 0);
  });
  for (auto& thread : threads) thread.join();
  return round;
}

// Rounds of race(); after each, everything that happened is accounted for.
void race_rounds(int rounds, int starters) {
  t::TempDir dir;
  std::string pidfile = dir / "race.pid";
  std::string log = dir / "signals.log";
  std::string lock = dir / "instance.lock";
  t::Subreaper subreaper;
  ChildrenCleanup cleanup;
  t::ProcessGuard stranger = start_stranger(log);
  ASSERT_GT(stranger.pid(), 1);
  std::vector<std::string> command = {SIGNAL_RECORDER_PATH, log, lock};
  std::string died_prefix = "welld: start: the daemon (pid ";
  std::string died_suffix = ") was killed by signal 15 (SIGTERM) before it was initialized\n";
  int started_total = 0, stopped_total = 0;
  for (int i = 0; i < rounds; ++i) {
    SCOPED_TRACE("round " + std::to_string(i));
    auto how = static_cast<Plant>(i % 4);
    plant(pidfile, how, stranger.pid());
    Round round = race(pidfile, command, starters);

    // What each side said.
    int started = 0;
    std::set<pid_t> died;  // daemons stopped before they finished starting
    for (const auto& r : round.starts) {
      if (r.exit_code == 0) {
        EXPECT_EQ(r.err, "");
        ++started;
        continue;
      }
      EXPECT_EQ(r.exit_code, 1) << r.err;
      if (auto holder = pid_in_message(r.err, "welld: start: already running (pid ")) {
        EXPECT_EQ(r.err, "welld: start: already running (pid " + std::to_string(*holder) + ")\n");
        EXPECT_NE(*holder, stranger.pid()) << "a stale PID file was taken for a running daemon";
      } else if (auto pid = pid_in_message(r.err, died_prefix)) {
        std::string expected = died_prefix;
        expected.append(std::to_string(*pid)).append(died_suffix);
        EXPECT_EQ(r.err, expected);
        died.insert(*pid);
      } else {
        ADD_FAILURE() << "unexpected start failure: " << r.err;
      }
    }
    std::set<pid_t> stopped;
    for (const auto& r : round.stops) {
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_EQ(r.err, "");
      if (auto pid = pid_in_message(r.out, "race stopped (pid ")) {
        EXPECT_EQ(r.out, "race stopped (pid " + std::to_string(*pid) + ")\n");
        EXPECT_TRUE(stopped.insert(*pid).second) << "stopped twice: " << *pid;
      } else {
        EXPECT_EQ(r.out.rfind("race is not running", 0), 0U) << r.out;
      }
    }

    // Every daemon of the round is our child now: alive, or a zombie that a stop ended.
    std::set<pid_t> alive, ended;
    for (pid_t pid : children()) {
      if (pid == stranger.pid()) continue;
      if (!is_zombie(pid)) {
        alive.insert(pid);
        continue;
      }
      int ws = reap(pid);
      ended.insert(pid);
      EXPECT_TRUE(stopped.count(pid)) << "daemon " << pid << " ended without a stop naming it";
      EXPECT_TRUE((WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM) || (WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
          << "daemon " << pid << ": wait status " << ws;
    }
    EXPECT_LE(alive.size(), 1U) << "two daemons";
    EXPECT_EQ(started, static_cast<int>(alive.size() + ended.size())) << "a started daemon is unaccounted for";
    for (pid_t pid : stopped) {
      EXPECT_TRUE(ended.contains(pid) || died.contains(pid)) << "stop named " << pid << ", which no start created";
    }
    for (pid_t pid : died) EXPECT_TRUE(stopped.count(pid)) << pid;
    if (alive.empty()) {
      EXPECT_FALSE(t::exists(pidfile)) << t::read_file(pidfile);
    } else if (alive.size() == 1) {
      // The survivor is the daemon the file names; stopping it clears the ground.
      pid_t survivor = *alive.begin();
      EXPECT_EQ(t::read_file(pidfile), std::to_string(survivor) + "\n");
      EXPECT_EQ(welld::inspect_pidfile(pidfile).state, welld::PidfileState::running);
      auto stop = t::welld_cli({"stop", "-p", pidfile});
      EXPECT_EQ(stop.exit_code, 0) << stop.err;
      EXPECT_TRUE(reap_within(survivor, 30s)) << "the survivor " << survivor << " outlived stop";
      EXPECT_FALSE(t::exists(pidfile));
    }
    // Never two instances at once (each holds the instance lock), never a signal to the stranger.
    EXPECT_EQ(t::read_file(log).find("overlap"), std::string::npos) << t::read_file(log);
    EXPECT_TRUE(pidfd_alive(stranger.pid()));
    EXPECT_EQ(log_lines_of(log, stranger.pid()), std::vector<std::string>());
    started_total += started;
    stopped_total += static_cast<int>(stopped.size());
    if (::testing::Test::HasFailure()) break;
  }
  auto status = t::proc_status(stranger.pid());
  EXPECT_EQ(status["SigPnd"], "0000000000000000");
  EXPECT_EQ(status["ShdPnd"], "0000000000000000");
  std::printf("%d rounds: %d daemons started, %d stopped mid-race\n", rounds, started_total, stopped_total);
}

TEST(ConcurrentStartStop, OneStarterAndAStopperNeverLeaveTwoDaemonsOrSignalAStranger) { race_rounds(40, 1); }

TEST(ConcurrentStartStop, ThreeStartersAndAStopperNeverLeaveTwoDaemonsOrSignalAStranger) { race_rounds(30, 3); }

TEST(ConcurrentStartStop, UnverifiablePidfileIsRefusedByBothSides) {
  t::TempDir dir;
  std::string pidfile = dir / "race.pid";
  std::string log = dir / "signals.log";
  t::Subreaper subreaper;
  ChildrenCleanup cleanup;
  t::ProcessGuard stranger = start_stranger(log);
  ASSERT_GT(stranger.pid(), 1);
  // No identity, written after the stranger started: it may be the daemon.
  std::string text = std::to_string(stranger.pid()) + "\n";
  t::write_file(pidfile, text);
  ASSERT_EQ(welld::inspect_pidfile(pidfile).state, welld::PidfileState::unverified);
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE("round " + std::to_string(i));
    Round round = race(pidfile, {"/bin/sleep", "1000"}, 2);
    for (const auto& r : round.starts) {
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_EQ(r.err, "welld: start: already running (pid " + std::to_string(stranger.pid()) + ")\n");
    }
    for (const auto& r : round.stops) {
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_EQ(r.err, "welld: stop: refusing to signal: the PID file has no welld identity record to verify PID " +
                           std::to_string(stranger.pid()) + " by\n");
    }
    EXPECT_EQ(t::read_file(pidfile), text);
    EXPECT_EQ(children(), std::set<pid_t>{stranger.pid()}) << "a daemon was left behind";
    EXPECT_TRUE(pidfd_alive(stranger.pid()));
    EXPECT_EQ(log_lines_of(log, stranger.pid()), std::vector<std::string>());
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
