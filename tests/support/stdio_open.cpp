// Linked into every test program: before any test runs, each of fds 0-2 that
// the caller left closed (a CI runner without stdin, `prog <&-`) is opened on
// /dev/null. Otherwise the first file a test opens takes fd 0, and the tests
// that look at a child's fds or at the caller's stdio would see it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace {

struct StdioOpen {
  StdioOpen() noexcept {
    for (int fd = 0; fd <= 2; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
      // The lowest free descriptor: fd itself, as the ones below are open.
      int opened = ::open("/dev/null", O_RDWR);  // NOLINT(android-cloexec-open): stdio crosses exec
      if (opened != fd && opened >= 0) ::close(opened);
    }
  }
};

const StdioOpen stdio_open;

}  // namespace
