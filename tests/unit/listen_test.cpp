// src/listen.cpp: --listen specs, binding listeners, passing them to the
// daemon (sd_listen_fds' variables) and reading them back in the daemon.
#include "welld/listen.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "support/test_support.hpp"
#include "welld/daemon.hpp"

using namespace std::string_literals;
namespace t = welld::test;

namespace {

TEST(Listen, SpecErrorsAreOneLineAndNulsAreRefused) {
  // Found by fuzzing: the input was echoed raw, NULs and newlines included.
  std::string error;
  EXPECT_FALSE(welld::parse_listen_spec(std::string("tcp:0.\x05\xff\xff\0\xbb.0.0:80", 18), &error));
  EXPECT_EQ(error.find('\0'), std::string::npos) << error;
  EXPECT_FALSE(welld::parse_listen_spec("tcp:[::1\n]:80", &error));
  EXPECT_EQ(error, "invalid --listen 'tcp:[::1?]:80': HOST must be a numeric IPv4 or IPv6 address");
  // Found by fuzzing: a NUL cut the host short, and the rest was ignored.
  EXPECT_FALSE(welld::parse_listen_spec("tcp:127.0.0.1\0junk:80"s));
  EXPECT_FALSE(welld::parse_listen_spec("tcp:[::\0\0]:80"s));
}

TEST(Listen, ListenFdsFollowsSdListenFds) {
  pid_t child = ::fork();
  if (child == 0) {
    int a = ::socket(AF_INET, SOCK_STREAM, 0);
    int b = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ::dup2(a, 3);
    ::dup2(b, 4);
    ::setenv("LISTEN_FDS", "2", 1);
    ::setenv("LISTEN_FDNAMES", "web:admin", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
    if (!welld::listen_fds().empty()) ::_exit(10);  // not for us
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    auto fds = welld::listen_fds(true);
    if (fds.size() != 2 || fds[0].fd != 3 || fds[0].name != "web" || fds[1].fd != 4 || fds[1].name != "admin") {
      ::_exit(11);
    }
    if ((::fcntl(3, F_GETFD) & FD_CLOEXEC) == 0) ::_exit(12);
    if (std::getenv("LISTEN_FDS") != nullptr || std::getenv("LISTEN_PID") != nullptr) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ListenSpec, TcpAndUnixFormsWithTheirNames) {
  auto port_only = welld::parse_listen_spec("tcp:8080");
  ASSERT_TRUE(port_only);
  EXPECT_FALSE(port_only->unix_socket);
  EXPECT_EQ(port_only->host, "127.0.0.1");
  EXPECT_EQ(port_only->port, 8080);
  EXPECT_EQ(port_only->name, "tcp-8080");
  auto v6 = welld::parse_listen_spec("tcp:[::1]:443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 443);
  auto unix_socket = welld::parse_listen_spec("unix:/run/web.sock");
  ASSERT_TRUE(unix_socket);
  EXPECT_TRUE(unix_socket->unix_socket);
  EXPECT_EQ(unix_socket->path, "/run/web.sock");
  EXPECT_EQ(unix_socket->name, "unix-web.sock");
  for (const char* bad : {"tcp:", "tcp:0", "tcp:65536", "tcp:host:80", "udp:53", "unix:", "tcp:[::1]", ""}) {
    std::string error;
    EXPECT_FALSE(welld::parse_listen_spec(bad, &error)) << bad;
    EXPECT_NE(error.find("invalid --listen"), std::string::npos) << error;
  }
}

TEST(BindListener, AUnixListenerIsCloseOnExecListeningAndReplacesOnlyAStaleSocket) {
  t::TempDir dir;
  auto spec = welld::parse_listen_spec("unix:" + (dir / "web.sock"));
  ASSERT_TRUE(spec);
  {
    welld::UniqueFd first;
    ASSERT_FALSE(welld::bind_listener(*spec, first));
    EXPECT_NE(::fcntl(first.get(), F_GETFD) & FD_CLOEXEC, 0);
    int listening = 0;
    socklen_t len = sizeof listening;
    ASSERT_EQ(::getsockopt(first.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
    EXPECT_EQ(listening, 1);
  }
  // The socket file left by the closed listener is stale: replaced.
  welld::UniqueFd again;
  EXPECT_FALSE(welld::bind_listener(*spec, again));
  // Any other file at the path is refused and left alone.
  t::write_file(dir / "file", "x");
  auto on_file = welld::parse_listen_spec("unix:" + (dir / "file"));
  ASSERT_TRUE(on_file);
  welld::UniqueFd refused;
  EXPECT_EQ(welld::bind_listener(*on_file, refused), std::errc::file_exists);
  EXPECT_EQ(t::read_file(dir / "file"), "x");
}

TEST(BindListener, APortInUseIsEaddrinuse) {
  int port = t::free_tcp_port();
  ASSERT_GT(port, 0);
  auto spec = welld::parse_listen_spec("tcp:127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(spec);
  welld::UniqueFd holder;
  ASSERT_FALSE(welld::bind_listener(*spec, holder));
  welld::UniqueFd second;
  EXPECT_EQ(welld::bind_listener(*spec, second), std::errc::address_in_use);
}

TEST(PassListeners, SocketsGoToFdsFromThreeWithSdListenFdsVariables) {
  t::TempDir dir;
  std::vector<welld::ListenSpec> specs;
  std::vector<welld::UniqueFd> sockets;
  for (const char* name : {"a.sock", "b.sock"}) {
    auto spec = welld::parse_listen_spec("unix:" + (dir / name));
    ASSERT_TRUE(spec);
    welld::UniqueFd fd;
    ASSERT_FALSE(welld::bind_listener(*spec, fd));
    specs.push_back(*spec);
    sockets.push_back(std::move(fd));
  }
  welld::Options options;
  welld::pass_listeners(sockets, specs, {}, options);
  ASSERT_EQ(options.pass_fds.size(), 2U);
  EXPECT_EQ(options.pass_fds[0].from, sockets[0].get());
  EXPECT_EQ(options.pass_fds[0].to, 3);
  EXPECT_EQ(options.pass_fds[1].from, sockets[1].get());
  EXPECT_EQ(options.pass_fds[1].to, 4);
  EXPECT_TRUE(options.listen_pid);
  const auto& set = options.environment.set;
  EXPECT_NE(std::find(set.begin(), set.end(), "LISTEN_FDS=2"), set.end());
  EXPECT_NE(std::find(set.begin(), set.end(), "LISTEN_FDNAMES=unix-a.sock:unix-b.sock"), set.end());

  welld::Options untouched;
  welld::pass_listeners({}, {}, {}, untouched);
  EXPECT_TRUE(untouched.pass_fds.empty());
  EXPECT_FALSE(untouched.listen_pid);

  // Sockets bound earlier (a supervisor's) follow the ones bound now.
  std::vector<welld::UniqueFd> first;
  first.push_back(std::move(sockets[0]));
  welld::Options both;
  welld::pass_listeners(first, {specs[0]}, {{sockets[1].get(), "kept"}}, both);
  ASSERT_EQ(both.pass_fds.size(), 2U);
  EXPECT_EQ(both.pass_fds[0].to, 3);
  EXPECT_EQ(both.pass_fds[1].from, sockets[1].get());
  EXPECT_EQ(both.pass_fds[1].to, 4);
  const auto& both_set = both.environment.set;
  EXPECT_NE(std::find(both_set.begin(), both_set.end(), "LISTEN_FDS=2"), both_set.end());
  EXPECT_NE(std::find(both_set.begin(), both_set.end(), "LISTEN_FDNAMES=unix-a.sock:kept"), both_set.end());
}

}  // namespace
