// parse_user_group (--user USER[:GROUP]) and split_list (--supplementary-groups,
// --keep-caps) on the same input.
#include <cstdint>
#include <string>

#include "invariant.hpp"
#include "welld/parse.hpp"

namespace {

using welld::fuzz::kUntouched;
using welld::fuzz::require_error_contract;

bool has_forbidden(const std::string& s) {
  return s.find('\0') != std::string::npos || s.find('\n') != std::string::npos;
}

void check_user_group(std::string_view text) {
  std::string error(kUntouched);
  auto ug = welld::parse_user_group(text, &error);
  require_error_contract(ug.has_value(), error);
  if (!ug) return;
  WELLD_FUZZ_REQUIRE(!ug->user.empty());
  WELLD_FUZZ_REQUIRE(ug->user.find(':') == std::string::npos);
  WELLD_FUZZ_REQUIRE(ug->group.find(':') == std::string::npos);
  WELLD_FUZZ_REQUIRE(!has_forbidden(ug->user) && !has_forbidden(ug->group));
  // Nothing is lost or invented: the parts put back together are the input.
  std::string whole = ug->user;
  if (!ug->group.empty()) whole.append(":").append(ug->group);
  WELLD_FUZZ_REQUIRE(whole == text);
}

void check_split_list(std::string_view text) {
  auto items = welld::split_list(text);
  std::string joined;
  size_t runs = 0;  // maximal runs of non-comma characters in the input
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') {
      joined += text[i];
      if (i == 0 || text[i - 1] == ',') ++runs;
    }
  }
  WELLD_FUZZ_REQUIRE(items.size() == runs);
  std::string concatenated;
  for (const auto& item : items) {
    WELLD_FUZZ_REQUIRE(!item.empty());
    WELLD_FUZZ_REQUIRE(item.find(',') == std::string::npos);
    concatenated += item;
  }
  WELLD_FUZZ_REQUIRE(concatenated == joined);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  check_user_group(text);
  check_split_list(text);
  return 0;
}
