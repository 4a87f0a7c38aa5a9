// wait_status.hpp: waitid's siginfo as a wait status, and a wait status as words.
#include "wait_status.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

siginfo_t child_info(int code, int status) {
  siginfo_t info{};
  info.si_code = code;
  info.si_status = status;
  return info;
}

TEST(WaitStatus, AnExitIsItsCode) {
  int ws = welld::wait_status_of(child_info(CLD_EXITED, 3));
  ASSERT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 3);
}

TEST(WaitStatus, AKillIsItsSignalWithoutACore) {
  int ws = welld::wait_status_of(child_info(CLD_KILLED, SIGTERM));
  ASSERT_TRUE(WIFSIGNALED(ws));
  EXPECT_EQ(WTERMSIG(ws), SIGTERM);
  EXPECT_FALSE(WCOREDUMP(ws));
}

// CLD_DUMPED is a kill that left a core: waitpid sets the core flag, and so must we.
TEST(WaitStatus, ADumpedCoreKeepsTheCoreFlag) {
  int ws = welld::wait_status_of(child_info(CLD_DUMPED, SIGABRT));
  ASSERT_TRUE(WIFSIGNALED(ws));
  EXPECT_EQ(WTERMSIG(ws), SIGABRT);
  EXPECT_TRUE(WCOREDUMP(ws));
}

// What waitid reports for a real child converts to what waitpid would have said.
TEST(WaitStatus, MatchesWaitpidForARealChild) {
  for (int sig : {0, SIGKILL, SIGQUIT}) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      rlimit core{RLIM_INFINITY, RLIM_INFINITY};
      ::setrlimit(RLIMIT_CORE, &core);  // may dump (SIGQUIT): the flag then must survive
      ::chdir("/proc/self/fdinfo");     // ...but never leaves a core file behind: not writable
      if (sig == 0) ::_exit(7);
      ::raise(sig);
      ::_exit(1);
    }
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
    int ws = 0;
    ASSERT_EQ(::waitpid(child, &ws, 0), child);
    EXPECT_EQ(welld::wait_status_of(info), ws) << "signal " << sig << ", si_code " << info.si_code;
  }
}

TEST(WaitStatus, DescribesExitsAndSignals) {
  EXPECT_EQ(welld::describe_wait_status(W_EXITCODE(3, 0)), "exited with status 3");
  EXPECT_EQ(welld::describe_wait_status(SIGKILL), "was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(welld::describe_wait_status(SIGSEGV | WCOREFLAG), "was killed by signal 11 (SIGSEGV)");
  EXPECT_EQ(welld::describe_wait_status(W_STOPCODE(SIGSTOP)), "ended (status unknown)");
}

}  // namespace
