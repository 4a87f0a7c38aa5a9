// orphan_maker N MS: a program that abandons N grandchildren, for the tests of
// an init's reaping (welld run as PID 1 or subreaper, tini, dumb-init).
//
// It forks an intermediate that forks N children and exits at once, so the N
// become orphans (adopted by the nearest subreaper, or PID 1); each sleeps MS
// ms and exits. Then, after they all had time to end (MS + 1000 ms), it counts
// the zombies whose parent is its own parent (the reaper's unreaped orphans),
// prints "orphans N zombies K" and exits 0 when K is 0, else 1.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

namespace {

void sleep_ms(long ms) {
  timespec left{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

// Zombies in /proc whose parent is `parent`.
int zombies_of(pid_t parent) {
  int count = 0;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return -1;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = text.rfind(')');
    if (close == std::string::npos || close + 4 >= text.size()) continue;
    char state = text[close + 2];
    long ppid = std::strtol(text.c_str() + close + 4, nullptr, 10);
    if (state == 'Z' && ppid == parent) ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: orphan_maker N MS\n");
    return 2;
  }
  int n = static_cast<int>(std::strtol(argv[1], nullptr, 10));
  long ms = std::strtol(argv[2], nullptr, 10);
  pid_t intermediate = ::fork();
  if (intermediate < 0) return 2;
  if (intermediate == 0) {
    for (int i = 0; i < n; ++i) {
      pid_t child = ::fork();
      if (child == 0) {
        sleep_ms(ms);
        ::_exit(0);
      }
      if (child < 0) ::_exit(2);
    }
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(intermediate, &status, 0) != intermediate || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return 2;
  }
  sleep_ms(ms + 1000);
  int zombies = zombies_of(::getppid());
  std::printf("orphans %d zombies %d\n", n, zombies);
  return zombies == 0 ? 0 : 1;
}
