// The systemd unit reader (welld/unit.hpp): parse_unit_text,
// split_command_words, expand_variables, parse_environment_file and
// load_service_unit_text over the same fuzzed text.
//
// Input: the text of a unit. A first line "#dropin" splits it: what follows is
// a drop-in; a line "#socket" starts the .socket's text. Inputs naming
// EnvironmentFile= are read as units without it (the loader would read the
// named file: /dev/zero never ends).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "invariant.hpp"
#include "welld/unit.hpp"

namespace {

void check_entries(std::string_view text) {
  std::string error(welld::fuzz::kUntouched);
  auto entries = welld::parse_unit_text(text, "fuzz.service", &error);
  welld::fuzz::require_error_contract(entries.has_value(), error);
  if (!entries) return;
  int last = 0;
  for (const auto& e : *entries) {
    WELLD_FUZZ_REQUIRE(e.line > last);  // one entry per (first) line, in order
    WELLD_FUZZ_REQUIRE(!e.key.empty() && !e.section.empty());
    WELLD_FUZZ_REQUIRE(e.value.empty() || (e.value.front() != ' ' && e.value.back() != ' '));
    last = e.line;
  }
}

void check_words(std::string_view text) {
  std::string error(welld::fuzz::kUntouched);
  auto commands = welld::split_command_words(text, &error);
  welld::fuzz::require_error_contract(commands.has_value(), error);
  if (!commands) return;
  WELLD_FUZZ_REQUIRE(!commands->empty());
  for (const auto& words : *commands) {
    // Expanding without variables keeps every word that is no lone $NAME.
    auto expanded = welld::expand_variables(words, {});
    WELLD_FUZZ_REQUIRE(expanded.size() <= words.size());
  }
}

void check_environment_file(std::string_view text) {
  std::string error(welld::fuzz::kUntouched);
  auto vars = welld::parse_environment_file(text, "fuzz.env", &error);
  welld::fuzz::require_error_contract(vars.has_value(), error);
  for (const auto& v : vars.value_or(std::vector<std::string>{})) {
    WELLD_FUZZ_REQUIRE(v.find('=') != std::string::npos && v.front() != '=');
  }
}

void check_load(std::string_view text) {
  if (text.find("EnvironmentFile") != std::string_view::npos) return;
  std::string_view unit = text;
  std::string_view socket;
  std::vector<std::pair<std::string, std::string>> dropins;
  if (size_t at = unit.find("\n#socket\n"); at != std::string_view::npos) {
    socket = unit.substr(at + 9);
    unit = unit.substr(0, at);
  }
  if (size_t at = unit.find("\n#dropin\n"); at != std::string_view::npos) {
    dropins.emplace_back("fuzz.service.d/a.conf", std::string(unit.substr(at + 9)));
    unit = unit.substr(0, at);
  }
  auto load = welld::load_service_unit_text("fuzz@inst.service", unit, dropins, socket);
  if (!load.error.empty()) {
    WELLD_FUZZ_REQUIRE(load.error.find('\n') == std::string::npos);
    return;
  }
  const welld::ServiceUnit& u = load.unit;
  WELLD_FUZZ_REQUIRE(!u.exec_start.empty());
  WELLD_FUZZ_REQUIRE(u.exec_start.size() == 1 || u.type == welld::ServiceType::oneshot);
  WELLD_FUZZ_REQUIRE(u.type != welld::ServiceType::forking || !u.pidfile.empty());
  for (const auto& cmd : u.exec_start) WELLD_FUZZ_REQUIRE(!cmd.argv.empty());
  for (const auto& d : u.directories) WELLD_FUZZ_REQUIRE(!d.name.empty() && d.name.front() != '/');
  for (const auto& w : u.warnings) WELLD_FUZZ_REQUIRE(w.text().find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  check_entries(text);
  check_words(text);
  check_environment_file(text);
  check_load(text);
  return 0;
}
