#include "welld/path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string_view>

namespace welld {

std::error_code make_absolute(const std::string& path, std::string& out) {
  if (path.empty() || path.front() == '/') {
    out = path;
    return {};
  }
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return {errno, std::system_category()};
  out = std::string(cwd) + "/" + path;
  return {};
}

std::string parent_directory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string resolve_executable(const std::string& name, const std::string& path_env, int& err) {
  auto usable = [&](const std::string& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      err = EACCES;
      return false;
    }
    if (::access(p.c_str(), X_OK) != 0) {
      err = errno;
      return false;
    }
    return true;
  };
  err = ENOENT;
  if (name.find('/') != std::string::npos) return usable(name) ? name : std::string();
  size_t start = 0;
  int first_error = 0;
  std::string_view entries(path_env);
  while (start <= path_env.size()) {
    size_t colon = path_env.find(':', start);
    std::string_view dir = entries.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = std::string(dir.empty() ? std::string_view(".") : dir) + "/" + name;
    err = ENOENT;
    if (usable(candidate)) return candidate;
    if (err != ENOENT && first_error == 0) first_error = err;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  err = first_error != 0 ? first_error : ENOENT;
  return {};
}

}  // namespace welld
