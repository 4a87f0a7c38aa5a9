#include "proc.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "read_whole.hpp"
#include "welld/unique_fd.hpp"

namespace welld {

namespace {

std::error_code parsed(std::string_view text, ProcStat& out) {
  return parse_proc_stat(text, out) ? std::error_code() : std::error_code(EINVAL, std::system_category());
}

}  // namespace

std::error_code read_proc_stat(pid_t pid, std::string& text, ProcStat& out) {
  std::string path = pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat";
  if (auto ec = read_whole_file(path, text)) return ec;
  return parsed(text, out);
}

std::error_code read_proc_stat_at(int procfd, std::string& text, ProcStat& out) {
  text.clear();
  UniqueFd fd(::openat(procfd, "stat", O_RDONLY | O_CLOEXEC));
  if (!fd) return {errno, std::system_category()};
  if (auto ec = read_whole_fd(fd.get(), text)) return ec;
  return parsed(text, out);
}

std::string process_comm(pid_t pid) {
  std::string text;
  ProcStat st;
  if (read_proc_stat(pid, text, st)) return {};
  return std::string(st.comm);
}

long clock_ticks_per_second() noexcept {
  long tck = ::sysconf(_SC_CLK_TCK);
  return tck > 0 ? tck : 100;
}

}  // namespace welld
