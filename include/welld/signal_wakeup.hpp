// welld/signal_wakeup.hpp — a signal handler that wakes a poll loop.
//
// SignalWakeup installs one handler for the signals it is given; the handler
// marks the signal pending, records the first signal caught and writes to a
// close-on-exec, non-blocking eventfd (a self-pipe in one fd). A loop polls
// fd() for POLLIN and calls take() to learn which signals came. The handler
// is async-signal-safe (write(2) and lock-free atomics only) and keeps errno.
//
// Why not signalfd: signalfd needs the signals blocked, and a blocked SIGTERM
// is inherited across fork and exec, so anything started afterwards would
// ignore `kill` (what `welld audit` flags). The self-pipe leaves the mask as
// it is.
//
// Gotchas: the handler state is process-wide, so only one SignalWakeup may
// exist at a time. Each handler runs with every signal blocked, so the first
// signal recorded is the first delivered. take() gives each pending signal
// once, however often it came, in number order (not arrival order).
#pragma once

#include <signal.h>

#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "welld/unique_fd.hpp"

namespace welld {

struct SignalWakeupSettings {
  bool keep_ignored = false;     // a signal found ignored stays ignored (nohup's SIGHUP)
  bool restart = false;          // SA_RESTART: system calls other than poll(2) resume after the handler
  bool default_on_exit = false;  // on destruction SIG_DFL, not the disposition found on entry
};

class SignalWakeup {
 public:
  /// Install the handler for each of `signals`; check error() afterwards.
  explicit SignalWakeup(std::span<const int> signals, SignalWakeupSettings settings = {});
  /// Restore the dispositions (see SignalWakeupSettings::default_on_exit), then close the eventfd.
  ~SignalWakeup();
  SignalWakeup(const SignalWakeup&) = delete;
  SignalWakeup& operator=(const SignalWakeup&) = delete;
  SignalWakeup(SignalWakeup&&) = delete;
  SignalWakeup& operator=(SignalWakeup&&) = delete;

  /// The eventfd could not be made (nothing is caught then), or the last
  /// sigaction(2) that failed (the other signals are caught).
  std::error_code error() const noexcept { return error_; }

  /// Readable while a caught signal has not been taken.
  int fd() const noexcept { return fd_.get(); }

  /// The first signal caught since construction, or 0.
  int first() const noexcept;

  /// The signals caught since the last take(), each once, ascending; makes
  /// fd() unreadable until the next signal.
  std::vector<int> take();

  /// Of the signals the last take() gave: true when every delivery of `sig`
  /// since the take before came from the kernel (si_code > 0: a terminal's
  /// ^C or ^Z to its foreground process group, a timer, SIGCHLD), false when
  /// a process sent it (kill(2), sigqueue(3): si_code <= 0) or it was not given.
  /// welld run does not forward what a terminal already sent to its child.
  bool from_kernel(int sig) const noexcept;

 private:
  struct Saved {
    int sig;
    struct sigaction action;
  };
  UniqueFd fd_;
  std::error_code error_;
  std::vector<Saved> saved_;
  bool default_on_exit_ = false;
  std::uint64_t kernel_only_ = 0;
};

}  // namespace welld
