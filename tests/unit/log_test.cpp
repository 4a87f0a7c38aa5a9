// The log writer (src/log.cpp): lines, timestamps, rotation, reopen, syslog, full disk.
#include "welld/log.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"
#include "welld/unique_fd.hpp"

namespace {

using welld::LogSource;
using welld::LogSpec;
using welld::LogTimestamps;
using welld::LogWriter;
using welld::test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(text.substr(start) + "<no newline>");
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

LogWriter open_file(const std::string& path, LogTimestamps ts = LogTimestamps::none, std::uint64_t max_size = 0,
                    unsigned keep = 10) {
  LogWriter w;
  LogSpec spec{.file = welld::LogFileSpec{.path = path, .max_size = max_size, .keep = keep}, .timestamps = ts};
  std::error_code ec = LogWriter::open(spec, w);
  EXPECT_FALSE(ec) << ec.message();
  return w;
}

double now_seconds() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST(LogWriter, LinesStayWholeAcrossRandomChunks) {
  TempDir dir;
  std::string input;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 3000; ++i) {
    input += "line " + std::to_string(i) + " " + std::string(rng() % 300, static_cast<char>('a' + i % 26)) + "\n";
  }
  LogWriter w = open_file(dir / "out.log");
  size_t at = 0;
  while (at < input.size()) {
    size_t n = std::min<size_t>(input.size() - at, 1 + rng() % 9000);
    ASSERT_FALSE(w.write(std::string_view(input).substr(at, n)));
    // Only complete lines reach the file: it ends with a newline after every call.
    std::string now = slurp(dir / "out.log");
    ASSERT_TRUE(now.empty() || now.back() == '\n');
    ASSERT_EQ(now, input.substr(0, now.size()));
    at += n;
  }
  EXPECT_EQ(slurp(dir / "out.log"), input);
}

TEST(LogWriter, UnterminatedTailIsKeptUntilItsNewlineOrFlush) {
  TempDir dir;
  LogWriter w = open_file(dir / "out.log");
  ASSERT_FALSE(w.write("first\nsec"));
  EXPECT_EQ(slurp(dir / "out.log"), "first\n");
  ASSERT_FALSE(w.write("ond\nthi"));
  EXPECT_EQ(slurp(dir / "out.log"), "first\nsecond\n");
  ASSERT_FALSE(w.flush_tail());
  EXPECT_EQ(slurp(dir / "out.log"), "first\nsecond\nthi\n");
  ASSERT_FALSE(w.flush_tail());  // nothing left: no empty line
  EXPECT_EQ(slurp(dir / "out.log"), "first\nsecond\nthi\n");
}

TEST(LogWriter, SourcesKeepTheirOwnTails) {
  TempDir dir;
  LogWriter w = open_file(dir / "out.log");
  ASSERT_FALSE(w.write("out-a", LogSource::out));
  ASSERT_FALSE(w.write("err-a", LogSource::err));
  ASSERT_FALSE(w.write("\n", LogSource::err));
  ASSERT_FALSE(w.write("-b\n", LogSource::out));
  ASSERT_FALSE(w.write("err-tail", LogSource::err));
  ASSERT_FALSE(w.write("out-tail", LogSource::out));
  ASSERT_FALSE(w.flush_tail());
  EXPECT_EQ(slurp(dir / "out.log"), "err-a\nout-a-b\nout-tail\nerr-tail\n");
}

TEST(LogWriter, LongLinesAreSplitAtTheLimitNeverTruncated) {
  constexpr size_t kMax = LogWriter::kLineMax;
  TempDir dir;
  LogWriter w = open_file(dir / "out.log");
  std::string exact(kMax, 'x');
  std::string longer(2 * kMax + 100, 'y');
  // Fed a byte at a time for the long one: the split does not depend on chunks.
  ASSERT_FALSE(w.write(exact + "\n"));
  for (char c : longer) ASSERT_FALSE(w.write(std::string_view(&c, 1)));
  ASSERT_FALSE(w.write("\nz\n"));
  std::vector<std::string> got = lines_of(slurp(dir / "out.log"));
  ASSERT_EQ(got.size(), 5U);
  EXPECT_EQ(got[0], exact);  // exactly kMax bytes: one line
  EXPECT_EQ(got[1], std::string(kMax, 'y'));
  EXPECT_EQ(got[2], std::string(kMax, 'y'));
  EXPECT_EQ(got[3], std::string(100, 'y'));
  EXPECT_EQ(got[4], "z");
}

// Whole lines in one call go to the file as they came; a call with a line to
// split, or after a tail, is cut line by line: both give the same file as
// the same bytes fed one at a time.
TEST(LogWriter, OneCallOfWholeLinesWritesWhatOneByteAtATimeWrites) {
  constexpr size_t kMax = LogWriter::kLineMax;
  const std::vector<std::string> calls = {
      "a\nbb\n\nccc\n",                           // whole lines only
      std::string(kMax, 'x') + "\nd\n",           // a line of exactly kMax
      "e\n" + std::string(kMax + 1, 'y') + "\n",  // a line to split among whole ones
      "f\ng",                                     // a tail...
      "h\ni\n",                                   // ...continued
      std::string(kMax, 'z'),                     // a tail of exactly kMax...
      "\nj\n",                                    // ...ended by the next call's newline
      "k\nl",                                     // a tail left for flush_tail
  };
  TempDir dir;
  LogWriter whole = open_file(dir / "whole.log");
  LogWriter bytes = open_file(dir / "bytes.log");
  for (const std::string& call : calls) {
    ASSERT_FALSE(whole.write(call));
    for (char c : call) ASSERT_FALSE(bytes.write(std::string_view(&c, 1)));
    ASSERT_EQ(slurp(dir / "whole.log"), slurp(dir / "bytes.log")) << "after " << call.substr(0, 20);
  }
  ASSERT_FALSE(whole.flush_tail());
  ASSERT_FALSE(bytes.flush_tail());
  std::string expected = "a\nbb\n\nccc\n" + std::string(kMax, 'x') + "\nd\ne\n" + std::string(kMax, 'y') +
                         "\ny\nf\ngh\ni\n" + std::string(kMax, 'z') + "\nj\nk\nl\n";
  EXPECT_EQ(slurp(dir / "whole.log"), expected);
  EXPECT_EQ(slurp(dir / "bytes.log"), expected);
}

TEST(LogWriter, Rfc3339PrefixOnEveryLineAndPiece) {
  TempDir dir;
  LogWriter w = open_file(dir / "out.log", LogTimestamps::rfc3339);
  double before = now_seconds();
  ASSERT_FALSE(w.write("hello\n" + std::string(LogWriter::kLineMax + 5, 'q') + "\n"));
  double after = now_seconds();
  std::vector<std::string> got = lines_of(slurp(dir / "out.log"));
  ASSERT_EQ(got.size(), 3U);
  for (const std::string& line : got) {
    ASSERT_GE(line.size(), 28U);
    struct tm tm {};
    const char* end = ::strptime(line.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    ASSERT_NE(end, nullptr) << line.substr(0, 40);
    ASSERT_EQ(end - line.c_str(), 19);
    ASSERT_EQ(line[19], '.');
    ASSERT_EQ(line.substr(26, 2), "Z ");
    double t = static_cast<double>(::timegm(&tm)) + std::stod(line.substr(20, 6)) / 1e6;
    EXPECT_GE(t, before - 0.001);
    EXPECT_LE(t, after + 0.001);
  }
  EXPECT_EQ(got[0].substr(28), "hello");
  EXPECT_EQ(got[1].substr(28), std::string(LogWriter::kLineMax, 'q'));
  EXPECT_EQ(got[2].substr(28), "qqqqq");
}

TEST(LogWriter, Tai64nPrefixAsS6WritesIt) {
  TempDir dir;
  LogWriter w = open_file(dir / "out.log", LogTimestamps::tai64n);
  double before = now_seconds();
  ASSERT_FALSE(w.write("hello\n"));
  double after = now_seconds();
  std::string line = slurp(dir / "out.log");
  ASSERT_EQ(line.size(), 1 + 24 + 1 + 5 + 1U) << line;
  ASSERT_EQ(line[0], '@');
  ASSERT_EQ(line.substr(25), " hello\n");
  unsigned long long label = std::stoull(line.substr(1, 16), nullptr, 16);
  unsigned long nanos = std::stoul(line.substr(17, 8), nullptr, 16);
  ASSERT_LT(nanos, 1000000000UL);
  // 2^62 + TAI seconds; TAI - UTC is 37 s since 2017-01-01.
  double t = static_cast<double>(label - (1ULL << 62) - 37) + static_cast<double>(nanos) / 1e9;
  EXPECT_GE(t, before - 0.001);
  EXPECT_LE(t, after + 0.001);
}

TEST(LogTimestamp, KnownValues) {
  using welld::format_log_timestamp;
  EXPECT_EQ(format_log_timestamp(LogTimestamps::none, 0, 0), "");
  EXPECT_EQ(format_log_timestamp(LogTimestamps::rfc3339, 1796154290, 123456789), "2026-12-01T19:44:50.123456Z ");
  // s6-tai64n printed @400000006b0f25f3144df09c at Unix time 0x6b0f25ce (37 s of TAI offset).
  EXPECT_EQ(format_log_timestamp(LogTimestamps::tai64n, 0x6b0f25ce, 0x144df09c), "@400000006b0f25f3144df09c ");
  // 1999-08-23, daemontools' example era: 32 s of offset then (22 leap seconds + 10).
  EXPECT_EQ(format_log_timestamp(LogTimestamps::tai64n, 935467455 - 32, 787492500), "@4000000037c219bf2ef02e94 ");
  // Before the first leap second: 10 s.
  EXPECT_EQ(format_log_timestamp(LogTimestamps::tai64n, 0, 0), "@400000000000000a00000000 ");
}

// Every line "N <padding>" numbered from 0; returns the numbers seen in order.
std::vector<long> numbers_in(const std::string& text, bool& whole) {
  std::vector<long> out;
  whole = true;
  for (const std::string& line : lines_of(text)) {
    size_t space = line.find(' ');
    if (space == std::string::npos || line.size() != space + 1 + 40 || line.find("<no newline>") != std::string::npos) {
      whole = false;
      continue;
    }
    out.push_back(std::stol(line.substr(0, space)));
  }
  return out;
}

TEST(LogWriter, RotationAtFullSpeedLosesNothing) {
  TempDir dir;
  constexpr std::uint64_t kMaxSize = 1 << 20;
  LogWriter w = open_file(dir / "app.log", LogTimestamps::none, kMaxSize, 3);
  // ~50 MB of numbered lines, written in 64 KiB reads cut anywhere.
  std::string padding(40, '.');
  std::string stream;
  long next = 0;
  size_t total = 0;
  std::string pending;
  while (total < 50'000'000) {
    while (pending.size() < 65536) pending += std::to_string(next++) + " " + padding + "\n";
    ASSERT_FALSE(w.write(std::string_view(pending).substr(0, 65536)));
    pending.erase(0, 65536);
    total += 65536;
  }
  ASSERT_FALSE(w.write(pending));
  // The newest file holds the last lines; the three before it are full.
  std::vector<long> all;
  for (const char* name : {"app.log.3", "app.log.2", "app.log.1", "app.log"}) {
    std::string text = slurp(dir / name);
    ASSERT_FALSE(text.empty()) << name;
    EXPECT_LE(text.size(), kMaxSize) << name;
    bool whole = false;
    std::vector<long> n = numbers_in(text, whole);
    EXPECT_TRUE(whole) << name;
    all.insert(all.end(), n.begin(), n.end());
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "app.log.4"));
  // In order, each once, and ending with the last line written.
  ASSERT_FALSE(all.empty());
  for (size_t i = 1; i < all.size(); ++i) ASSERT_EQ(all[i], all[i - 1] + 1) << i;
  EXPECT_EQ(all.back(), next - 1);
  EXPECT_GT(all.size(), 3U * kMaxSize / 60);
}

TEST(LogWriter, ForcedRotationAndKeep) {
  TempDir dir;
  LogWriter w = open_file(dir / "app.log", LogTimestamps::none, 0, 2);
  ASSERT_FALSE(w.write("one\n"));
  ASSERT_FALSE(w.rotate());
  ASSERT_FALSE(w.write("two\n"));
  ASSERT_FALSE(w.rotate());
  ASSERT_FALSE(w.write("three\n"));
  ASSERT_FALSE(w.rotate());
  ASSERT_FALSE(w.write("four\n"));
  EXPECT_EQ(slurp(dir / "app.log"), "four\n");
  EXPECT_EQ(slurp(dir / "app.log.1"), "three\n");
  EXPECT_EQ(slurp(dir / "app.log.2"), "two\n");  // "one" was the oldest beyond keep
  EXPECT_FALSE(std::filesystem::exists(dir / "app.log.3"));
}

TEST(LogWriter, RotationStopsAtAForeignRotatedName) {
  TempDir dir;
  LogWriter w = open_file(dir / "app.log", LogTimestamps::none, 10, 2);
  std::filesystem::create_directory(dir / "app.log.1");
  ASSERT_FALSE(w.write("0123456789\n"));  // 11 bytes into an empty file: alone, over max_size
  std::error_code ec = w.write("more\n");
  EXPECT_EQ(ec.value(), EINVAL);
  EXPECT_FALSE(w.blocked());  // the lines went into FILE all the same
  EXPECT_EQ(slurp(dir / "app.log"), "0123456789\nmore\n");
}

TEST(LogWriter, ZeroKeepIsRefused) {
  TempDir dir;
  LogWriter w;
  LogSpec spec{.file = welld::LogFileSpec{.path = dir / "app.log", .keep = 0}};
  EXPECT_EQ(LogWriter::open(spec, w).value(), EINVAL);
  EXPECT_FALSE(std::filesystem::exists(dir / "app.log"));
}

TEST(LogWriter, ReopenAfterRename) {
  TempDir dir;
  LogWriter w = open_file(dir / "app.log");
  ASSERT_FALSE(w.write("before\nhalf"));
  std::filesystem::rename(dir / "app.log", dir / "app.log.old");
  ASSERT_FALSE(w.write(" of it\n"));  // still the old file until reopen
  ASSERT_FALSE(w.reopen());
  ASSERT_FALSE(w.write("after\n"));
  EXPECT_EQ(slurp(dir / "app.log.old"), "before\nhalf of it\n");
  EXPECT_EQ(slurp(dir / "app.log"), "after\n");
}

TEST(LogWriter, CreatedFileGetsOwnerAndModeExistingKeepsThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  TempDir dir;
  mode_t old_umask = ::umask(077);
  LogWriter w;
  LogSpec spec{.file = welld::LogFileSpec{.path = dir / "app.log", .owner = 65534, .group = 65534, .mode = 0644}};
  std::error_code ec = LogWriter::open(spec, w);
  ::umask(old_umask);
  ASSERT_FALSE(ec) << ec.message();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "app.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534U);
  EXPECT_EQ(st.st_gid, 65534U);
  EXPECT_EQ(st.st_mode & 07777, 0644U);  // exactly: the umask 077 did not decide
  // An existing file of ours: appended to, its mode and owner unchanged.
  { std::ofstream(dir / "other.log") << "kept\n"; }
  ASSERT_EQ(::chmod((dir / "other.log").c_str(), 0600), 0);
  LogWriter w2;
  spec.file->path = dir / "other.log";
  ASSERT_FALSE(LogWriter::open(spec, w2));
  ASSERT_FALSE(w2.write("added\n"));
  ASSERT_EQ(::stat((dir / "other.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_EQ(slurp(dir / "other.log"), "kept\nadded\n");
}

TEST(LogWriter, DefaultModeIs0640) {
  TempDir dir;
  LogWriter w = open_file(dir / "app.log");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "app.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST(LogWriter, RefusesSymlinkAndFifo) {
  TempDir dir;
  std::ofstream(dir / "target") << "secret\n";
  ASSERT_EQ(::symlink((dir / "target").c_str(), (dir / "link.log").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "fifo.log").c_str(), 0600), 0);
  LogWriter w;
  LogSpec spec{.file = welld::LogFileSpec{.path = dir / "link.log"}};
  EXPECT_EQ(LogWriter::open(spec, w).value(), ELOOP);
  spec.file->path = dir / "fifo.log";
  EXPECT_EQ(LogWriter::open(spec, w).value(), EINVAL);  // never opened: no reader needed, no block
  EXPECT_EQ(slurp(dir / "target"), "secret\n");
}

TEST(LogWriter, RefusesAnUntrustedDirectory) {
  TempDir dir;
  std::filesystem::create_directory(dir / "open");
  ASSERT_EQ(::chmod((dir / "open").c_str(), 0777), 0);  // writable by all, not sticky
  LogWriter w;
  LogSpec spec{.file = welld::LogFileSpec{.path = dir / "open/app.log"}};
  std::string why;
  EXPECT_EQ(LogWriter::open(spec, w, &why).value(), EPERM);
  EXPECT_NE(why.find("open"), std::string::npos) << why;
  EXPECT_FALSE(std::filesystem::exists(dir / "open/app.log"));
}

// A datagram socket bound in the test's directory, standing in for /dev/log.
class SyslogReceiver {
 public:
  explicit SyslogReceiver(std::string path) : path_(std::move(path)) { bind(); }
  ~SyslogReceiver() { ::unlink(path_.c_str()); }
  SyslogReceiver(const SyslogReceiver&) = delete;
  SyslogReceiver& operator=(const SyslogReceiver&) = delete;
  SyslogReceiver(SyslogReceiver&&) = delete;
  SyslogReceiver& operator=(SyslogReceiver&&) = delete;
  void bind() {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  }
  void close() {
    fd_.reset();
    ::unlink(path_.c_str());
  }
  std::vector<std::string> receive() {
    std::vector<std::string> out;
    char buf[8192];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n < 0) break;
      out.emplace_back(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  std::string path_;
  welld::UniqueFd fd_;
};

// "<PRI>Mmm dd hh:mm:ss " stripped after checking its shape.
std::string after_time(const std::string& datagram, const std::string& pri) {
  if (datagram.rfind(pri, 0) != 0) return "bad PRI: " + datagram;
  std::string rest = datagram.substr(pri.size());
  struct tm tm {};
  const char* end = ::strptime(rest.c_str(), "%b %e %H:%M:%S ", &tm);
  if (end == nullptr || end - rest.c_str() != 16) return "bad time: " + datagram;
  return rest.substr(16);
}

TEST(LogWriter, SyslogDatagrams) {
  TempDir dir;
  SyslogReceiver rx(dir / "log.sock");
  LogWriter w;
  LogSpec spec{.syslog = welld::SyslogSpec{.socket = dir / "log.sock",
                                           .facility = LOG_LOCAL3,
                                           .out_level = LOG_NOTICE,
                                           .err_level = LOG_ERR,
                                           .tag = "web",
                                           .pid = 4242},
               .timestamps = LogTimestamps::rfc3339};
  ASSERT_FALSE(LogWriter::open(spec, w));
  ASSERT_FALSE(w.write("hello\nwor"));
  ASSERT_FALSE(w.write("ld\n"));
  ASSERT_FALSE(w.write("oops\n", LogSource::err));
  std::vector<std::string> got = rx.receive();
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(after_time(got[0], "<157>"), "web[4242]: hello");  // local3 (19 << 3) | notice (5)
  EXPECT_EQ(after_time(got[1], "<157>"), "web[4242]: world");
  EXPECT_EQ(after_time(got[2], "<155>"), "web[4242]: oops");  // | err (3)
  EXPECT_EQ(w.syslog_sent(), 3U);
  EXPECT_EQ(w.syslog_dropped(), 0U);
}

TEST(LogWriter, SyslogAwayDropsAndCountsThenReconnects) {
  TempDir dir;
  SyslogReceiver rx(dir / "log.sock");
  LogWriter w;
  LogSpec spec{.syslog = welld::SyslogSpec{.socket = dir / "log.sock", .tag = "svc"}};
  ASSERT_FALSE(LogWriter::open(spec, w));
  ASSERT_FALSE(w.write("one\n"));
  ASSERT_EQ(rx.receive().size(), 1U);
  rx.close();
  ASSERT_FALSE(w.write("lost\n"));  // no receiver: never an error, never a block
  EXPECT_EQ(w.syslog_dropped(), 1U);
  rx.bind();  // syslogd restarted at the same path
  ASSERT_FALSE(w.write("two\n"));
  std::vector<std::string> got = rx.receive();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(after_time(got[0], "<30>"), "svc: two");  // daemon (3 << 3) | info (6)
  // Restarted between two writes: the refused send reconnects once, nothing is lost.
  rx.close();
  rx.bind();
  ASSERT_FALSE(w.write("three\n"));
  got = rx.receive();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(after_time(got[0], "<30>"), "svc: three");
  EXPECT_EQ(w.syslog_dropped(), 1U);
  // A receiver that does not read: its queue fills, the writer goes on.
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "line " + std::to_string(i) + "\n";
  auto start = std::chrono::steady_clock::now();
  ASSERT_FALSE(w.write(many));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_GT(w.syslog_dropped(), 1U);
  EXPECT_EQ(w.syslog_sent() + w.syslog_dropped(), 5000U + 4U);
}

TEST(LogWriter, SyslogAbsentAtOpenIsNotAnError) {
  TempDir dir;
  LogWriter w;
  LogSpec spec{.syslog = welld::SyslogSpec{.socket = dir / "none.sock"}};
  ASSERT_FALSE(LogWriter::open(spec, w));
  ASSERT_FALSE(w.write("x\n"));
  EXPECT_EQ(w.syslog_dropped(), 1U);
}

TEST(LogWriter, SyslogStreamSocketIsRefused) {
  TempDir dir;
  welld::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", (dir / "stream.sock").c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  LogWriter w;
  LogSpec spec{.syslog = welld::SyslogSpec{.socket = dir / "stream.sock"}};
  EXPECT_EQ(LogWriter::open(spec, w).value(), EPROTOTYPE);
}

TEST(LogWriter, FullDiskKeepsLinesAndRetries) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount)";
  TempDir dir;
  welld::test::Mount mount;
  std::string error = mount.tmpfs(dir / "small", "size=64k");
  if (!error.empty()) GTEST_SKIP() << error;
  std::string filler = dir / "small/filler";
  LogWriter w = open_file(dir / "small/app.log");
  // Some lines first: the file's last page is part-full when the disk is, so
  // that a write ends inside a line (a short write) before ENOSPC.
  std::string expected;
  for (int i = 0; i < 10; ++i) {
    std::string line = "early " + std::to_string(i) + " " + std::string(100, 'e') + "\n";
    expected += line;
    ASSERT_FALSE(w.write(line));
  }
  // Fill the file system to the last block.
  {
    welld::UniqueFd fd(::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    std::string block(4096, 'f');
    while (::write(fd.get(), block.data(), block.size()) > 0) {
    }
  }
  std::error_code ec;
  for (int i = 0; i < 200 && !ec; ++i) {
    std::string line = "line " + std::to_string(i) + " " + std::string(100, 'x') + "\n";
    expected += line;
    ec = w.write(line);
  }
  ASSERT_TRUE(ec) << "the disk never filled";
  EXPECT_TRUE(ec.value() == ENOSPC || ec.value() == EDQUOT) << ec.message();
  EXPECT_TRUE(w.blocked());
  EXPECT_EQ(w.last_error(), ec);
  EXPECT_GT(w.kept_bytes(), 0U);
  // Whole lines only in the file, a prefix of what was written.
  std::string in_file = slurp(dir / "small/app.log");
  EXPECT_TRUE(in_file.empty() || in_file.back() == '\n');
  EXPECT_EQ(in_file, expected.substr(0, in_file.size()));
  // Still blocked: more output is kept, not dropped.
  EXPECT_TRUE(w.write("while blocked\n"));
  expected += "while blocked\n";
  EXPECT_TRUE(w.retry());
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  EXPECT_FALSE(w.retry());
  EXPECT_FALSE(w.blocked());
  EXPECT_EQ(w.kept_bytes(), 0U);
  ASSERT_FALSE(w.write("after\n"));
  expected += "after\n";
  EXPECT_EQ(slurp(dir / "small/app.log"), expected);
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(LogWriter, NoFdLeftBehind) {
  TempDir dir;
  SyslogReceiver rx(dir / "log.sock");
  size_t before = open_fds();
  {
    LogWriter w;
    LogSpec spec{.file = welld::LogFileSpec{.path = dir / "app.log", .keep = 2},
                 .syslog = welld::SyslogSpec{.socket = dir / "log.sock"}};
    ASSERT_FALSE(LogWriter::open(spec, w));
    ASSERT_FALSE(w.write("a\n"));
    ASSERT_FALSE(w.rotate());
    ASSERT_FALSE(w.reopen());
    ASSERT_FALSE(w.write("b\n"));
    EXPECT_EQ(open_fds(), before + 3);  // the directory, the file, the socket
    // Refusals on the way close what they opened.
    ASSERT_EQ(::symlink("app.log", (dir / "link.log").c_str()), 0);
    LogWriter refused;
    spec.file->path = dir / "link.log";
    EXPECT_EQ(LogWriter::open(spec, refused).value(), ELOOP);
    EXPECT_EQ(open_fds(), before + 3);
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(SyslogPriority, Parse) {
  std::string error;
  auto p = welld::parse_syslog_priority("local3.notice", &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->facility, LOG_LOCAL3);
  EXPECT_EQ(p->level, LOG_NOTICE);
  p = welld::parse_syslog_priority("DAEMON.Err");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->facility, LOG_DAEMON);
  EXPECT_EQ(p->level, LOG_ERR);
  p = welld::parse_syslog_priority("user");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->facility, LOG_USER);
  EXPECT_FALSE(p->level);
  p = welld::parse_syslog_priority("auth.warn");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->level, LOG_WARNING);
  EXPECT_FALSE(welld::parse_syslog_priority("daemon.loud", &error));
  EXPECT_EQ(error, "invalid syslog level 'loud' (examples: info, err, notice)");
  EXPECT_FALSE(welld::parse_syslog_priority("local8.info", &error));
  EXPECT_EQ(error, "invalid syslog facility 'local8' (examples: daemon, local3.notice)");
  EXPECT_FALSE(welld::parse_syslog_priority("", &error));
  EXPECT_FALSE(welld::parse_syslog_priority("daemon.", &error));
  EXPECT_FALSE(welld::parse_syslog_priority("daemon.info.x", &error));
}

}  // namespace
