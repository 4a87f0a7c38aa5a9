// read_whole.hpp: a file's whole contents, the one read-to-end loop.
#include "read_whole.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

TEST(ReadWhole, ReadsAFileLargerThanOneBuffer) {
  t::TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  t::write_file(dir / "big", text);
  std::string out = "replaced";
  EXPECT_FALSE(welld::read_whole_file(dir / "big", out));
  EXPECT_EQ(out, text);
}

TEST(ReadWhole, AMissingFileIsItsErrno) {
  t::TempDir dir;
  std::string out;
  EXPECT_EQ(welld::read_whole_file(dir / "absent", out).value(), ENOENT);
}

TEST(ReadWhole, AnFdIsReadToItsEndAndAppended) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "abc", 3), 3);
  ::close(fds[1]);
  std::string out = "x";
  EXPECT_FALSE(welld::read_whole_fd(fds[0], out));
  ::close(fds[0]);
  EXPECT_EQ(out, "xabc");
}

TEST(ReadWhole, AReadErrorIsReported) {
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string out;
  EXPECT_EQ(welld::read_whole_fd(fd, out).value(), EISDIR);
  ::close(fd);
}

}  // namespace
