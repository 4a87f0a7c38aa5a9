// Signals while `welld start` runs: every catchable signal whose default
// action ends the process (HUP INT QUIT TERM USR1 USR2 ALRM VTALRM PROF XCPU
// XFSZ IO PWR STKFLT and the real-time signals) is caught into a close-on-exec
// eventfd (welld::SignalWakeup), so the wait (a poll loop in the library)
// can include fd() and
// return promptly; the start then stops the half-started daemon and exits
// 128 + the signal number (130 for INT, 131 for QUIT, 143 for TERM...).
// A signal the caller left ignored (nohup's SIGHUP) stays ignored.
// SIGPIPE is ignored instead: a write to a closed stdout or stderr fails with
// EPIPE, which the printing code handles (the start goes on without output).
// The destructor restores every disposition found on entry.
#pragma once

#include <signal.h>

#include <vector>

#include "welld/signal_wakeup.hpp"

namespace welld::cli {

class Interrupts {
 public:
  Interrupts();   // installs the handlers
  ~Interrupts();  // restores the previous dispositions
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;
  Interrupts(Interrupts&&) = delete;
  Interrupts& operator=(Interrupts&&) = delete;

  int fd() const noexcept { return wakeup_.fd(); }
  /// errno when the signals could not be caught, else 0.
  int error() const noexcept { return wakeup_.error().value(); }
  /// The first signal caught, or 0.
  int caught() const noexcept { return wakeup_.first(); }
  /// The signals that are caught (for tests and documentation).
  static std::vector<int> signals();

 private:
  SignalWakeup wakeup_;
  struct sigaction old_pipe_ {};
  bool pipe_saved_ = false;
};

}  // namespace welld::cli
