// path.hpp: absolute paths, directory and last part, PATH search.
#include "welld/path.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

// Runs in the test's own directory and goes back to where it was.
class InDirectory {
 public:
  explicit InDirectory(const std::string& dir) {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) != nullptr) old_ = buf;
    EXPECT_EQ(::chdir(dir.c_str()), 0);
  }
  ~InDirectory() { (void)!::chdir(old_.c_str()); }
  InDirectory(const InDirectory&) = delete;
  InDirectory& operator=(const InDirectory&) = delete;
  InDirectory(InDirectory&&) = delete;
  InDirectory& operator=(InDirectory&&) = delete;

 private:
  std::string old_ = "/";
};

TEST(Path, AbsoluteAndEmptyPathsAreKept) {
  std::string out = "x";
  EXPECT_FALSE(welld::make_absolute("/run/a.pid", out));
  EXPECT_EQ(out, "/run/a.pid");
  EXPECT_FALSE(welld::make_absolute("", out));
  EXPECT_EQ(out, "");
}

TEST(Path, ARelativePathIsJoinedToTheCurrentDirectory) {
  t::TempDir dir;
  InDirectory in(dir.path());
  std::string out;
  EXPECT_FALSE(welld::make_absolute("sub/a.pid", out));
  EXPECT_EQ(out, dir / "sub/a.pid");
}

TEST(Path, ADeletedCurrentDirectoryIsAnErrorAndLeavesTheOutputAlone) {
  t::TempDir dir;
  std::string gone = dir / "gone";
  ASSERT_EQ(::mkdir(gone.c_str(), 0700), 0);
  InDirectory in(gone);
  ASSERT_EQ(::rmdir(gone.c_str()), 0);
  std::string out = "untouched";
  std::error_code ec = welld::make_absolute("a.pid", out);
  EXPECT_EQ(ec.value(), ENOENT);
  EXPECT_EQ(out, "untouched");
}

TEST(Path, ParentAndBaseName) {
  EXPECT_EQ(welld::parent_directory("/a/b"), "/a");
  EXPECT_EQ(welld::parent_directory("/b"), "/");
  EXPECT_EQ(welld::parent_directory("b"), ".");
  EXPECT_EQ(welld::base_name("/a/b"), "b");
  EXPECT_EQ(welld::base_name("b"), "b");
  EXPECT_EQ(welld::base_name("/a/"), "");
}

TEST(Path, SearchFindsTheFirstExecutableInPath) {
  t::TempDir dir;
  std::string first = dir / "first";
  std::string second = dir / "second";
  ASSERT_EQ(::mkdir(first.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(second.c_str(), 0755), 0);
  t::write_file(first + "/tool", "not executable\n");
  t::write_file(second + "/tool", "#!/bin/sh\n");
  ASSERT_EQ(::chmod((second + "/tool").c_str(), 0755), 0);
  int err = 0;
  EXPECT_EQ(welld::resolve_executable("tool", first + ":" + second, err), second + "/tool");
  EXPECT_EQ(welld::resolve_executable("absent", first + ":" + second, err), "");
  EXPECT_EQ(err, ENOENT);
}

TEST(Path, SearchReportsTheFirstRealErrorWhenNothingRuns) {
  // Mode 0644: not executable even for root, who needs one x bit.
  t::TempDir dir;
  t::write_file(dir / "tool", "not executable\n");
  ASSERT_EQ(::chmod((dir / "tool").c_str(), 0644), 0);
  int err = 0;
  EXPECT_EQ(welld::resolve_executable("tool", dir.path(), err), "");
  EXPECT_EQ(err, EACCES);
}

TEST(Path, ADirectoryIsNotAProgram) {
  t::TempDir dir;
  std::string sub = dir / "tool";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  int err = 0;
  EXPECT_EQ(welld::resolve_executable("tool", dir.path(), err), "");
  EXPECT_EQ(err, EACCES);
  EXPECT_EQ(welld::resolve_executable(sub, "", err), "");
  EXPECT_EQ(err, EACCES);
}

}  // namespace
