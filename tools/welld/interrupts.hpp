// Interrupts while `welld start` waits for readiness: SIGINT, SIGTERM and
// SIGHUP are caught into a close-on-exec self-pipe, so the wait (a poll loop
// in the library) can include fd() and return promptly; the start then stops
// the half-started daemon and exits 128 + the signal number (130, 143, 129).
#pragma once

namespace welld::cli {

class Interrupts {
 public:
  Interrupts();   // installs the handlers
  ~Interrupts();  // restores SIG_DFL
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;
  Interrupts(Interrupts&&) = delete;
  Interrupts& operator=(Interrupts&&) = delete;

  int fd() const noexcept { return read_fd_; }
  /// The first signal caught, or 0.
  static int caught() noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace welld::cli
