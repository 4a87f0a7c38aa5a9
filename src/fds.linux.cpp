// Step 1: close inherited fds. Linux: close_range(2), else /proc/self/fd read
// with getdents64 (async-signal-safe, unlike opendir), else a bounded loop.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "welld/fds.hpp"

namespace welld {
namespace {

bool is_kept(std::span<const int> keep, int fd) noexcept { return std::ranges::find(keep, fd) != keep.end(); }

// Smallest kept fd strictly greater than `after`, or -1.
int next_kept(std::span<const int> keep, int after) noexcept {
  int best = -1;
  for (int k : keep) {
    if (k > after && (best < 0 || k < best)) best = k;
  }
  return best;
}

std::error_code by_close_range(std::span<const int> keep) noexcept {
  // Close the gaps between kept fds: [3, k1-1], [k1+1, k2-1], ..., [kn+1, ~0].
  int low = 3;
  for (;;) {
    int kept = next_kept(keep, low - 1);
    unsigned int high = kept < 0 ? ~0U : static_cast<unsigned int>(kept - 1);
    if (kept < 0 || kept > low) {
      if (::syscall(SYS_close_range, static_cast<unsigned int>(low), high, 0U) != 0) {
        return {errno, std::system_category()};
      }
    }
    if (kept < 0) return {};
    low = kept + 1;
  }
}

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];  // really variable-length, NUL-terminated
};

std::error_code by_proc_self_fd(std::span<const int> keep) noexcept {
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return {errno, std::system_category()};
  alignas(LinuxDirent64) char buffer[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n < 0) {
      int err = errno;
      ::close(dir);
      return {err, std::system_category()};
    }
    if (n == 0) break;
    for (long offset = 0; offset < n;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      offset += entry->d_reclen;
      int fd = 0;
      bool numeric = entry->d_name[0] != '\0';
      for (const char* c = entry->d_name; *c != '\0'; ++c) {
        if (*c < '0' || *c > '9') {
          numeric = false;
          break;
        }
        fd = fd * 10 + (*c - '0');
      }
      if (!numeric || fd < 3 || fd == dir || is_kept(keep, fd)) continue;
      ::close(fd);
    }
  }
  ::close(dir);
  return {};
}

std::error_code by_bounded_loop(std::span<const int> keep) noexcept {
  rlimit limit{};
  rlim_t max = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    max = limit.rlim_cur;
  } else if (limit.rlim_cur == RLIM_INFINITY) {
    max = kMaxLoopFd;
  }
  if (max > static_cast<rlim_t>(kMaxLoopFd)) max = kMaxLoopFd;
  for (int fd = 3; fd < static_cast<int>(max); ++fd) {
    if (!is_kept(keep, fd)) ::close(fd);
  }
  return {};
}

}  // namespace

std::error_code close_inherited_fds(std::span<const int> keep, CloseMethod method, CloseMethod* used) noexcept {
  auto attempt = [&](CloseMethod m) -> std::error_code {
    std::error_code ec;
    switch (m) {
      case CloseMethod::close_range: ec = by_close_range(keep); break;
      case CloseMethod::proc_self_fd: ec = by_proc_self_fd(keep); break;
      case CloseMethod::bounded_loop: ec = by_bounded_loop(keep); break;
      case CloseMethod::automatic: break;
    }
    if (!ec && used != nullptr) *used = m;
    return ec;
  };
  if (method != CloseMethod::automatic) return attempt(method);
  if (!attempt(CloseMethod::close_range)) return {};
  if (!attempt(CloseMethod::proc_self_fd)) return {};
  return attempt(CloseMethod::bounded_loop);
}

}  // namespace welld
