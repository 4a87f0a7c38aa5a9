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
  auto other = t::sleeping_child();
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
  }
  // A writer replaces an empty file or a number that is no PID...
  for (const std::string& number : {std::string(""), std::string("0"), std::string("99999999999\n")}) {
    ASSERT_EQ(::unlink(path.c_str()), 0);
    t::write_file(path, number);
    ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid())) << '"' << number << '"';
    EXPECT_EQ(t::read_file(path), std::to_string(::getpid()) + "\n");
  }
  // ...but never data (issue 13 item 13): `seq 1 1000 > important.db`.
  std::string data;
  for (int i = 1; i <= 1000; ++i) data += std::to_string(i) + "\n";
  for (const std::string& bad : {std::string("abc"), std::string("-1"), std::string(10240, '9'), data}) {
    ASSERT_EQ(::unlink(path.c_str()), 0);
    t::write_file(path, bad);
    EXPECT_EQ(welld::write_pidfile(path.c_str(), ::getpid()), std::errc::directory_not_empty) << bad.substr(0, 20);
    EXPECT_EQ(t::read_file(path), bad);
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

// Issue 13 item 10: a stop that removes the file after its daemon exited must
// not remove a fresh file that a new daemon (same PID number) published.
TEST(Pidfile, RemoveByPidLeavesALiveProcesssFreshFile) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  auto other = t::sleeping_child();
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  unsigned long long start = welld::process_start_time(other.pid());
  ASSERT_GT(start, 0U);
  ASSERT_FALSE(welld::replace_pidfile(path.c_str(), ::getpid(), welld::ProcessIdentity{other.pid(), start}));
  ASSERT_EQ(welld::inspect_pidfile(path).state, PidfileState::running);
  welld::remove_pidfile(path.c_str(), other.pid());  // by number only: it is alive and matches
  EXPECT_EQ(t::read_file(path), std::to_string(other.pid()) + "\n");
}

TEST(Pidfile, RemoveByIdentityNeedsTheSameStartTime) {
  t::TempDir dir;
  std::string path = dir / "a.pid";
  ASSERT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  unsigned long long start = welld::process_start_time(::getpid());
  welld::remove_pidfile(path.c_str(), welld::ProcessIdentity{::getpid(), start + 1});  // an earlier holder
  EXPECT_TRUE(t::exists(path));
  welld::remove_pidfile(path.c_str(), welld::ProcessIdentity{::getpid(), start});
  EXPECT_FALSE(t::exists(path));
}

TEST(Pidfile, UntrustedDirectoriesAreRefused) {
  t::TempDir dir;
  std::string open_dir = dir / "open";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0775), 0);  // group-writable, not sticky
  std::string path = open_dir + "/a.pid";
  EXPECT_EQ(welld::write_pidfile(path.c_str(), ::getpid()), std::errc::operation_not_permitted);
  EXPECT_FALSE(t::exists(path));
  welld::DirTrust why;
  EXPECT_LT(welld::open_trusted_dir(open_dir.c_str(), &why), 0);
  EXPECT_EQ(why.problem, welld::DirTrust::Problem::shared_writable);
  EXPECT_EQ(std::string(why.where), open_dir);
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);  // sticky: fine for files that are ours
  EXPECT_FALSE(welld::write_pidfile(path.c_str(), ::getpid()));
  EXPECT_EQ(welld::inspect_pidfile(path).state, PidfileState::running);
  // A symbolic link in a trusted directory is followed, and checked the same way.
  std::string link = dir / "link";
  ASSERT_EQ(::symlink("open", link.c_str()), 0);
  EXPECT_EQ(welld::inspect_pidfile(link + "/a.pid").state, PidfileState::running);
  EXPECT_EQ(welld::write_pidfile("relative.pid", ::getpid()), std::errc::invalid_argument);
}

TEST(SideRecord, ParsesWhatWelldWritesAndNothingElse) {
  auto r = welld::parse_side_record("welld-pidfile 1\ninode 64769 1234\nidentity 4321 987\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, 64769U);
  EXPECT_EQ(r->ino, 1234U);
  EXPECT_EQ(r->identity.pid, 4321);
  EXPECT_EQ(r->identity.start_time, 987U);
  // Later keys (stop settings) are ignored.
  EXPECT_TRUE(welld::parse_side_record("welld-pidfile 1\ninode 1 2\nidentity 3 4\nstop-signal TERM\n"));
  for (const char* bad : {"", "welld-pidfile 1\n", "welld-pidfile 2\ninode 1 2\nidentity 3 4\n",
                          "welld-pidfile 1\ninode 1 2\nidentity 3 4",  // no final newline
                          "welld-pidfile 1\ninode 1 2\nidentity 3 4\nidentity 3 4\n",
                          "welld-pidfile 1\ninode 1\nidentity 3 4\n", "welld-pidfile 1\ninode 1 2\nidentity 1 4\n",
                          "welld-pidfile 1\n\ninode 1 2\nidentity 3 4\n", "welld-pidfile 1\nidentity 3 4\n"}) {
    EXPECT_FALSE(welld::parse_side_record(bad)) << bad;
  }
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

namespace {

// read_program_pidfile: a PID file the daemon wrote itself is data, never trusted.
TEST(ProgramPidfile, ReadsAPidFromAPlainFileOfTheCallerOrTheDaemonsUser) {
  t::TempDir dir;
  std::string path = dir / "prog.pid";
  t::write_file(path, "4321\n");
  ::chmod(path.c_str(), 0644);
  pid_t pid = -1;
  EXPECT_FALSE(welld::read_program_pidfile(path, 0, pid));
  EXPECT_EQ(pid, 4321);
  if (::geteuid() != 0) return;
  ASSERT_EQ(::chown(path.c_str(), 12345, 12345), 0);
  EXPECT_FALSE(welld::read_program_pidfile(path, 12345, pid)) << "the daemon's own user may own it";
  EXPECT_EQ(welld::read_program_pidfile(path, 54321, pid), std::errc::operation_not_permitted) << "someone else's file";
}

TEST(ProgramPidfile, RefusesLinksFifosSharedFilesAndGarbageWithAReason) {
  t::TempDir dir;
  std::string real = dir / "real.pid";
  t::write_file(real, "4321\n");
  ::chmod(real.c_str(), 0644);
  pid_t pid = -1;
  std::string why;
  std::string link = dir / "link.pid";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_EQ(welld::read_program_pidfile(link, 0, pid, &why).value(), ELOOP);
  EXPECT_NE(why.find("symbolic link"), std::string::npos) << why;
  std::string hard = dir / "hard.pid";
  ASSERT_EQ(::link(real.c_str(), hard.c_str()), 0);
  EXPECT_EQ(welld::read_program_pidfile(hard, 0, pid).value(), EMLINK);
  ASSERT_EQ(::unlink(hard.c_str()), 0);
  std::string fifo = dir / "fifo.pid";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(welld::read_program_pidfile(fifo, 0, pid).value(), EINVAL) << "refused, without blocking";
  ::chmod(real.c_str(), 0664);
  EXPECT_EQ(welld::read_program_pidfile(real, 0, pid).value(), EPERM) << "writable by its group";
  ::chmod(real.c_str(), 0644);
  t::write_file(real, "pid 12\n");
  EXPECT_EQ(welld::read_program_pidfile(real, 0, pid, &why).value(), EINVAL);
  EXPECT_NE(why.find("does not hold a PID"), std::string::npos) << why;
  EXPECT_EQ(welld::read_program_pidfile(dir / "absent.pid", 0, pid).value(), ENOENT);
  EXPECT_EQ(welld::read_program_pidfile("relative.pid", 0, pid).value(), EINVAL);
}

}  // namespace
