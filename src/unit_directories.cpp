// RuntimeDirectory=, StateDirectory=, LogsDirectory=: created one component
// at a time below an open parent, never through a symbolic link (see
// create_managed_directories in welld/unit.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "welld/unique_fd.hpp"
#include "welld/unit.hpp"

namespace welld {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

// `name` below `parent`: created when missing, then opened without following a link.
std::error_code open_component(int parent, const std::string& name, mode_t mode, UniqueFd& out) {
  if (::mkdirat(parent, name.c_str(), mode) != 0 && errno != EEXIST) return last_error();
  out.reset(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return out ? std::error_code() : last_error();
}

std::error_code create_one(const ManagedDirectory& d, uid_t uid, gid_t gid, const std::string& root) {
  // The base (/run, /var/lib, /var/log, under RootDirectory=) is the
  // system's own: it may be a link (/var/run), the components below may not.
  UniqueFd dir(::open((root + d.base).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return last_error();
  std::string_view rest = d.name;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string part(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    UniqueFd next;
    if (auto ec = open_component(dir.get(), part, d.mode, next)) return ec;
    dir = std::move(next);
  }
  if (::fchown(dir.get(), uid, gid) != 0 || ::fchmod(dir.get(), d.mode) != 0) return last_error();
  return {};
}

}  // namespace

std::error_code create_managed_directories(const std::vector<ManagedDirectory>& dirs, uid_t uid, gid_t gid,
                                           const std::string& root, std::string* what) {
  for (const auto& d : dirs) {
    if (auto ec = create_one(d, uid, gid, root)) {
      if (what != nullptr) *what = root + d.base + "/" + d.name;
      return ec;
    }
  }
  return {};
}

}  // namespace welld
