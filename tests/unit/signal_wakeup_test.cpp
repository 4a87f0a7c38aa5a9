// src/signal_wakeup.cpp: signal handlers that wake a poll loop through an
// eventfd and record the first signal.
#include "welld/signal_wakeup.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <vector>

namespace {

extern "C" void previous_handler(int) {}

using Handler = void (*)(int);

// Installs `handler` for `sig`; the disposition it replaced.
struct sigaction set_handler(int sig, Handler handler) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  struct sigaction old {};
  EXPECT_EQ(::sigaction(sig, &action, &old), 0);
  return old;
}

Handler handler_of(int sig) {
  struct sigaction now {};
  EXPECT_EQ(::sigaction(sig, nullptr, &now), 0);
  return now.sa_handler;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(SignalWakeup, RecordsEachSignalOnceAndTheFirst) {
  const int sigs[] = {SIGUSR1, SIGUSR2};
  welld::SignalWakeup wakeup(sigs);
  ASSERT_FALSE(wakeup.error());
  EXPECT_EQ(wakeup.first(), 0);
  EXPECT_FALSE(readable(wakeup.fd()));
  ASSERT_EQ(::raise(SIGUSR2), 0);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_EQ(::raise(SIGUSR2), 0);
  EXPECT_TRUE(readable(wakeup.fd()));
  EXPECT_EQ(wakeup.take(), (std::vector<int>{SIGUSR1, SIGUSR2}));  // each once, by number
  EXPECT_FALSE(readable(wakeup.fd()));
  EXPECT_TRUE(wakeup.take().empty());
  EXPECT_EQ(wakeup.first(), SIGUSR2);
}

TEST(SignalWakeup, TheFdIsCloseOnExecAndNonBlocking) {
  const int sigs[] = {SIGUSR1};
  welld::SignalWakeup wakeup(sigs);
  ASSERT_GE(wakeup.fd(), 0);
  EXPECT_NE(::fcntl(wakeup.fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(wakeup.fd(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(SignalWakeup, RestoresTheDispositionFoundOnEntry) {
  struct sigaction before = set_handler(SIGUSR1, previous_handler);
  {
    const int sigs[] = {SIGUSR1};
    welld::SignalWakeup wakeup(sigs);
    EXPECT_NE(handler_of(SIGUSR1), previous_handler);
  }
  EXPECT_EQ(handler_of(SIGUSR1), previous_handler);
  ASSERT_EQ(::sigaction(SIGUSR1, &before, nullptr), 0);
}

TEST(SignalWakeup, DefaultOnExitLeavesSigDfl) {
  struct sigaction before = set_handler(SIGUSR2, previous_handler);
  {
    const int sigs[] = {SIGUSR2};
    welld::SignalWakeup wakeup(sigs, {.default_on_exit = true});
  }
  EXPECT_EQ(handler_of(SIGUSR2), SIG_DFL);
  ASSERT_EQ(::sigaction(SIGUSR2, &before, nullptr), 0);
}

TEST(SignalWakeup, KeepIgnoredLeavesAnIgnoredSignalAlone) {
  struct sigaction before = set_handler(SIGUSR1, SIG_IGN);
  {
    const int sigs[] = {SIGUSR1, SIGUSR2};
    welld::SignalWakeup wakeup(sigs, {.keep_ignored = true});
    EXPECT_EQ(handler_of(SIGUSR1), SIG_IGN);
    EXPECT_NE(handler_of(SIGUSR2), SIG_DFL);
    ASSERT_EQ(::raise(SIGUSR1), 0);  // ignored: nothing recorded
    EXPECT_FALSE(readable(wakeup.fd()));
    EXPECT_EQ(wakeup.first(), 0);
  }
  ASSERT_EQ(::sigaction(SIGUSR1, &before, nullptr), 0);
}

TEST(SignalWakeup, AnInvalidSignalIsAnErrorTheOthersAreCaught) {
  const int sigs[] = {0, SIGUSR1};
  welld::SignalWakeup wakeup(sigs);
  EXPECT_EQ(wakeup.error(), std::error_code(EINVAL, std::system_category()));
  ASSERT_EQ(::raise(SIGUSR1), 0);
  EXPECT_EQ(wakeup.take(), std::vector<int>{SIGUSR1});
}

// A timer's SIGALRM comes from the kernel (SI_KERNEL), raise(3)'s from a process (tgkill: SI_TKILL).
TEST(SignalWakeup, TellsASignalTheKernelSentFromOneAProcessSent) {
  const int sigs[] = {SIGALRM};
  welld::SignalWakeup wakeup(sigs);
  ASSERT_FALSE(wakeup.error());
  ASSERT_EQ(::raise(SIGALRM), 0);
  EXPECT_EQ(wakeup.take(), std::vector<int>{SIGALRM});
  EXPECT_FALSE(wakeup.from_kernel(SIGALRM));
  itimerval once{};
  once.it_value.tv_usec = 10000;
  ASSERT_EQ(::setitimer(ITIMER_REAL, &once, nullptr), 0);
  pollfd p{wakeup.fd(), POLLIN, 0};
  int ready = 0;
  while ((ready = ::poll(&p, 1, 5000)) < 0 && errno == EINTR) {
  }
  ASSERT_EQ(ready, 1);
  EXPECT_EQ(wakeup.take(), std::vector<int>{SIGALRM});
  EXPECT_TRUE(wakeup.from_kernel(SIGALRM));
  EXPECT_FALSE(wakeup.from_kernel(SIGUSR1)) << "not given";
}

}  // namespace
