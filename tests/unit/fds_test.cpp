// close_inherited_fds: every method, forced, in a forked child (closing fds in
// the test process itself would break it).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "welld/fds.hpp"

namespace {

// In a child: open `count` fds, keep one of them, close the rest with `method`,
// then verify with fcntl(F_GETFD) which are open. Exit code 0 means correct.
int check_in_child(welld::CloseMethod method, int count) {
  pid_t pid = ::fork();
  if (pid == 0) {
    // No heap in the forked child: it ends with _exit, and nothing is freed.
    std::array<int, 64> fds{};
    if (count > static_cast<int>(fds.size())) ::_exit(9);
    for (int i = 0; i < count; ++i) fds[static_cast<size_t>(i)] = ::open("/dev/null", O_RDONLY);
    int keep = fds[static_cast<size_t>(count / 2)];
    int high = ::fcntl(fds[0], F_DUPFD, 900);  // a sparse, high fd
    int keep_list[] = {keep};
    welld::CloseMethod used = welld::CloseMethod::automatic;
    if (welld::close_inherited_fds(keep_list, method, &used)) ::_exit(10);
    if (method != welld::CloseMethod::automatic && used != method) ::_exit(11);
    if (::fcntl(keep, F_GETFD) < 0) ::_exit(12);
    for (int i = 0; i < count; ++i) {
      int fd = fds[static_cast<size_t>(i)];
      if (fd != keep && ::fcntl(fd, F_GETFD) >= 0) ::_exit(13);
    }
    if (::fcntl(high, F_GETFD) >= 0) ::_exit(14);
    for (int fd = 0; fd <= 2; ++fd) {
      if (::fcntl(fd, F_GETFD) < 0) ::_exit(15);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

class CloseFds : public ::testing::TestWithParam<welld::CloseMethod> {};

TEST_P(CloseFds, ClosesAllButStdioAndKept) { EXPECT_EQ(check_in_child(GetParam(), 50), 0); }

INSTANTIATE_TEST_SUITE_P(EveryMethod, CloseFds,
                         ::testing::Values(welld::CloseMethod::automatic, welld::CloseMethod::close_range,
                                           welld::CloseMethod::proc_self_fd, welld::CloseMethod::bounded_loop));

TEST(CloseFds, BoundedLoopStopsAtItsCap) {
  // With RLIMIT_NOFILE above the cap, the loop does not go beyond kMaxLoopFd:
  // an fd above it survives (the documented price of the last resort).
  pid_t pid = ::fork();
  if (pid == 0) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    // Raising the hard limit needs CAP_SYS_RESOURCE; without it, skip.
    lim.rlim_cur = static_cast<rlim_t>(welld::kMaxLoopFd) + 10;
    if (lim.rlim_max < lim.rlim_cur) lim.rlim_max = lim.rlim_cur;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(77);
    int above = ::fcntl(0, F_DUPFD, welld::kMaxLoopFd + 2);
    int below = ::fcntl(0, F_DUPFD, welld::kMaxLoopFd - 2);
    welld::close_inherited_fds({}, welld::CloseMethod::bounded_loop);
    ::_exit(::fcntl(below, F_GETFD) < 0 && ::fcntl(above, F_GETFD) >= 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot raise RLIMIT_NOFILE above the loop's cap";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
