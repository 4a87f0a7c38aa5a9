// A signal handler that wakes a poll loop: see welld/signal_wakeup.hpp.
#include "welld/signal_wakeup.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace welld {
namespace {

std::atomic<int> g_write_fd{-1};
std::atomic<int> g_first{0};
// Bit sig-1 set: sig came since the last take(). Signals are 1..64 on Linux.
std::atomic<uint64_t> g_pending{0};
// Bit sig-1 set: a process sent sig (kill, sigqueue, tgkill: si_code <= 0)
// since the last take() that gave sig; clear: only the kernel did (a terminal's
// ^C, a timer, SIGCHLD).
std::atomic<uint64_t> g_by_process{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the handler needs a lock-free atomic");

uint64_t bit_of(int sig) { return sig >= 1 && sig <= 64 ? uint64_t{1} << (sig - 1) : 0; }

extern "C" void on_wakeup_signal(int sig, siginfo_t* info, void* /*context*/) {
  int saved = errno;
  int expected = 0;
  g_first.compare_exchange_strong(expected, sig);
  // Before the pending bit: take() reads the pending bits first.
  if (info != nullptr && info->si_code <= 0) g_by_process.fetch_or(bit_of(sig));
  g_pending.fetch_or(bit_of(sig));
  uint64_t one = 1;
  int fd = g_write_fd.load();
  if (fd >= 0) (void)::write(fd, &one, sizeof one);
  errno = saved;
}

}  // namespace

SignalWakeup::SignalWakeup(std::span<const int> signals, SignalWakeupSettings settings)
    : default_on_exit_(settings.default_on_exit) {
  fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd_) {
    error_ = {errno, std::system_category()};
    return;
  }
  g_first.store(0);
  g_pending.store(0);
  g_by_process.store(0);
  g_write_fd.store(fd_.get());
  struct sigaction action {};
  action.sa_sigaction = on_wakeup_signal;
  action.sa_flags = SA_SIGINFO | (settings.restart ? SA_RESTART : 0);
  sigfillset(&action.sa_mask);  // one handler at a time: the first signal recorded is the first delivered
  for (int sig : signals) {
    Saved old{sig, {}};
    if (::sigaction(sig, nullptr, &old.action) != 0) {
      error_ = {errno, std::system_category()};
      continue;
    }
    if (settings.keep_ignored && old.action.sa_handler == SIG_IGN) continue;
    if (::sigaction(sig, &action, nullptr) != 0) {
      error_ = {errno, std::system_category()};
      continue;
    }
    saved_.push_back(old);
  }
}

SignalWakeup::~SignalWakeup() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (const auto& s : saved_) ::sigaction(s.sig, default_on_exit_ ? &dfl : &s.action, nullptr);
  int mine = fd_.get();
  if (mine >= 0) g_write_fd.compare_exchange_strong(mine, -1);
}

int SignalWakeup::first() const noexcept { return fd_ ? g_first.load() : 0; }

std::vector<int> SignalWakeup::take() {
  std::vector<int> signals;
  if (!fd_) return signals;
  uint64_t count = 0;
  (void)!::read(fd_.get(), &count, sizeof count);  // resets the counter; EAGAIN when nothing came
  uint64_t pending = g_pending.exchange(0);
  // Only the bits of the signals given now: one that comes in between keeps its bit for the next take().
  kernel_only_ = pending & ~g_by_process.fetch_and(~pending);
  for (int sig = 1; sig <= 64; ++sig) {
    if ((pending & bit_of(sig)) != 0) signals.push_back(sig);
  }
  return signals;
}

bool SignalWakeup::from_kernel(int sig) const noexcept { return (kernel_only_ & bit_of(sig)) != 0; }

}  // namespace welld
