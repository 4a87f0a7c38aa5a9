// sd_notify_client — a service that speaks sd_notify through libsystemd's own
// sd_notify(3), as a real client. Options, in order of action:
//   --pidfile-out F     write our PID to F first (so a test can check it is gone)
//   --delay MS          wait before anything else
//   --listen-tcp PORT   listen on 127.0.0.1:PORT (before READY=1)
//   --listen-unix PATH  listen on the unix socket PATH
//   --fork-main         fork a child and announce it with MAINPID=
//   --send STATE        sd_notify(STATE) (repeatable; "\n" separates fields)
//   --crash             abort() (after the sends so far)
//   --watchdog-enabled F  write "R USEC" to F: sd_watchdog_enabled(3)'s answer
//                       (R > 0: WATCHDOG_PID names us and WATCHDOG_USEC is USEC)
//   --ignore-abrt       ignore SIGABRT
//   --ping MS N         sd_notify("WATCHDOG=1") N times, MS ms apart (N 0: for ever)
//   then wait for a signal.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--pidfile-out") {
      FILE* f = std::fopen(v.c_str(), "w");
      std::fprintf(f, "%d\n", getpid());
      std::fclose(f);
      ++i;
    } else if (a == "--delay") {
      usleep(static_cast<useconds_t>(std::strtol(v.c_str(), nullptr, 10)) * 1000);
      ++i;
    } else if (a == "--listen-tcp") {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(std::strtol(v.c_str(), nullptr, 10)));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) return 3;
      ++i;
    } else if (a == "--listen-unix") {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, v.c_str(), sizeof addr.sun_path - 1);
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) return 3;
      ++i;
    } else if (a == "--fork-main") {
      pid_t child = fork();
      if (child == 0) {
        for (;;) pause();
      }
      sd_notifyf(0, "MAINPID=%d", child);
    } else if (a == "--send") {
      sd_notify(0, v.c_str());
      ++i;
    } else if (a == "--crash") {
      std::abort();
    } else if (a == "--watchdog-enabled") {
      std::uint64_t usec = 0;
      int r = sd_watchdog_enabled(0, &usec);
      FILE* f = std::fopen(v.c_str(), "w");
      std::fprintf(f, "%d %" PRIu64 "\n", r, usec);
      std::fclose(f);
      ++i;
    } else if (a == "--ignore-abrt") {
      signal(SIGABRT, SIG_IGN);
    } else if (a == "--ping" && i + 2 < argc) {
      long ms = std::strtol(argv[i + 1], nullptr, 10);
      long n = std::strtol(argv[i + 2], nullptr, 10);
      for (long k = 0; n == 0 || k < n; ++k) {
        sd_notify(0, "WATCHDOG=1");
        usleep(static_cast<useconds_t>(ms) * 1000);
      }
      i += 2;
    }
  }
  for (;;) pause();
}
