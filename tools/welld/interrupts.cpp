#include "interrupts.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace welld::cli {
namespace {

std::atomic<int> g_write_fd{-1};
std::atomic<int> g_caught{0};
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_interrupt(int sig) {
  int saved = errno;
  int expected = 0;
  g_caught.compare_exchange_strong(expected, sig);
  char byte = 1;
  int fd = g_write_fd.load();
  if (fd >= 0) (void)::write(fd, &byte, 1);
  errno = saved;
}

}  // namespace

Interrupts::Interrupts() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  g_write_fd.store(write_fd_);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  for (int sig : kSignals) ::sigaction(sig, &action, nullptr);
}

Interrupts::~Interrupts() {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int sig : kSignals) ::sigaction(sig, &action, nullptr);
  g_write_fd.store(-1);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

int Interrupts::caught() noexcept { return g_caught.load(); }

}  // namespace welld::cli
