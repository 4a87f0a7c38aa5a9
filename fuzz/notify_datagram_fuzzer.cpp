// parse_notify_datagram: what `welld start --ready=notify` makes of an
// sd_notify datagram (untrusted: anyone who reaches the socket can send one).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "invariant.hpp"
#include "welld/notify.hpp"

namespace {

std::vector<std::string_view> lines_of(std::string_view data) {
  std::vector<std::string_view> lines;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    lines.push_back(data.substr(0, nl));
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  // The server never passes more than one datagram's worth.
  if (text.size() > welld::NotifyServer::kMaxDatagram) return 0;
  auto m = welld::parse_notify_datagram(text);
  auto lines = lines_of(text);

  WELLD_FUZZ_REQUIRE(m.ignored >= 0 && static_cast<size_t>(m.ignored) <= lines.size());
  if (m.errno_value) WELLD_FUZZ_REQUIRE(*m.errno_value >= 0 && *m.errno_value <= 4095);
  if (m.main_pid) WELLD_FUZZ_REQUIRE(*m.main_pid > 1);
  if (m.extend_timeout_us) WELLD_FUZZ_REQUIRE(*m.extend_timeout_us >= 0 && *m.extend_timeout_us <= (1LL << 50));
  if (m.watchdog_usec) WELLD_FUZZ_REQUIRE(*m.watchdog_usec >= 0 && *m.watchdog_usec <= (1LL << 50));
  WELLD_FUZZ_REQUIRE(!(m.watchdog && m.watchdog_trigger));

  // Lines are independent: the datagram is what its lines say one by one,
  // the last assignment of a key winning.
  welld::NotifyMessage folded;
  int ignored = 0;
  for (auto line : lines) {
    auto one = welld::parse_notify_datagram(line);
    ignored += one.ignored;
    if (line.rfind("READY=", 0) == 0) folded.ready = one.ready;
    if (line.rfind("RELOADING=", 0) == 0) folded.reloading = one.reloading;
    if (line.rfind("STOPPING=", 0) == 0) folded.stopping = one.stopping;
    if (line.rfind("WATCHDOG=", 0) == 0) {
      folded.watchdog = one.watchdog;
      folded.watchdog_trigger = one.watchdog_trigger;
    }
    if (one.status) folded.status = one.status;
    if (one.errno_value) folded.errno_value = one.errno_value;
    if (one.main_pid) folded.main_pid = one.main_pid;
    if (one.extend_timeout_us) folded.extend_timeout_us = one.extend_timeout_us;
    if (one.watchdog_usec) folded.watchdog_usec = one.watchdog_usec;
  }
  WELLD_FUZZ_REQUIRE(m.ignored == ignored);
  WELLD_FUZZ_REQUIRE(m.ready == folded.ready && m.reloading == folded.reloading && m.stopping == folded.stopping &&
                     m.watchdog == folded.watchdog && m.watchdog_trigger == folded.watchdog_trigger);
  WELLD_FUZZ_REQUIRE(m.status == folded.status && m.errno_value == folded.errno_value &&
                     m.main_pid == folded.main_pid && m.extend_timeout_us == folded.extend_timeout_us &&
                     m.watchdog_usec == folded.watchdog_usec);

  // A flag is set only by its exact line; STATUS= is one line, taken as sent.
  auto has_line = [&](std::string_view wanted) { return std::ranges::find(lines, wanted) != lines.end(); };
  if (m.ready) WELLD_FUZZ_REQUIRE(has_line("READY=1"));
  if (m.reloading) WELLD_FUZZ_REQUIRE(has_line("RELOADING=1"));
  if (m.stopping) WELLD_FUZZ_REQUIRE(has_line("STOPPING=1"));
  if (m.watchdog) WELLD_FUZZ_REQUIRE(has_line("WATCHDOG=1"));
  if (m.watchdog_trigger) WELLD_FUZZ_REQUIRE(has_line("WATCHDOG=trigger"));
  if (m.status) {
    WELLD_FUZZ_REQUIRE(m.status->find('\n') == std::string::npos);
    WELLD_FUZZ_REQUIRE(has_line("STATUS=" + *m.status));
  }
  // Numbers are what the line says, in decimal.
  if (m.errno_value)
    WELLD_FUZZ_REQUIRE(welld::parse_notify_datagram("ERRNO=" + std::to_string(*m.errno_value)).errno_value ==
                       m.errno_value);
  if (m.main_pid)
    WELLD_FUZZ_REQUIRE(welld::parse_notify_datagram("MAINPID=" + std::to_string(*m.main_pid)).main_pid == m.main_pid);
  if (m.watchdog_usec)
    WELLD_FUZZ_REQUIRE(
        welld::parse_notify_datagram("WATCHDOG_USEC=" + std::to_string(*m.watchdog_usec)).watchdog_usec ==
        m.watchdog_usec);
  return 0;
}
