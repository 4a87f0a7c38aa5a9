#include "welld/service_loop.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>

namespace welld {
namespace {

constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP};

}  // namespace

ServiceLoop::ServiceLoop() : wakeup_(kSignals, {.restart = true, .default_on_exit = true}) {}

LoopEvent ServiceLoop::wait(std::chrono::milliseconds timeout) {
  pollfd p{wakeup_.fd(), POLLIN, 0};
  int ms = timeout.count() < 0 ? -1 : static_cast<int>(timeout.count());
  int n = ::poll(&p, 1, ms);
  // EINTR means a handler ran: its signal is pending, so take it.
  if (n == 0 || (n < 0 && errno != EINTR)) return LoopEvent::timeout;
  std::vector<int> caught = wakeup_.take();
  if (caught.empty()) return LoopEvent::timeout;
  bool stop = std::any_of(caught.begin(), caught.end(), [](int sig) { return sig != SIGHUP; });
  return stop ? LoopEvent::stop : LoopEvent::reload;
}

}  // namespace welld
