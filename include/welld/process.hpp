// welld/process.hpp — a live process, pinned by a pidfd.
//
// A PID is only a name: between reading it and signalling it the process can
// exit and the number go to another process. A pidfd refers to one process
// for good. Process::open takes the pidfd first and then checks the process's
// start time against the expected one, so a Process that opened successfully
// is the expected process, and every signal sent through it reaches that one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <system_error>

#include "welld/unique_fd.hpp"

namespace welld {

class Process {
 public:
  Process() = default;

  /// Pin `pid`. When `expected_start_time` is non-zero it must equal the
  /// process's start time (clock ticks since boot), else ESRCH. ESRCH also
  /// when the process is gone; EPERM/EACCES as the kernel says.
  static std::error_code open(pid_t pid, unsigned long long expected_start_time, Process& out);

  pid_t pid() const noexcept { return pid_; }
  int fd() const noexcept { return pidfd_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(pidfd_); }

  /// pidfd_send_signal. ESRCH when it has exited.
  std::error_code signal(int sig) const;

  /// Wait until the process exits, by polling the pidfd (no sleep loop).
  /// True when it exited within `timeout`. If it is our child it is reaped
  /// and `*wait_status` (when non-null) receives its status.
  bool wait_exit(std::chrono::milliseconds timeout, int* wait_status = nullptr) const;

  /// True when it has exited (non-blocking).
  bool exited() const { return wait_exit(std::chrono::milliseconds(0)); }

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

/// /proc/PID/cmdline with arguments joined by spaces ("" when unreadable).
std::string process_command_line(pid_t pid);

/// How long `pid` has been running (0 when gone).
std::chrono::seconds process_uptime(pid_t pid);

}  // namespace welld
