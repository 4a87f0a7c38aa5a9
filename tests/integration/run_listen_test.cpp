// welld run socket-activated itself: the sockets its manager passed (fds 3
// and 4, LISTEN_FDS, LISTEN_PID for welld's PID, LISTEN_FDNAMES) go on to
// COMMAND with LISTEN_PID rewritten to COMMAND's PID, as catatonit does. The
// test is the manager: it binds two loopback sockets and starts welld the way
// systemd does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "welld/unique_fd.hpp"

namespace t = welld::test;
using namespace std::chrono_literals;

namespace {

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

welld::UniqueFd loopback_listener() {
  welld::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 8) != 0) return {};
  return fd;
}

// welld run -- /bin/sleep 1000 with `sockets` at fds 3, 4... and the LISTEN_*
// variables; `for_welld`: LISTEN_PID is welld's own PID, else its parent's.
pid_t activate(const std::vector<int>& sockets, bool for_welld) {
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LISTEN_FDS=" + std::to_string(sockets.size()),
                                  "LISTEN_FDNAMES=first:second", "LISTEN_PID=0000000000"};
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string cli = WELLD_CLI_PATH;
  std::vector<char*> argv = {cli.data(),
                             const_cast<char*>("run"),
                             const_cast<char*>("--"),
                             const_cast<char*>("/bin/sleep"),
                             const_cast<char*>("1000"),
                             nullptr};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
    for (size_t i = 0; i < sockets.size(); ++i) ::dup2(sockets[i], 3 + static_cast<int>(i));  // no CLOEXEC
    std::snprintf(envp[3] + 11, 11, "%d", for_welld ? ::getpid() : parent);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// The one child of `pid` once it runs `comm`, exec'd; -1 if none came.
pid_t child_running(pid_t pid, const std::string& comm) {
  pid_t found = -1;
  wait_for([&] {
    for (pid_t c : t::children_of(pid)) {
      auto stat = t::proc_stat(c);
      if (stat.size() > 2 && stat[2] == comm) found = c;
    }
    return found > 0;
  });
  return found > 0 && t::wait_for_exec(found) ? found : -1;
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

bool has_prefix(const std::vector<std::string>& env, const std::string& prefix) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.starts_with(prefix); });
}

int exit_code_of(pid_t pid) {
  int status = -1;
  bool ended = wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 60s);
  return ended && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RunListen, ItsOwnActivationSocketsGoToCommandWithCommandsListenPid) {
  welld::UniqueFd first = loopback_listener();
  welld::UniqueFd second = loopback_listener();
  ASSERT_TRUE(first && second);
  pid_t welld_pid = activate({first.get(), second.get()}, true);
  t::ProcessGuard guard(welld_pid);
  pid_t child = child_running(welld_pid, "sleep");
  ASSERT_GT(child, 0);
  auto env = t::proc_environ(child);
  EXPECT_TRUE(has(env, "LISTEN_PID=" + std::to_string(child))) << "LISTEN_PID is the child's, not welld's";
  EXPECT_TRUE(has(env, "LISTEN_FDS=2"));
  EXPECT_TRUE(has(env, "LISTEN_FDNAMES=first:second"));
  auto ours = t::proc_fds(::getpid());
  auto its = t::proc_fds(child);
  ASSERT_TRUE(ours.contains(first.get()) && ours.contains(second.get()));
  EXPECT_EQ(its[3], ours[first.get()]) << "fd 3 is the same socket (inode)";
  EXPECT_EQ(its[4], ours[second.get()]);
  EXPECT_TRUE(its[3].starts_with("socket:["));
  ASSERT_EQ(::kill(welld_pid, SIGTERM), 0);
  EXPECT_EQ(exit_code_of(welld_pid), 143);
}

TEST(RunListen, SocketsMeantForAnotherProcessAreNotPassedOn) {
  welld::UniqueFd first = loopback_listener();
  ASSERT_TRUE(first);
  pid_t welld_pid = activate({first.get()}, false);
  t::ProcessGuard guard(welld_pid);
  pid_t child = child_running(welld_pid, "sleep");
  ASSERT_GT(child, 0);
  auto env = t::proc_environ(child);
  EXPECT_FALSE(has_prefix(env, "LISTEN_")) << "not welld's: dropped as any manager variable";
  EXPECT_EQ(t::proc_fds_settled(child).count(3), 0U);
  ASSERT_EQ(::kill(welld_pid, SIGTERM), 0);
  EXPECT_EQ(exit_code_of(welld_pid), 143);
}

}  // namespace
