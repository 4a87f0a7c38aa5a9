// src/notify.cpp: the sd_notify client, the datagram parser, the notify
// socket server and the process-tree check.
#include "welld/notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

TEST(Readiness, NotifyDatagramParser) {
  auto m = welld::parse_notify_datagram("READY=1\nSTATUS=up and running\nERRNO=17\nMAINPID=42\nX_UNKNOWN=1\ngarbage\n");
  EXPECT_TRUE(m.ready);
  EXPECT_EQ(*m.status, "up and running");
  EXPECT_EQ(*m.errno_value, 17);
  EXPECT_EQ(*m.main_pid, 42);
  EXPECT_EQ(m.ignored, 2);
  auto bad = welld::parse_notify_datagram("MAINPID=-1\nMAINPID=1\nERRNO=abc\nEXTEND_TIMEOUT_USEC=1e9\nREADY=2");
  EXPECT_FALSE(bad.ready);
  EXPECT_FALSE(bad.main_pid);
  EXPECT_FALSE(bad.errno_value);
  EXPECT_FALSE(bad.extend_timeout_us);
}

TEST(Readiness, NotifyDatagramNumbersNeverOverflow) {
  // Found by fuzzing: 19 digits overflowed long long (undefined behaviour),
  // and came out negative: a negative ERRNO= or EXTEND_TIMEOUT_USEC=.
  auto m = welld::parse_notify_datagram(
      "MAINPID=9999999999999999999\nERRNO=9999999999999999999\nEXTEND_TIMEOUT_USEC=9999999999999999999\n");
  EXPECT_FALSE(m.main_pid);
  EXPECT_FALSE(m.errno_value);
  EXPECT_FALSE(m.extend_timeout_us);
  EXPECT_EQ(m.ignored, 3);
  auto max = welld::parse_notify_datagram("MAINPID=2147483647\nERRNO=4095\nEXTEND_TIMEOUT_USEC=1125899906842624");
  EXPECT_EQ(max.main_pid, 2147483647);
  EXPECT_EQ(max.errno_value, 4095);
  EXPECT_EQ(max.extend_timeout_us, 1LL << 50);
  EXPECT_FALSE(welld::parse_notify_datagram("EXTEND_TIMEOUT_USEC=1125899906842625").extend_timeout_us);
}

TEST(NotifyDatagram, StateFlagsAndStatus) {
  auto m = welld::parse_notify_datagram("RELOADING=1\nSTOPPING=1\nWATCHDOG=1\nSTATUS=");
  EXPECT_FALSE(m.ready);
  EXPECT_TRUE(m.reloading);
  EXPECT_TRUE(m.stopping);
  EXPECT_TRUE(m.watchdog);
  ASSERT_TRUE(m.status);
  EXPECT_EQ(*m.status, "");
  EXPECT_EQ(m.ignored, 0);
  EXPECT_EQ(welld::parse_notify_datagram("").ignored, 0);
  EXPECT_FALSE(welld::parse_notify_datagram("").ready);
}

TEST(NotifyDatagram, WatchdogPingTriggerAndTimeout) {
  auto ping = welld::parse_notify_datagram("WATCHDOG=1");
  EXPECT_TRUE(ping.watchdog);
  EXPECT_FALSE(ping.watchdog_trigger);
  auto trigger = welld::parse_notify_datagram("WATCHDOG=trigger");
  EXPECT_FALSE(trigger.watchdog);
  EXPECT_TRUE(trigger.watchdog_trigger);
  EXPECT_EQ(trigger.ignored, 0);
  // The last WATCHDOG= line wins, as for every other key.
  auto last = welld::parse_notify_datagram("WATCHDOG=trigger\nWATCHDOG=1");
  EXPECT_TRUE(last.watchdog);
  EXPECT_FALSE(last.watchdog_trigger);
  EXPECT_EQ(welld::parse_notify_datagram("WATCHDOG_USEC=2500000").watchdog_usec, 2500000);
  EXPECT_EQ(welld::parse_notify_datagram("WATCHDOG_USEC=0").watchdog_usec, 0);
  EXPECT_EQ(welld::parse_notify_datagram("WATCHDOG_USEC=1125899906842624").watchdog_usec, 1LL << 50);
  for (const char* bad : {"WATCHDOG_USEC=", "WATCHDOG_USEC=-1", "WATCHDOG_USEC=1s", "WATCHDOG_USEC=1125899906842625"}) {
    auto m = welld::parse_notify_datagram(bad);
    EXPECT_FALSE(m.watchdog_usec) << bad;
    EXPECT_EQ(m.ignored, 1) << bad;
  }
}

TEST(NotifyState, MessagesAreTheProtocolsLines) {
  EXPECT_EQ(welld::notify_state::status("up"), "STATUS=up");
  EXPECT_EQ(welld::notify_state::mainpid(42), "MAINPID=42");
  EXPECT_TRUE(welld::parse_notify_datagram(welld::notify_state::ready).ready);
  EXPECT_TRUE(welld::parse_notify_datagram(welld::notify_state::stopping).stopping);
  EXPECT_TRUE(welld::parse_notify_datagram(welld::notify_state::reloading).reloading);
  EXPECT_TRUE(welld::parse_notify_datagram(welld::notify_state::watchdog).watchdog);
  EXPECT_TRUE(welld::parse_notify_datagram(welld::notify_state::watchdog_trigger).watchdog_trigger);
}

// Receives what is pending on `server`, skipping nothing-pending answers for a while.
std::optional<welld::NotifyServer::Datagram> receive_one(welld::NotifyServer& server) {
  for (int i = 0; i < 500; ++i) {
    std::error_code ec;
    auto got = server.receive(ec);
    if (ec || got) return got;
    ::usleep(10000);
  }
  return std::nullopt;
}

TEST(NotifyServer, ADatagramCarriesItsSendersPidAsTheKernelSaysIt) {
  welld::NotifyServer server;
  ASSERT_FALSE(welld::NotifyServer::open("", server));
  EXPECT_EQ(server.address().rfind('@', 0), 0U) << server.address();
  EXPECT_GE(server.fd(), 0);
  ASSERT_FALSE(welld::notify_socket(server.address(), "READY=1\nSTATUS=serving"));
  auto got = receive_one(server);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->sender, ::getpid());
  EXPECT_EQ(got->uid, ::getuid());
  EXPECT_TRUE(got->message.ready);
  EXPECT_EQ(got->message.status, "serving");
  std::error_code ec;
  EXPECT_FALSE(server.receive(ec));  // nothing more pending
  EXPECT_FALSE(ec);
}

TEST(NotifyServer, AnOversizedDatagramIsRejected) {
  welld::NotifyServer server;
  ASSERT_FALSE(welld::NotifyServer::open("", server));
  std::string big(welld::NotifyServer::kMaxDatagram + 100, 'x');
  big.replace(0, 8, "READY=1\n");
  ASSERT_FALSE(welld::notify_socket(server.address(), big));
  ASSERT_FALSE(welld::notify_socket(server.address(), "STATUS=after"));
  auto got = receive_one(server);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->message.ready);  // the oversized one was skipped
  EXPECT_EQ(got->message.status, "after");
}

TEST(NotifyServer, AMovedServerKeepsItsSocketAndAReplacedOneIsRemoved) {
  t::TempDir dir;
  std::string first = dir / "first.sock";
  std::string second = dir / "second.sock";
  welld::NotifyServer server;
  ASSERT_FALSE(welld::NotifyServer::open(first, server));
  ASSERT_TRUE(t::exists(first));
  // Moved: the socket goes with it, still bound, still at its path.
  welld::NotifyServer moved(std::move(server));
  EXPECT_EQ(moved.address(), first);
  EXPECT_TRUE(t::exists(first));
  ASSERT_FALSE(welld::notify_socket(first, "WATCHDOG=1"));
  auto got = receive_one(moved);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->message.watchdog);
  // Replaced: the socket held before is closed and its path removed.
  welld::NotifyServer other;
  ASSERT_FALSE(welld::NotifyServer::open(second, other));
  moved = std::move(other);
  EXPECT_FALSE(t::exists(first));
  EXPECT_TRUE(t::exists(second));
  EXPECT_EQ(moved.address(), second);
  moved = welld::NotifyServer();
  EXPECT_FALSE(t::exists(second));
  EXPECT_LT(moved.fd(), 0);
}

TEST(Notify, WithoutNotifySocketNothingIsSentAndThatIsNoError) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(welld::notify(welld::notify_state::ready));
}

TEST(Notify, UnsetEnvSendsThenRemovesNotifySocket) {
  welld::NotifyServer server;
  ASSERT_FALSE(welld::NotifyServer::open("", server));
  ::setenv("NOTIFY_SOCKET", server.address().c_str(), 1);
  ASSERT_FALSE(welld::notify(welld::notify_state::stopping, true));
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  auto got = receive_one(server);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->message.stopping);
}

TEST(IsInTree, AProcessAndItsDescendantsButNotItsParent) {
  t::ProcessGuard guard = t::paused_child([] { return true; });
  pid_t child = guard.pid();
  ASSERT_GT(child, 0);
  EXPECT_TRUE(welld::is_in_tree(::getpid(), ::getpid()));
  EXPECT_TRUE(welld::is_in_tree(child, ::getpid()));
  EXPECT_FALSE(welld::is_in_tree(::getpid(), child));
  EXPECT_FALSE(welld::is_in_tree(1, ::getpid()));
}

}  // namespace
