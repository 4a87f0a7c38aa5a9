// validate_options: the checks on Options alone, before anything is looked up.
// The input is read as a sequence of fields (a byte says which field, the
// following bytes give its value), so that every combination of good and bad
// settings is reachable.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

#include "daemon_plan.hpp"
#include "invariant.hpp"
#include "welld/daemon.hpp"

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ == size_; }
  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  int small_int() { return static_cast<int8_t>(byte()); }
  unsigned word() { return static_cast<unsigned>(byte()) << 8 | byte(); }
  std::string text() {
    size_t len = byte() % 16;
    std::string out;
    while (len-- > 0 && !empty()) out += static_cast<char>(byte());
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

welld::Options options_from(Reader& in) {
  welld::Options o;
  while (!in.empty()) {
    switch (in.byte() % 12) {
      case 0: o.user = in.text(); break;
      case 1: o.group = in.text(); break;
      case 2: o.keep_fds.push_back(in.small_int()); break;
      case 3: o.pass_fds.push_back({.from = in.small_int(), .to = in.small_int()}); break;
      case 4: o.environment.set.push_back(in.text()); break;
      case 5: o.umask = static_cast<mode_t>(in.word()); break;
      case 6: o.chroot = in.text(); break;
      case 7: o.chdir = in.text(); break;
      case 8: o.nice = in.small_int(); break;
      case 9: {
        welld::ResourceLimit r{};
        r.resource = in.small_int();
        r.soft = in.byte() == 0xff ? RLIM_INFINITY : in.word();
        r.hard = in.byte() == 0xff ? RLIM_INFINITY : in.word();
        o.rlimits.push_back(r);
        break;
      }
      case 10: o.keep_caps.push_back(in.text()); break;
      default:
        if (!o.supplementary_groups) o.supplementary_groups.emplace();
        o.supplementary_groups->push_back(in.text());
        break;
    }
  }
  return o;
}

// What the documented rules say about `o`, checked independently.
bool acceptable(const welld::Options& o) {
  bool has_user = !o.user.empty();
  if (!has_user && (!o.group.empty() || !o.keep_caps.empty() || o.supplementary_groups)) return false;
  for (int fd : o.keep_fds) {
    if (fd < 3) return false;
  }
  for (const auto& m : o.pass_fds) {
    if (m.from < 0 || m.to < 3) return false;
  }
  if (o.keep_fds.size() + o.pass_fds.size() > welld::detail::kMaxKeptFds) return false;
  for (const auto& s : o.environment.set) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || s.substr(0, eq).find('\0') != std::string::npos) return false;
  }
  if (o.umask && *o.umask > 0777) return false;
  if (!o.chroot.empty() && !o.chdir.empty() && o.chdir.front() != '/') return false;
  if (o.nice && (*o.nice < -20 || *o.nice > 19)) return false;
  auto settable = [](const welld::ResourceLimit& r) {
    return r.resource >= 0 && r.resource < RLIM_NLIMITS && (r.hard == RLIM_INFINITY || r.soft <= r.hard);
  };
  return std::ranges::all_of(o.rlimits, settable);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  welld::Options o = options_from(in);
  auto bad = welld::detail::validate_options(o);
  WELLD_FUZZ_REQUIRE(bad.has_value() == !acceptable(o));
  if (bad) {
    // A usage error: EINVAL at prepare (or set_umask), with a reason to print.
    WELLD_FUZZ_REQUIRE(bad->error == EINVAL);
    WELLD_FUZZ_REQUIRE(bad->step == welld::Step::prepare || bad->step == welld::Step::set_umask);
    WELLD_FUZZ_REQUIRE(!bad->detail.empty());
    WELLD_FUZZ_REQUIRE(bad->pid < 0 && bad->holder < 0);
  }
  // Pure: the same options, the same answer.
  auto again = welld::detail::validate_options(o);
  WELLD_FUZZ_REQUIRE(again.has_value() == bad.has_value());
  if (bad)
    WELLD_FUZZ_REQUIRE(again->subject == bad->subject && again->detail == bad->detail && again->step == bad->step);
  return 0;
}
