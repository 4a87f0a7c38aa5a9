// Shared test plumbing: temporary directories, /proc readers, running helper
// programs (and, for the integration tests, the welld CLI) with a deadline, and
// cleaning up daemons by pidfd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace welld::test {

/// mkdtemp under $TMPDIR (or /tmp); removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Makes `dir` traversable by everyone (mkdtemp makes it 0700) and copies
/// `program` into it, so a process that dropped to another user can execute
/// it even when the build tree sits in a directory that user cannot enter.
/// Returns the copy's path.
std::string copy_for_anyone(const TempDir& dir, const std::string& program);

/// Holds a pidfd on a process the test started (directly or as a daemon);
/// on destruction SIGKILLs it if alive and waits until it is gone.
class ProcessGuard {
 public:
  ProcessGuard() = default;
  explicit ProcessGuard(pid_t pid);
  ~ProcessGuard();
  ProcessGuard(ProcessGuard&& other) noexcept;
  ProcessGuard& operator=(ProcessGuard&& other) noexcept;
  ProcessGuard(const ProcessGuard&) = delete;
  ProcessGuard& operator=(const ProcessGuard&) = delete;
  void reset(pid_t pid = -1);
  pid_t pid() const { return pid_; }
  /// Wait until the process is gone; false on timeout.
  bool wait_gone(std::chrono::milliseconds timeout) const;

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool by_pid_ = false;  // no pidfds here (ENOSYS: old kernel, valgrind)
};

/// A child of the test running `sleep 1000` (a live process that is no daemon
/// of ours); the guard ends it.
ProcessGuard sleeping_child();

/// A child of the test that runs `prepare` (set a signal disposition, write a
/// PID file...), then waits in pause() until killed. Returned once `prepare`
/// has returned true; an empty guard when it returned false (the child exits).
ProcessGuard paused_child(const std::function<bool()>& prepare);

/// PR_SET_CHILD_SUBREAPER for the scope of a test: a daemon orphaned by its
/// intermediate becomes our child, so its exit status can be collected.
class Subreaper {
 public:
  Subreaper();
  ~Subreaper();
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  Subreaper(Subreaper&&) = delete;
  Subreaper& operator=(Subreaper&&) = delete;

 private:
  int previous_ = 0;
};

/// A file system mounted under a test's TempDir, detached on destruction
/// (before the TempDir is removed, when declared after it). Each call returns
/// "" on success, else the error.
class Mount {
 public:
  Mount() = default;
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  Mount(Mount&&) = delete;
  Mount& operator=(Mount&&) = delete;
  /// `type` (tmpfs, ramfs...) at `target` (created), nosuid, nodev, mode 0755
  /// and `options`.
  std::string mount(const std::string& type, const std::string& target, const std::string& options = "");
  std::string tmpfs(const std::string& target, const std::string& options) { return mount("tmpfs", target, options); }
  /// `source` bound at `target` (created), then remounted read-only.
  std::string read_only_bind(const std::string& source, const std::string& target);

 private:
  std::string target_;
};

struct RunResult {
  int exit_code = -1;  // WEXITSTATUS, or -1 when killed / timed out
  int term_signal = 0;
  bool timed_out = false;
  pid_t pid = -1;  // the process that ran
  std::string out;
  std::string err;
};

/// Run argv (argv[0] a path) with stdin from /dev/null and stdout/stderr
/// captured, until both pipes reach EOF and the process exits, or `timeout`.
/// `env` (when given) replaces the environment.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::optional<std::vector<std::string>>& env = std::nullopt);

/// Run the welld CLI (WELLD_CLI_PATH) with `args`, as run() does. Integration
/// tests only: defined in welld_cli.cpp, in the welld_test_cli library, which
/// unit tests do not link (a unit test never runs the CLI).
RunResult welld_cli(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(120),
                    const std::optional<std::vector<std::string>>& env = std::nullopt);

std::string read_file(const std::string& path);
/// Read `fd` until what was read contains `needle` or the fd reaches EOF (or
/// fails); returns what was read.
std::string read_until(int fd, const std::string& needle);
/// The PID on the first line of a PID file, or -1 when the file is missing,
/// empty or does not start with a number.
pid_t pid_in(const std::string& pidfile);
/// The children of `pid` (its main task's /proc children list), oldest
/// first; empty when it has none or is gone.
std::vector<pid_t> children_of(pid_t pid);
void write_file(const std::string& path, const std::string& text);
bool exists(const std::string& path);

/// Fields of /proc/PID/status as name -> value ("SigBlk" -> "0000000000004000").
std::map<std::string, std::string> proc_status(pid_t pid);
/// Fields of /proc/PID/stat by 1-based number (field 1 is the pid).
std::vector<std::string> proc_stat(pid_t pid);
/// Wait until `pid` has finished building its new image after an execve.
/// A starter's exec confirmation (the close-on-exec status pipe reaching EOF)
/// comes from the kernel's point of no return: the name in /proc/PID/stat, the
/// command line and the environment are filled in a moment later. True once
/// the environment's end (stat field 51, set last) is known; false on timeout
/// or when the process is gone.
bool wait_for_exec(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30));
/// fd number -> readlink target.
std::map<int, std::string> proc_fds(pid_t pid);
/// proc_fds once only 0, 1 and 2 are open, or its last reading after
/// `timeout`: a freshly exec'd program opens files of its own for a moment
/// (sleep(1)'s setlocale reads /etc/locale.alias), a leaked fd stays open.
std::map<int, std::string> proc_fds_settled(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(5));
/// NAME=VALUE entries of /proc/PID/environ.
std::vector<std::string> proc_environ(pid_t pid);
std::string proc_cwd(pid_t pid);
bool alive(pid_t pid);

/// A TCP port that is free on 127.0.0.1 now (chosen by the kernel), or -1.
int free_tcp_port();
/// A privileged TCP port in [first, last] that is free on 127.0.0.1 now, or
/// -1. Tests that bind below 1024 run in parallel: each takes its own range.
int free_privileged_port(int first, int last);

/// An unprivileged local user made for one test (useradd, no home, no login
/// shell), removed with its group on destruction (userdel). Only root can
/// make one: `available()` is false otherwise, and the test should skip.
/// Steps run as it through setpriv (its uid, gid and groups, no capabilities).
class AttackerUser {
 public:
  /// A fresh user; with `group_of`, also a member of that existing group.
  explicit AttackerUser(const std::string& group_of = "");
  ~AttackerUser();
  AttackerUser(const AttackerUser&) = delete;
  AttackerUser& operator=(const AttackerUser&) = delete;
  AttackerUser(AttackerUser&&) = delete;
  AttackerUser& operator=(AttackerUser&&) = delete;
  bool available() const { return uid_ != static_cast<uid_t>(-1); }
  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  /// Run argv as this user (see run()).
  RunResult run(const std::vector<std::string>& argv,
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  /// `sh -c script` as this user.
  RunResult sh(const std::string& script, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

 private:
  std::string name_;
  uid_t uid_ = static_cast<uid_t>(-1);
  gid_t gid_ = static_cast<gid_t>(-1);
};

/// Bit for signal `sig` in a /proc hex signal mask.
bool mask_has(const std::string& hex_mask, int sig);

/// Parse "pid N" style lines written by helpers: the integer after `key `.
std::optional<long> field_after(const std::string& text, const std::string& key);

}  // namespace welld::test
