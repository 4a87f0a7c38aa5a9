#include <fmt/core.h>

#include <cstdio>

#include "command.hpp"

namespace welld::cli {

void error_line(std::string_view verb, std::string_view message) {
  fmt::print(stderr, "welld: {}: {}\n", verb, message);
}

void warning_line(std::string_view verb, std::string_view message) {
  fmt::print(stderr, "welld: {}: warning: {}\n", verb, message);
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

std::string verb_footer(std::string_view usage, std::string_view exit_codes) {
  return fmt::format("Usage: {}\nExit codes: {}\n", usage, exit_codes);
}

}  // namespace welld::cli
