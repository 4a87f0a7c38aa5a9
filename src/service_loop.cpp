#include "welld/service_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace welld {
namespace {

std::atomic<int> g_write_fd{-1};

extern "C" void on_signal(int sig) {
  int saved = errno;
  char byte = sig == SIGHUP ? 'r' : 's';
  int fd = g_write_fd.load();
  if (fd >= 0) (void)::write(fd, &byte, 1);
  errno = saved;
}

constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP};

}  // namespace

ServiceLoop::ServiceLoop() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    error_ = {errno, std::system_category()};
    return;
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  g_write_fd.store(write_fd_);
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int sig : kSignals) {
    if (::sigaction(sig, &action, nullptr) != 0) error_ = {errno, std::system_category()};
  }
}

ServiceLoop::~ServiceLoop() {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int sig : kSignals) ::sigaction(sig, &action, nullptr);
  g_write_fd.store(-1);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

LoopEvent ServiceLoop::wait(std::chrono::milliseconds timeout) {
  pollfd p{read_fd_, POLLIN, 0};
  int ms = timeout.count() < 0 ? -1 : static_cast<int>(timeout.count());
  int n = ::poll(&p, 1, ms);
  // EINTR means a handler ran: its byte is in the pipe, so read it.
  if (n == 0 || (n < 0 && errno != EINTR)) return LoopEvent::timeout;
  char buf[64];
  ssize_t got = ::read(read_fd_, buf, sizeof buf);
  LoopEvent event = LoopEvent::timeout;
  for (ssize_t i = 0; i < got; ++i) {
    if (buf[i] == 's') return LoopEvent::stop;
    event = LoopEvent::reload;
  }
  return event;
}

}  // namespace welld
