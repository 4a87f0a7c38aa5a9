#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "support/test_support.hpp"
#include "welld/pidfile.hpp"

namespace t = welld::test;
using welld::PidfileState;

namespace {

// A live process that is not the daemon: a child sleeping until killed.
t::ProcessGuard stranger() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "1000", nullptr);
    ::_exit(127);
  }
  return t::ProcessGuard(pid);
}

TEST(ParsePid, AcceptsOnlyPlausiblePids) {
  EXPECT_EQ(welld::parse_pid("1234\n"), 1234);
  EXPECT_EQ(welld::parse_pid("1234"), 1234);
  for (const char* bad : {"", "\n", "abc", "-1", "0", "1", "99999999999", "12 34", "12\n\n", " 12", "0x10", "+5"}) {
    EXPECT_EQ(welld::parse_pid(bad), -1) << '"' << bad << '"';
  }
  EXPECT_EQ(welld::parse_pid(std::string(10240, '7')), -1);
}

TEST(ParseIdentity, PidSpaceStartTime) {
  auto id = welld::parse_identity("1234 567890");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->pid, 1234);
  EXPECT_EQ(id->start_time, 567890u);
  EXPECT_EQ(welld::parse_identity("2147483647 18446744073709551615")->start_time, 18446744073709551615ull);
  for (const char* bad : {"", " ", "1234", "1234 ", " 567", "1234  567", "1234 567\n", "2147483648 1",
                          "1 18446744073709551616", "-1 5", "12 3 4", "a b"}) {
    EXPECT_FALSE(welld::parse_identity(bad)) << '"' << bad << '"';
  }
}

TEST(Pidfile, WriteRecordsPidAndIdentityAndRemoveRemoves) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  ::umask(077);
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  ::umask(022);
  EXPECT_EQ(t::read_file(path), std::to_string(::getpid()) + "\n");
  auto info = welld::inspect_pidfile(path);
  EXPECT_EQ(info.state, PidfileState::running) << info.reason;
  EXPECT_EQ(info.start_time, welld::process_start_time(::getpid()));
  EXPECT_EQ(info.mode, 0644U);
  welld::remove_pidfile(path.c_str(), ::getpid() + 1);  // not ours: stays
  EXPECT_TRUE(t::exists(path));
  welld::remove_pidfile(path.c_str(), ::getpid());
  EXPECT_FALSE(t::exists(path));
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::absent);
}

TEST(Pidfile, SecondWriterSeesTheHolder) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  pid_t child = ::fork();
  if (child == 0) {
    pid_t holder = -1;
    auto ec = welld::write_pidfile(path.c_str(), ::getpid(), &holder);
    ::_exit(ec == std::errc::file_exists && holder == ::getppid() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(t::read_file(path), std::to_string(::getpid()) + "\n");
  welld::remove_pidfile(path.c_str(), ::getpid());
}

TEST(Pidfile, DeadPidIsStaleAndReplaced) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  t::write_file(path, std::to_string(dead) + "\n");
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::stale);
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  EXPECT_EQ(t::read_file(path), std::to_string(::getpid()) + "\n");
}

TEST(Pidfile, ReusedPidIsStale) {
  // The file was welld's (identity recorded), then its PID went to a stranger.
  t::TempDir dir;
  std::string path = dir / "a.pid";
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  auto other = stranger();
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  std::string text = std::to_string(other.pid()) + "\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  auto info = welld::inspect_pidfile(path);
  EXPECT_EQ(info.state, PidfileState::stale) << info.reason;
  EXPECT_NE(info.reason.find("another process"), std::string::npos) << info.reason;
  EXPECT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
}

TEST(Pidfile, FileWithoutIdentityIsUnverifiedOrStale) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  // PID 1 is never accepted at all.
  t::write_file(path, "1\n");
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::invalid);
  // A process older than the file: cannot be told apart, so "unverified".
  t::write_file(path, std::to_string(::getpid()) + "\n");
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::unverified);
  // A process started after the file was written cannot have written it.
  timespec old_times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};  // mtime in 2001
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old_times, 0), 0);
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::stale);
}

TEST(Pidfile, GarbageIsInvalid) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  for (const std::string& bad : {std::string(""), std::string("abc"), std::string("-1"), std::string("0"),
                                 std::string("99999999999"), std::string(10240, '9')}) {
    t::write_file(path, bad);
    auto info = welld::inspect_pidfile(path);
    EXPECT_EQ(info.state, PidfileState::invalid) << '"' << bad.substr(0, 20) << '"';
    // ...and a writer replaces it.
    ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  }
}

TEST(Pidfile, SymlinksAndNonRegularFilesAreRefused) {
  t::TempDir dir;
  std::string target = dir / "target";
  t::write_file(target, "keep me\n");
  std::string link = dir / "link.pid";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(welld::write_pidfile(link.c_str(), ::getpid()), std::errc::too_many_symbolic_link_levels);
  EXPECT_EQ(t::read_file(target), "keep me\n");
  EXPECT_EQ(welld::inspect_pidfile(link).state, PidfileState::invalid);
  std::string fifo = dir / "fifo.pid";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_EQ(welld::write_pidfile(fifo.c_str(), ::getpid()), std::errc::invalid_argument);
  EXPECT_EQ(welld::inspect_pidfile(fifo).state, PidfileState::invalid);
}

TEST(Pidfile, RemoveLeavesAReplacementAlone) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  ASSERT_EQ(::unlink(path.c_str()), 0);
  t::write_file(path, "4242\n");  // someone else's file now
  welld::remove_pidfile(path.c_str(), ::getpid());
  EXPECT_EQ(t::read_file(path), "4242\n");
}

TEST(Pidfile, AbandonedFileOfADeadWriterIsRemovedOthersStay) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  t::write_file(path, "");  // created, never written: the writer was killed
  welld::remove_abandoned_pidfile(path.c_str(), dead);
  EXPECT_FALSE(t::exists(path));
  t::write_file(path, std::to_string(dead) + "\n");  // written, never removed
  welld::remove_abandoned_pidfile(path.c_str(), dead);
  EXPECT_FALSE(t::exists(path));
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));  // another starter's file
  welld::remove_abandoned_pidfile(path.c_str(), dead);
  EXPECT_EQ(t::read_file(path), std::to_string(::getpid()) + "\n");
}

TEST(Pidfile, ProcessStartTime) {
  EXPECT_GT(welld::process_start_time(::getpid()), 0U);
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  EXPECT_EQ(welld::process_start_time(dead), 0U);
}

}  // namespace
