// src/service_loop.cpp: the daemon's main loop, woken by SIGTERM/SIGINT
// (stop) and SIGHUP (reload) through a self-pipe.
#include "welld/service_loop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <chrono>

using namespace std::chrono_literals;

namespace {

TEST(ServiceLoop, NoSignalIsATimeout) {
  welld::ServiceLoop loop;
  ASSERT_FALSE(loop.error());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.wait(50ms), welld::LoopEvent::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
  EXPECT_EQ(loop.wait(0ms), welld::LoopEvent::timeout);
}

TEST(ServiceLoop, TermAndIntStopHupReloads) {
  welld::ServiceLoop loop;
  ASSERT_FALSE(loop.error());
  ASSERT_EQ(::raise(SIGHUP), 0);
  EXPECT_EQ(loop.wait(10s), welld::LoopEvent::reload);
  EXPECT_EQ(loop.wait(0ms), welld::LoopEvent::timeout);  // consumed
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_EQ(loop.wait(10s), welld::LoopEvent::stop);
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_EQ(loop.wait(10s), welld::LoopEvent::stop);
}

TEST(ServiceLoop, APendingStopWinsOverAPendingReload) {
  welld::ServiceLoop loop;
  ASSERT_FALSE(loop.error());
  ASSERT_EQ(::raise(SIGHUP), 0);
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_EQ(loop.wait(10s), welld::LoopEvent::stop);
}

TEST(ServiceLoop, TheFdIsCloseOnExecAndReadableOnlyWhileAnEventIsPending) {
  welld::ServiceLoop loop;
  ASSERT_FALSE(loop.error());
  ASSERT_GE(loop.fd(), 0);
  EXPECT_NE(::fcntl(loop.fd(), F_GETFD) & FD_CLOEXEC, 0);
  pollfd p{loop.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  ASSERT_EQ(::raise(SIGHUP), 0);
  EXPECT_EQ(::poll(&p, 1, 10000), 1);
  EXPECT_EQ(loop.wait(0ms), welld::LoopEvent::reload);
}

TEST(ServiceLoop, TheSignalMaskStaysEmptyAndDefaultsComeBackAfterwards) {
  {
    welld::ServiceLoop loop;
    ASSERT_FALSE(loop.error());
    sigset_t mask;
    ASSERT_EQ(::sigprocmask(SIG_SETMASK, nullptr, &mask), 0);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) EXPECT_EQ(sigismember(&mask, sig), 0) << sig;
    struct sigaction now {};
    ASSERT_EQ(::sigaction(SIGTERM, nullptr, &now), 0);
    EXPECT_NE(now.sa_handler, SIG_DFL);
  }
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    struct sigaction now {};
    ASSERT_EQ(::sigaction(sig, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, SIG_DFL) << sig;
  }
}

}  // namespace
