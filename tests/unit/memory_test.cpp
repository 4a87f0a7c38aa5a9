// src/memory.cpp: an idle process lets go of its clean file pages, and of
// nothing it wrote.
#include "welld/memory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "support/test_support.hpp"

namespace t = welld::test;

namespace {

// Resident KiB of this process's mappings of `path` (/proc/self/smaps).
long resident_kib_of(const std::string& path) {
  std::string smaps = t::read_file("/proc/self/smaps");
  long total = 0;
  bool in = false;
  size_t at = 0;
  while (at < smaps.size()) {
    size_t eol = smaps.find('\n', at);
    if (eol == std::string::npos) eol = smaps.size();
    std::string line = smaps.substr(at, eol - at);
    at = eol + 1;
    if (line.find(" r") != std::string::npos && line.find('-') < line.find(' ') &&
        line.find_first_of("0123456789abcdef") == 0) {
      in = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (in && line.rfind("Rss:", 0) == 0) {
      total += std::stol(line.substr(4));
    }
  }
  return total;
}

TEST(ReleaseIdleMemory, DropsTheProgramsCleanPagesWhichComeBackOnUse) {
  char exe[4096] = {};
  ASSERT_GT(::readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  long before = resident_kib_of(exe);
  ASSERT_GT(before, 0);
  welld::ReleasedMemory released;
  ASSERT_FALSE(welld::release_idle_memory(&released));
  EXPECT_GT(released.mappings, 0U);
  long after = resident_kib_of(exe);
  EXPECT_LT(after, before) << "resident KiB of " << exe << ": " << before << " before, " << after << " after";
  // The code and read-only data fault back in: this test goes on running.
}

TEST(ReleaseIdleMemory, KeepsAReadOnlyMappingThatHoldsACopiedPage) {
  t::TempDir dir;
  std::string file = dir / "data";
  t::write_file(file, std::string(8192, 'f'));
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto* bytes = static_cast<char*>(map);
  bytes[0] = 'w';  // a private copy of the first page, as a relocation makes
  ASSERT_EQ(::mprotect(map, 8192, PROT_READ), 0);
  // A clean read-only private mapping of the same file, which may go.
  int fd2 = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  void* clean = ::mmap(nullptr, 8192, PROT_READ, MAP_PRIVATE, fd2, 0);
  ::close(fd2);
  ASSERT_NE(clean, MAP_FAILED);
  EXPECT_EQ(static_cast<const char*>(clean)[4096], 'f');
  ASSERT_FALSE(welld::release_idle_memory());
  EXPECT_EQ(bytes[0], 'w') << "the copied page was dropped: the write is lost";
  EXPECT_EQ(bytes[4096], 'f');
  EXPECT_EQ(static_cast<const char*>(clean)[4096], 'f');
  ::munmap(map, 8192);
  ::munmap(clean, 8192);
}

}  // namespace
