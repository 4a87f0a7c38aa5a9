// src/readiness.cpp: the --ready spec parser (what the CLI passes to start).
#include "welld/readiness.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

namespace {

TEST(Readiness, SpecParsing) {
  std::string error;
  EXPECT_TRUE(welld::parse_ready_spec("exec"));
  EXPECT_TRUE(welld::parse_ready_spec("notify"));
  EXPECT_EQ(welld::parse_ready_spec("fd")->fd, -1);
  EXPECT_EQ(welld::parse_ready_spec("fd:7")->fd, 7);
  auto v6 = welld::parse_ready_spec("tcp:[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(welld::parse_ready_spec("tcp:80")->host, "127.0.0.1");
  for (const char* bad : {"", "tcp:", "tcp:0", "tcp:65536", "tcp:localhost:80", "fd:2", "fd:x",
                          "unix:", "file:", "notify:relative", "exec:1", "bogus", "tcp:[::1]80"}) {
    EXPECT_FALSE(welld::parse_ready_spec(bad, &error)) << bad;
  }
}

TEST(Readiness, SpecErrorsAreOneLineAndNulsAreRefused) {
  // Found by fuzzing: the input was echoed raw, NULs and newlines included.
  std::string error;
  EXPECT_FALSE(welld::parse_ready_spec(std::string("tcp:\0\0[::1]:8080", 16), &error));
  EXPECT_EQ(error.find('\0'), std::string::npos);
  EXPECT_FALSE(welld::parse_ready_spec("bogus\n\x1b[31mred", &error));
  EXPECT_EQ(error,
            "invalid --ready mode 'bogus??[31mred' (exec, notify[:@NAME|PATH], fd[:N], tcp:[HOST:]PORT, "
            "unix:PATH, file:PATH)");
  // Found by fuzzing: a NUL cut the host or the notify socket name short.
  EXPECT_FALSE(welld::parse_ready_spec(std::string("tcp:127.0.0.1\0junk:80"s)));
  EXPECT_FALSE(welld::parse_ready_spec(std::string("notify:@name\0more"s)));
  EXPECT_TRUE(welld::parse_ready_spec(std::string("notify:@name", 12)));
}

TEST(Readiness, EachModeParsesToItsKindWithItsTarget) {
  EXPECT_EQ(welld::parse_ready_spec("exec")->mode, welld::ReadyMode::exec);
  EXPECT_EQ(welld::parse_ready_spec("notify")->mode, welld::ReadyMode::notify);
  EXPECT_EQ(welld::parse_ready_spec("fd:7")->mode, welld::ReadyMode::fd);
  auto tcp = welld::parse_ready_spec("tcp:10.0.0.1:443");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->mode, welld::ReadyMode::tcp);
  EXPECT_EQ(tcp->host, "10.0.0.1");
  EXPECT_EQ(tcp->port, 443);
  auto unix_socket = welld::parse_ready_spec("unix:/run/web.sock");
  ASSERT_TRUE(unix_socket);
  EXPECT_EQ(unix_socket->mode, welld::ReadyMode::unix_socket);
  EXPECT_EQ(unix_socket->path, "/run/web.sock");
  auto file = welld::parse_ready_spec("file:/run/web.ready");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->mode, welld::ReadyMode::file);
  EXPECT_EQ(file->path, "/run/web.ready");
}

TEST(Readiness, AnErrorNamesTheExpectedForms) {
  std::string error;
  ASSERT_FALSE(welld::parse_ready_spec("tcp:65536", &error));
  EXPECT_NE(error.find("tcp:65536"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

}  // namespace
