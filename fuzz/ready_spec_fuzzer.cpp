// parse_ready_spec (--ready MODE[:ARG]).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <string>

#include "invariant.hpp"
#include "welld/readiness.hpp"

namespace {

using welld::ReadyMode;
using welld::fuzz::kUntouched;
using welld::fuzz::require_error_contract;

bool numeric_address(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return host.find('\0') == std::string::npos &&
         (::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1);
}

// The spec written the way the documentation writes it.
std::string canonical(const welld::ReadySpec& s) {
  switch (s.mode) {
    case ReadyMode::exec: return "exec";
    case ReadyMode::notify: return s.path.empty() ? std::string("notify") : std::string("notify:").append(s.path);
    case ReadyMode::fd: return s.fd < 0 ? std::string("fd") : std::string("fd:").append(std::to_string(s.fd));
    case ReadyMode::tcp: {
      std::string host = s.host.find(':') == std::string::npos ? s.host : std::string("[").append(s.host).append("]");
      return std::string("tcp:").append(host).append(":").append(std::to_string(s.port));
    }
    case ReadyMode::unix_socket: return std::string("unix:").append(s.path);
    case ReadyMode::file: return std::string("file:").append(s.path);
    case ReadyMode::forking: return "forking";  // --forking, never a --ready value
  }
  return {};
}

bool same(const welld::ReadySpec& a, const welld::ReadySpec& b) {
  return a.mode == b.mode && a.fd == b.fd && a.host == b.host && a.port == b.port && a.path == b.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  std::string error(kUntouched);
  auto spec = welld::parse_ready_spec(text, &error);
  require_error_contract(spec.has_value(), error);
  if (!spec) return 0;
  const auto& s = *spec;
  // Each mode fills its own fields, in range, and leaves the others alone.
  bool uses_fd = s.mode == ReadyMode::fd;
  bool uses_tcp = s.mode == ReadyMode::tcp;
  bool uses_path = s.mode == ReadyMode::notify || s.mode == ReadyMode::unix_socket || s.mode == ReadyMode::file;
  if (!uses_fd) WELLD_FUZZ_REQUIRE(s.fd == -1);
  if (!uses_tcp) WELLD_FUZZ_REQUIRE(s.host.empty() && s.port == 0);
  if (!uses_path) WELLD_FUZZ_REQUIRE(s.path.empty());
  switch (s.mode) {
    case ReadyMode::exec: WELLD_FUZZ_REQUIRE(text == "exec"); break;
    case ReadyMode::forking: WELLD_FUZZ_REQUIRE(false); break;  // --forking, never a --ready value
    case ReadyMode::notify:
      // A socket address that NOTIFY_SOCKET (an environment string) can carry.
      if (!s.path.empty()) {
        WELLD_FUZZ_REQUIRE(s.path.size() >= 2 && s.path.size() < sizeof(sockaddr_un::sun_path));
        WELLD_FUZZ_REQUIRE(s.path.front() == '@' || s.path.front() == '/');
        WELLD_FUZZ_REQUIRE(s.path.find('\0') == std::string::npos);
      }
      break;
    case ReadyMode::fd: WELLD_FUZZ_REQUIRE(s.fd == -1 || (s.fd >= 3 && s.fd <= 1024)); break;
    case ReadyMode::tcp:
      WELLD_FUZZ_REQUIRE(s.port >= 1 && s.port <= 65535);
      WELLD_FUZZ_REQUIRE(numeric_address(s.host));
      break;
    case ReadyMode::unix_socket:
      WELLD_FUZZ_REQUIRE(!s.path.empty() && s.path.size() < sizeof(sockaddr_un::sun_path));
      WELLD_FUZZ_REQUIRE(s.path.find('\0') == std::string::npos);
      break;
    case ReadyMode::file:
      WELLD_FUZZ_REQUIRE(!s.path.empty() && s.path.size() < 4096);
      WELLD_FUZZ_REQUIRE(s.path.find('\0') == std::string::npos);
      break;
  }
  // Written back canonically, it parses to the same spec.
  auto again = welld::parse_ready_spec(canonical(s));
  WELLD_FUZZ_REQUIRE(again && same(*again, s));
  return 0;
}
