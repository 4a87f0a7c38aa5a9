// Steps 2 and 3: every disposition to SIG_DFL, an empty mask.
#include <signal.h>

#include <cerrno>

#include "welld/signals.hpp"

// How many signals are there? NSIG ("one more than the highest signal number")
// is defined by glibc, musl and the BSDs even though POSIX does not require it.
// Where it is missing, SIGRTMAX + 1 bounds the real-time signals, which are the
// highest numbered ones. sigaction() on a number the system does not let us set
// fails with EINVAL: glibc reserves 32 and 33 for its threading, and those are
// skipped the same way as numbers that are not signals at all.
#ifndef NSIG
#define NSIG (SIGRTMAX + 1)
#endif

namespace welld {

std::error_code reset_signal_dispositions() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (::sigaction(sig, &action, nullptr) != 0 && errno != EINVAL) {
      return {errno, std::system_category()};
    }
  }
  return {};
}

std::error_code empty_signal_mask() noexcept {
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace welld
