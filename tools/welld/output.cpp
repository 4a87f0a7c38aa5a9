#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "command.hpp"
#include "welld/text.hpp"

namespace welld::cli {

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE (a closed pipe, SIGPIPE ignored) and others: nothing more to do
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Unbuffered, and never throwing: a closed stderr must not turn an error
// report into a crash (fmt::print throws when the write fails).
void error_line(std::string_view verb, std::string_view message) {
  write_all(2, fmt::format("welld: {}: {}\n", verb, message));
}

void warning_line(std::string_view verb, std::string_view message) {
  write_all(2, fmt::format("welld: {}: warning: {}\n", verb, message));
}

std::string printable(std::string_view text) { return terminal_safe(text); }

std::string verb_footer(std::string_view usage, std::string_view exit_codes) {
  return fmt::format("Usage: {}\nExit codes: {}\n", usage, exit_codes);
}

}  // namespace welld::cli
