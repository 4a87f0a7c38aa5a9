// PID file contents: parse_pid (the file), parse_identity (its identity
// record), parse_side_record (the side record used without user xattrs), and
// inspect_pidfile on a real file holding both.
//
// Input: the file's contents, then optionally a NUL and the identity record
// (the extended attribute's value). parse_pid and parse_identity also see the
// whole input.
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "invariant.hpp"
#include "welld/pidfile.hpp"

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// An independent reading of "at most 20 decimal digits, an optional newline,
// 2..INT_MAX".
pid_t expected_pid(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  unsigned long long v = 0;
  if (!all_digits(text) || text.size() > 20) return -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 2 || v > INT_MAX) return -1;
  return static_cast<pid_t>(v);
}

void check_parse_pid(std::string_view text) {
  static_assert(noexcept(welld::parse_pid(text)));
  pid_t pid = welld::parse_pid(text);
  WELLD_FUZZ_REQUIRE(pid == expected_pid(text));
  if (pid < 0) return;
  WELLD_FUZZ_REQUIRE(pid >= 2);
  // What welld writes ("PID\n") reads back.
  WELLD_FUZZ_REQUIRE(welld::parse_pid(std::to_string(pid) + "\n") == pid);
  WELLD_FUZZ_REQUIRE(welld::parse_pid(std::to_string(pid)) == pid);
}

void check_parse_identity(std::string_view text) {
  static_assert(noexcept(welld::parse_identity(text)));
  auto id = welld::parse_identity(text);
  size_t space = text.find(' ');
  bool shaped = space != std::string_view::npos && all_digits(text.substr(0, space)) &&
                all_digits(text.substr(space + 1));
  if (!shaped) {
    WELLD_FUZZ_REQUIRE(!id);
    return;
  }
  if (!id) return;  // out of range
  WELLD_FUZZ_REQUIRE(id->pid >= 0);
  auto again = welld::parse_identity(std::to_string(id->pid) + " " + std::to_string(id->start_time));
  WELLD_FUZZ_REQUIRE(again && again->pid == id->pid && again->start_time == id->start_time);
}

void check_parse_side_record(std::string_view text) {
  static_assert(noexcept(welld::parse_side_record(text)));
  auto record = welld::parse_side_record(text);
  if (!record) return;
  WELLD_FUZZ_REQUIRE(text.size() <= welld::kSideRecordMax);
  WELLD_FUZZ_REQUIRE(text.substr(0, 16) == "welld-pidfile 1\n" && text.back() == '\n');
  WELLD_FUZZ_REQUIRE(record->identity.pid >= 2);
  // The canonical text of what was parsed reads back the same.
  std::string canonical = "welld-pidfile 1\ninode " + std::to_string(record->dev) + " " + std::to_string(record->ino) +
                          "\nidentity " + std::to_string(record->identity.pid) + " " +
                          std::to_string(record->identity.start_time) + "\n";
  auto again = welld::parse_side_record(canonical);
  WELLD_FUZZ_REQUIRE(again && again->dev == record->dev && again->ino == record->ino &&
                     again->identity.pid == record->identity.pid &&
                     again->identity.start_time == record->identity.start_time);
}

// One file for the whole run, removed at exit.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string p = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/welld-pidfile-fuzz." +
                    std::to_string(::getpid());
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    return p;
  }();
  return path;
}

// The service record: what parses formats back to text that parses the same,
// and every value is in its documented range.
void check_parse_service_record(std::string_view text) {
  static_assert(noexcept(welld::parse_service_record(text)));
  auto r = welld::parse_service_record(text);
  if (!r) return;
  WELLD_FUZZ_REQUIRE(r->session == -1 || r->session > 1);
  WELLD_FUZZ_REQUIRE(r->stop_signal >= 0 && r->stop_signal <= 64);
  WELLD_FUZZ_REQUIRE(r->reload_signal >= 0 && r->reload_signal <= 64);
  WELLD_FUZZ_REQUIRE(r->cgroup[0] == '\0' || r->cgroup[0] == '/');
  char out[welld::kSideRecordMax];
  size_t n = welld::format_service_record(*r, out, sizeof out);
  auto back = welld::parse_service_record(std::string_view(out, n));
  WELLD_FUZZ_REQUIRE(back.has_value());
  WELLD_FUZZ_REQUIRE(back->session == r->session && back->stop_signal == r->stop_signal &&
                     back->stop_timeout_ms == r->stop_timeout_ms && back->reload_signal == r->reload_signal &&
                     std::string_view(back->cgroup) == std::string_view(r->cgroup));
}

void check_inspect(std::string_view contents, std::string_view identity, bool has_identity) {
  const std::string& path = scratch_path();
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  WELLD_FUZZ_REQUIRE(fd >= 0);
  WELLD_FUZZ_REQUIRE(::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
  bool stored = has_identity && !identity.empty() &&
                ::fsetxattr(fd, welld::kIdentityXattr, identity.data(), identity.size(), 0) == 0;
  ::close(fd);

  auto info = welld::inspect_pidfile(path);
  pid_t pid = welld::parse_pid(contents);
  if (contents.empty() || pid < 0) {
    WELLD_FUZZ_REQUIRE(info.state == welld::PidfileState::invalid);
    return;
  }
  WELLD_FUZZ_REQUIRE(info.pid == pid);
  WELLD_FUZZ_REQUIRE(info.state == welld::PidfileState::running || info.state == welld::PidfileState::stale ||
                     info.state == welld::PidfileState::unverified);
  WELLD_FUZZ_REQUIRE(!info.reason.empty());
  // Records are read into a 48-byte buffer: a longer one (only possible with
  // leading zeros) counts as none.
  auto record = stored && identity.size() < 48 ? welld::parse_identity(identity) : std::nullopt;
  if (info.state == welld::PidfileState::running) {
    // Running only when the record names exactly that live process.
    WELLD_FUZZ_REQUIRE(record && record->pid == pid && record->start_time == welld::process_start_time(pid));
  }
  if (info.state == welld::PidfileState::unverified) WELLD_FUZZ_REQUIRE(!record);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = welld::fuzz::as_text(data, size);
  check_parse_pid(text);
  check_parse_identity(text);
  check_parse_side_record(text);
  check_parse_service_record(text);
  size_t nul = text.find('\0');
  std::string_view contents = text.substr(0, nul);
  std::string_view identity = nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1);
  check_parse_pid(contents);
  check_parse_identity(identity);
  check_inspect(contents, identity, nul != std::string_view::npos);
  return 0;
}
