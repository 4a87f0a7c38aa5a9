// priv_probe [--bind PORT] — run as a daemon's program: reports on stdout
// whether root can be regained and (optionally) whether it can bind
// 127.0.0.1:PORT, then waits for a signal.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  std::printf("setuid(0): %s\n", setuid(0) == 0 ? "succeeded" : std::strerror(errno));
  std::printf("setgid(0): %s\n", setgid(0) == 0 ? "succeeded" : std::strerror(errno));
  if (argc == 3 && std::string(argv[1]) == "--bind") {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::strtol(argv[2], nullptr, 10)));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 1) == 0;
    std::printf("bind: %s\n", ok ? "ok" : std::strerror(errno));
  }
  std::printf("probe done\n");
  std::fflush(stdout);
  for (;;) pause();
}
