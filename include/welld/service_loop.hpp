// welld/service_loop.hpp — the daemon's main loop: stop and reload by signal.
//
// ServiceLoop installs handlers for SIGTERM and SIGINT (stop) and SIGHUP
// (reload) that wake a close-on-exec eventfd (a SignalWakeup, see
// welld/signal_wakeup.hpp); wait() sleeps in poll() on that fd, so a stop
// request ends the wait at once rather than at the next tick of a sleep(1)
// loop.
//
// Why not signalfd: signalfd needs the signals blocked, and a blocked SIGTERM
// is inherited across fork and exec. Anything the service starts would then
// ignore `kill`, which is exactly the failure welld exists to prevent (and
// what `welld audit` flags). The self-pipe leaves the mask empty.
//
// Only one ServiceLoop may exist at a time; it restores SIG_DFL on destruction.
#pragma once

#include <chrono>
#include <system_error>

#include "welld/signal_wakeup.hpp"

namespace welld {

enum class LoopEvent { timeout, stop, reload };

class ServiceLoop {
 public:
  ServiceLoop();  // check error() afterwards
  ~ServiceLoop() = default;
  ServiceLoop(const ServiceLoop&) = delete;
  ServiceLoop& operator=(const ServiceLoop&) = delete;
  ServiceLoop(ServiceLoop&&) = delete;
  ServiceLoop& operator=(ServiceLoop&&) = delete;

  std::error_code error() const noexcept { return wakeup_.error(); }

  /// Wait until a signal arrives or `timeout` passes. A pending stop wins over
  /// a pending reload. Negative timeout: wait forever.
  LoopEvent wait(std::chrono::milliseconds timeout);

  /// The fd that becomes readable when an event is pending, for callers with
  /// their own poll loop; then call wait(0ms).
  int fd() const noexcept { return wakeup_.fd(); }

 private:
  SignalWakeup wakeup_;
};

}  // namespace welld
