// supervised_program MODE ARGS: a program for the supervisor's tests
// (welld start --respawn), one behaviour per mode:
//   run FILE CODE MS  append "start PID NS" to FILE (CLOCK_MONOTONIC
//                     nanoseconds), print "started PID", sleep MS ms, append
//                     "end PID NS", exit CODE: a crash loop's starts and ends
//                     are measured by the program itself
//   lines N           print "line 1" ... "line N" to stdout as fast as stdio
//                     lets it (its buffer cuts lines anywhere), then exit 0
//   flood N FILE      the same lines, then create FILE (all were written:
//                     none blocks any more), then wait until killed
//   ticks MS          print "tick 1", "tick 2"... one write(2) each, every MS
//                     ms, until killed
//   reload            print "ready", then "reloaded" on each SIGHUP, until killed
//   stderr TEXT       print TEXT on stderr and "out" on stdout, then wait until killed
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace {

long long monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

void sleep_ms(long ms) {
  timespec left{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

bool write_whole(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool append_event(const char* file, const char* what) {
  int fd = ::open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string line = std::string(what) + " " + std::to_string(::getpid()) + " " + std::to_string(monotonic_ns()) + "\n";
  bool ok = write_whole(fd, line);
  ::close(fd);
  return ok;
}

long number(const char* text) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 0) {
    std::fprintf(stderr, "supervised_program: not a number: %s\n", text);
    std::exit(2);
  }
  return v;
}

int run(const char* file, long code, long ms) {
  if (!append_event(file, "start")) return 2;
  std::printf("started %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  sleep_ms(ms);
  if (!append_event(file, "end")) return 2;
  return static_cast<int>(code);
}

int lines(long n) {
  for (long i = 1; i <= n; ++i) std::printf("line %ld\n", i);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int flood(long n, const char* file) {
  if (lines(n) != 0) return 1;
  int fd = ::open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return 2;
  ::close(fd);
  for (;;) ::pause();
}

int ticks(long ms) {
  for (long i = 1;; ++i) {
    if (!write_whole(1, "tick " + std::to_string(i) + "\n")) return 1;
    sleep_ms(ms);
  }
}

void on_hup(int /*sig*/) {
  constexpr std::string_view kLine = "reloaded\n";
  (void)!::write(1, kLine.data(), kLine.size());
}

int reload() {
  struct sigaction sa {};
  sa.sa_handler = on_hup;
  ::sigaction(SIGHUP, &sa, nullptr);
  if (!write_whole(1, "ready\n")) return 1;
  for (;;) ::pause();
}

int to_stderr(const char* text) {
  if (!write_whole(2, std::string(text) + "\n") || !write_whole(1, "out\n")) return 1;
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "run" && argc == 5) return run(argv[2], number(argv[3]), number(argv[4]));
  if (mode == "lines" && argc == 3) return lines(number(argv[2]));
  if (mode == "flood" && argc == 4) return flood(number(argv[2]), argv[3]);
  if (mode == "ticks" && argc == 3) return ticks(number(argv[2]));
  if (mode == "reload" && argc == 2) return reload();
  if (mode == "stderr" && argc == 3) return to_stderr(argv[2]);
  std::fprintf(
      stderr,
      "usage: supervised_program run FILE CODE MS | lines N | flood N FILE | ticks MS | reload | stderr TEXT\n");
  return 2;
}
