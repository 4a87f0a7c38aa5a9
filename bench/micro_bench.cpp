// Micro-benchmarks of the hot pieces: closing inherited fds, PID file
// write + remove, and an sd_notify datagram round trip.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "welld/fds.hpp"
#include "welld/notify.hpp"
#include "welld/pidfile.hpp"

namespace {

std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') fds.push_back(static_cast<int>(std::strtol(e->d_name, nullptr, 10)));
  }
  ::closedir(dir);
  return fds;
}

void close_fds(benchmark::State& state, welld::CloseMethod method) {
  std::vector<int> keep = open_fds();  // the benchmark's own fds survive
  auto n = static_cast<int>(state.range(0));
  for ([[maybe_unused]] auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < n; ++i) {
      if (::open("/dev/null", O_RDONLY) < 0) state.SkipWithError("open failed (RLIMIT_NOFILE?)");
    }
    state.ResumeTiming();
    welld::close_inherited_fds(keep, method);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_CloseFds_CloseRange(benchmark::State& s) { close_fds(s, welld::CloseMethod::close_range); }
void BM_CloseFds_ProcSelfFd(benchmark::State& s) { close_fds(s, welld::CloseMethod::proc_self_fd); }
void BM_CloseFds_BoundedLoop(benchmark::State& s) { close_fds(s, welld::CloseMethod::bounded_loop); }
BENCHMARK(BM_CloseFds_CloseRange)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_CloseFds_ProcSelfFd)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_CloseFds_BoundedLoop)->Arg(10)->Arg(1000)->Arg(10000);

void BM_PidfileWriteRemove(benchmark::State& state) {
  char dir[] = "/tmp/welld-bench-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  std::string path = std::string(dir) + "/b.pid";
  for ([[maybe_unused]] auto _ : state) {
    if (welld::write_pidfile(path.c_str(), ::getpid())) state.SkipWithError("write_pidfile failed");
    welld::remove_pidfile(path.c_str(), ::getpid());
  }
  ::rmdir(dir);
}
BENCHMARK(BM_PidfileWriteRemove);

void BM_NotifySendReceive(benchmark::State& state) {
  int server = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "@welld-bench-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.c_str() + 1, name.size() - 1);
  if (::bind(server, reinterpret_cast<sockaddr*>(&addr),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) != 0) {
    state.SkipWithError("bind failed");
    ::close(server);
    return;
  }
  char buf[4096];
  for ([[maybe_unused]] auto _ : state) {
    if (welld::notify_socket(name, welld::notify_state::ready)) state.SkipWithError("send failed");
    if (::recv(server, buf, sizeof buf, 0) <= 0) state.SkipWithError("recv failed");
  }
  ::close(server);
}
BENCHMARK(BM_NotifySendReceive);

}  // namespace

BENCHMARK_MAIN();
