// signal_recorder LOG [LOCK]: a process that appends every signal it receives
// to LOG ("PID signal N"), for tests that must prove a process was never
// signalled. SIGTERM and SIGINT are logged and then end it (exit 0); every
// other catchable signal is logged only.
//
// With LOCK, it first takes an exclusive lock on that file; when another
// instance holds it, it logs "PID overlap" and exits 3. Two instances alive at
// the same time are thereby recorded even when one of them is stopped later.
//
// Prints "ready" on stdout once its handlers are installed.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

int g_log = -1;

// "PID WHAT N\n" with one write(2): O_APPEND keeps lines of several writers whole.
void log_line(const char* what, int n) {
  char line[96];
  int len = std::snprintf(line, sizeof line, "%d %s %d\n", static_cast<int>(::getpid()), what, n);
  if (len > 0) (void)!::write(g_log, line, static_cast<size_t>(len));
}

void on_signal(int sig) {
  // snprintf is not async-signal-safe: format by hand.
  char line[64];
  char digits[24];
  size_t len = 0, nd = 0;
  for (long v = ::getpid(); v > 0; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
  while (nd > 0) line[len++] = digits[--nd];
  for (char c : std::string_view(" signal ")) line[len++] = c;
  for (int v = sig; v > 0; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
  while (nd > 0) line[len++] = digits[--nd];
  line[len++] = '\n';
  (void)!::write(g_log, line, len);
  if (sig == SIGTERM || sig == SIGINT) ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: signal_recorder LOG [LOCK]\n");
    return 2;
  }
  g_log = ::open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (g_log < 0) return 2;
  if (argc == 3) {
    int lock_fd = ::open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (lock_fd < 0 || ::fcntl(lock_fd, F_OFD_SETLK, &lock) != 0) {
      log_line("overlap", lock_fd < 0 ? -1 : 0);
      return 3;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &sa, nullptr);  // EINVAL for reserved ones
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::puts("ready");
  std::fflush(stdout);
  for (;;) ::pause();
}
