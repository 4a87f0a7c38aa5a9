// Steps 2 and 3: every disposition to SIG_DFL, an empty mask.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

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
namespace {

std::error_code set_default(int sig) noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  if (::sigaction(sig, &action, nullptr) != 0 && errno != EINVAL) return {errno, std::system_category()};
  return {};
}

#ifdef __linux__
// The Linux fast path: /proc/self/status lists the caught (SigCgt) and ignored
// (SigIgn) signals as hex masks; every other signal is already SIG_DFL. Three
// system calls instead of one sigaction per signal. Allocation-free.
bool non_default_signals(unsigned long long& mask) noexcept {
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  size_t len = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[len] = '\0';
  int found = 0;
  mask = 0;
  for (const char* key : {"SigIgn:", "SigCgt:"}) {
    const char* at = std::strstr(buf, key);
    if (at == nullptr) return false;
    unsigned long long value = 0;
    const char* p = at + std::strlen(key);
    while (*p == ' ' || *p == '\t') ++p;
    int digits = 0;
    for (; std::isxdigit(static_cast<unsigned char>(*p)) != 0; ++p, ++digits) {
      int d = *p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10;
      value = value << 4 | static_cast<unsigned>(d);
    }
    if (digits != 16) return false;
    mask |= value;
    ++found;
  }
  return found == 2;
}
#endif

}  // namespace

std::error_code reset_signal_dispositions(SignalResetMethod method) noexcept {
#ifdef __linux__
  unsigned long long mask = 0;
  if (method == SignalResetMethod::automatic && NSIG - 1 <= 64 && non_default_signals(mask)) {
    for (int sig = 1; sig < NSIG; ++sig) {
      if ((mask >> (sig - 1) & 1ULL) == 0 || sig == SIGKILL || sig == SIGSTOP) continue;
      if (auto ec = set_default(sig)) return ec;
    }
    return {};
  }
#else
  (void)method;
#endif
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (auto ec = set_default(sig)) return ec;
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
