// welld/process.hpp — a live process, pinned by a pidfd.
//
// A PID is only a name: between reading it and signalling it the process can
// exit and the number go to another process. A pidfd refers to one process
// for good. Process::open takes the pidfd first and then checks the process's
// start time against the expected one, so a Process that opened successfully
// is the expected process, and every signal sent through it reaches that one.
//
// Without pidfd_open (Linux before 5.3: ENOSYS) the handle is the process's
// /proc/PID directory opened the same way, which also refers to one process
// (it goes stale when that process is gone); pidfd_send_signal (Linux 5.1)
// accepts it. poll(2) reports that fd readable at all times, so it says nothing
// about an exit: pollable() tells the two apart, has_exited() reads the state
// from the directory, and wait_exit looks every 10 ms instead of polling. Without
// pidfd_send_signal (Linux before 5.1) signal() fails with ENOSYS: a PID is
// never signalled by number.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

#include "welld/unique_fd.hpp"

namespace welld {

class Process {
 public:
  Process() = default;

  /// Pin `pid`. When `expected_start_time` is non-zero it must equal the
  /// process's start time (clock ticks since boot), else ESRCH. ESRCH also
  /// when the process is gone; EPERM/EACCES as the kernel says.
  static std::error_code open(pid_t pid, unsigned long long expected_start_time, Process& out);

  /// Pin `pid`, an unreaped child of the caller, alive or already a zombie:
  /// its PID cannot go to another process until the caller reaps it, so no
  /// start time is checked (a zombie has none to check). ESRCH when it is not
  /// there (already reaped, or not a child of ours: the caller's promise).
  static std::error_code open_child(pid_t pid, Process& out);

  pid_t pid() const noexcept { return pid_; }
  int fd() const noexcept { return pidfd_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(pidfd_); }
  /// True when fd() is a pidfd, which poll(2) reports readable once the
  /// process exits; false for the /proc/PID directory fd used without
  /// pidfd_open, which is always readable (wait for SIGCHLD instead).
  bool pollable() const noexcept { return pidfd_ && !by_proc_; }

  /// pidfd_send_signal. ESRCH when it has exited; ENOSYS when the kernel has
  /// no pidfd_send_signal (nothing is sent).
  std::error_code signal(int sig) const;

  /// Wait until the process exits, by polling the pidfd (no sleep loop;
  /// without pidfd_open, by looking at its state every 10 ms).
  /// True when it exited within `timeout` (any length: longer than poll's int
  /// of milliseconds is several polls; beyond a century is forever). If it is our child it is reaped
  /// and `*wait_status` (when non-null) receives its status.
  bool wait_exit(std::chrono::milliseconds timeout, int* wait_status = nullptr) const;

  /// True when it has exited (non-blocking).
  bool exited() const { return wait_exit(std::chrono::milliseconds(0)); }

  /// True once the process has exited: a zombie, or reaped. Never reaps,
  /// never blocks; false for an empty Process. With a pidfd, whether poll(2)
  /// reports it readable; without (not pollable()), read from its /proc/PID
  /// directory: nothing wakes a poll then, so a waiter must look again.
  bool has_exited() const;

  /// True while the pinned process exists, as a running process or as a
  /// zombie nobody has reaped yet (its PID, session and process group are
  /// still its own then). Never reaps. A signal-0 probe through the pidfd.
  bool present() const;

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool by_proc_ = false;  // pidfd_ is a /proc/PID directory (no pidfd_open)
};

/// A child's end as words: "exited with status 3", "was killed by signal 9
/// (SIGKILL)", "ended (status unknown)" when it neither exited nor was killed
/// (a raw wait status, as waitpid stores it; -1 included).
std::string describe_wait_status(int wait_status);

/// Start time of `pid` in clock ticks since boot, or 0 when it is gone (or
/// /proc is unreadable). Async-signal-safe.
unsigned long long process_start_time(pid_t pid) noexcept;

/// True when `pid` is `root` or one of its descendants (walks PPid in /proc).
bool is_in_tree(pid_t pid, pid_t root);

/// True when `pid` is a descendant of the caller, never the caller itself.
/// As PID 1 every other process of the namespace is one (is_in_tree's walk
/// stops below PID 2: is_in_tree(pid, 1) is always false).
bool is_own_descendant(pid_t pid);

/// The processes under `root` (its children, theirs...), a snapshot of /proc
/// read by number: pin each (Process::open) and check again before acting.
/// Without a PID namespace of its own a caller sees all of them; zombies are
/// included.
std::vector<pid_t> descendants(pid_t root);

/// /proc/PID/cmdline with arguments joined by spaces ("" when unreadable).
std::string process_command_line(pid_t pid);

/// How long `pid` has been running (0 when gone).
std::chrono::seconds process_uptime(pid_t pid);

/// The session id of `pid` (field 6 of /proc/PID/stat; a zombie still has
/// one), -1 when it cannot be read or is 0 (a session made outside this PID
/// namespace, which scopes nothing). Read by number: pin the process and check
/// that it is still present() afterwards before believing it.
pid_t process_session(pid_t pid);

/// Every PID under /proc (a snapshot; entries come and go).
std::vector<pid_t> all_pids();

/// The cgroup v2 hierarchy: its mount point from /proc/self/mountinfo (the
/// first "cgroup2" entry: /sys/fs/cgroup on a unified layout,
/// /sys/fs/cgroup/unified on a hybrid one), "" when there is none. The
/// environment variable WELLD_TEST_NO_CGROUP=1, meant for tests only, makes
/// it "" (forces the session fallback).
std::string cgroup2_mount();

/// The cgroup v2 path of `pid` ("0::PATH" of /proc/PID/cgroup; 0 means the
/// caller), "" when there is none.
std::string process_cgroup(pid_t pid);

/// The PIDs in the cgroup v2 directory `dir` (its cgroup.procs), or an error.
std::error_code cgroup_members(const std::string& dir, std::vector<pid_t>& out);

/// True when the cgroup v2 directory `dir` has cgroup.kill (Linux 5.14). The
/// environment variable WELLD_TEST_NO_CGROUP_KILL=1, meant for tests only,
/// makes it false (forces signalling each member through its pidfd).
bool cgroup_has_kill(const std::string& dir);

}  // namespace welld
