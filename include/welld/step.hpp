// welld/step.hpp — the numbered steps of daemonization, and how failures name them.
//
// Steps 1..15 are the fifteen steps of systemd's daemon(7) "SysV daemon" recipe,
// in its order. Numbers 16 and up are welld's own phases. The numbers are part
// of the ABI: they are returned by the C API (welld_daemonize) and printed by the
// CLI, so they never change meaning; new phases get new numbers.
//
// welld's error convention, one shape per layer:
// - System operations and parsers return std::error_code (errno-based, empty
//   on success) and fill an out-parameter, or std::optional with a one-line
//   error text for what users type (parse.hpp). No exceptions in the library.
// - daemonize, spawn_daemon and start_daemon return Status: the Step that
//   failed plus errno. Status::subject only names a thing (a path, a user);
//   prose (why welld refused) goes in Status::detail. Status::message() is the
//   one place that turns them into the printed line.
// - Code after fork or clone returns int errno (0 on success): it cannot
//   allocate, and the parent receives {step, errno} over the status pipe.
#pragma once

#include <string_view>
#include <system_error>

namespace welld {

enum class Step : int {
  none = 0,                  // success: nothing failed
  close_fds = 1,             // close every fd but 0, 1, 2 (and those the caller keeps)
  reset_signals = 2,         // every signal disposition back to SIG_DFL
  empty_signal_mask = 3,     // unblock every signal
  sanitize_environment = 4,  // environment reduced to an allowlist
  fork = 5,                  // first fork
  setsid = 6,                // new session, no controlling terminal
  fork_again = 7,            // second fork: the daemon can never reacquire a tty
  intermediate_exit = 8,     // the session leader exits; init adopts the daemon
  redirect_stdio = 9,        // 0, 1, 2 to /dev/null or to the named logs
  set_umask = 10,            // umask to a known value
  chdir = 11,                // working directory to / (or the named one)
  pidfile = 12,              // race-free PID file
  drop_privileges = 13,      // setgroups, setgid, setuid; root cannot be regained
  report_initialized = 14,   // tell the original process
  exit_original = 15,        // the original process returns/exits only now
  prepare = 16,              // validation before anything forks (bad options)
  init = 17,                 // the caller's init callback failed (error is its code)
  exec = 18,                 // execve of the command failed
  daemon_died = 19,          // the daemon died before reporting
  ready = 20,                // readiness was not reached (protocol failure, timeout)
  limits = 21,               // resource limits and scheduling priority
  chroot = 22,               // chroot into the named directory
};

/// Short stable name of a step, e.g. "pidfile", "drop-privileges".
std::string_view to_string(Step step) noexcept;

/// What the step does, for messages: "cannot open pidfile" reads
/// "<describe(step)>", e.g. "write the PID file".
std::string_view describe(Step step) noexcept;

/// std::error_code support: an error_code in step_category() has a Step as value.
const std::error_category& step_category() noexcept;
std::error_code make_error_code(Step step) noexcept;

}  // namespace welld

template <>
struct std::is_error_code_enum<welld::Step> : std::true_type {};
