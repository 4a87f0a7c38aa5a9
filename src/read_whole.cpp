#include "read_whole.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "welld/unique_fd.hpp"

namespace welld {

std::error_code read_whole_fd(int fd, std::string& out) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno, std::system_category()};
    if (n == 0) return {};
    out.append(buf, static_cast<size_t>(n));
  }
}

std::error_code read_whole_file(const std::string& path, std::string& out) {
  out.clear();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {errno, std::system_category()};
  return read_whole_fd(fd.get(), out);
}

}  // namespace welld
