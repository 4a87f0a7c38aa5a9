#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "welld/signals.hpp"

namespace {

extern "C" void ignore_me(int) {}

class ResetSignals : public ::testing::TestWithParam<welld::SignalResetMethod> {};

TEST_P(ResetSignals, DispositionsAndMask) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGUSR1, ignore_me);
    ::signal(SIGRTMIN + 3, SIG_IGN);
    sigset_t block;
    sigfillset(&block);
    ::sigprocmask(SIG_BLOCK, &block, nullptr);
    if (welld::reset_signal_dispositions(GetParam()) || welld::empty_signal_mask()) ::_exit(10);
    for (int sig : {SIGHUP, SIGUSR1, SIGRTMIN + 3}) {
      struct sigaction now {};
      ::sigaction(sig, nullptr, &now);
      if (now.sa_handler != SIG_DFL) ::_exit(11);
    }
    sigset_t mask;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sigismember(&mask, sig) == 1) ::_exit(12);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, ResetSignals,
                         ::testing::Values(welld::SignalResetMethod::automatic,
                                           welld::SignalResetMethod::every_signal));

}  // namespace
