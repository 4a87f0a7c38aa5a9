// parse_listen_spec (--listen tcp:[HOST:]PORT | unix:PATH).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "invariant.hpp"
#include "welld/listen.hpp"

namespace {

using welld::fuzz::kUntouched;
using welld::fuzz::require_error_contract;

bool numeric_address(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return host.find('\0') == std::string::npos &&
         (::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1);
}

// A name sd_listen_fds_with_names(3) can hand over: LISTEN_FDNAMES is
// colon-separated, and systemd accepts printable ASCII names of at most 255.
bool valid_fd_name(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  return std::ranges::all_of(name, [](char c) { return c != ':' && c >= ' ' && c <= '~'; });
}

std::string canonical(const welld::ListenSpec& s) {
  if (s.unix_socket) return std::string("unix:").append(s.path);
  std::string host = s.host.find(':') == std::string::npos ? s.host : std::string("[").append(s.host).append("]");
  return std::string("tcp:").append(host).append(":").append(std::to_string(s.port));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  std::string error(kUntouched);
  auto spec = welld::parse_listen_spec(text, &error);
  require_error_contract(spec.has_value(), error);
  if (!spec) return 0;
  const auto& s = *spec;
  WELLD_FUZZ_REQUIRE(valid_fd_name(s.name));
  if (s.unix_socket) {
    WELLD_FUZZ_REQUIRE(!s.path.empty() && s.path.size() < sizeof(sockaddr_un::sun_path));
    WELLD_FUZZ_REQUIRE(s.path.find('\0') == std::string::npos);
    WELLD_FUZZ_REQUIRE(s.host.empty() && s.port == 0);
    WELLD_FUZZ_REQUIRE(s.name.rfind("unix-", 0) == 0);
  } else {
    WELLD_FUZZ_REQUIRE(s.port >= 1 && s.port <= 65535);
    WELLD_FUZZ_REQUIRE(numeric_address(s.host));
    WELLD_FUZZ_REQUIRE(s.path.empty());
    WELLD_FUZZ_REQUIRE(s.name == "tcp-" + std::to_string(s.port));
  }
  auto again = welld::parse_listen_spec(canonical(s));
  WELLD_FUZZ_REQUIRE(again && again->unix_socket == s.unix_socket && again->host == s.host && again->port == s.port &&
                     again->path == s.path && again->name == s.name);
  return 0;
}
