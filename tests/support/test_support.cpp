#include "test_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace welld::test {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/welld-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

std::string copy_for_anyone(const TempDir& dir, const std::string& program) {
  if (::chmod(dir.path().c_str(), 0755) != 0) throw std::runtime_error("chmod failed");
  std::string copy = dir / std::filesystem::path(program).filename().string();
  std::filesystem::copy_file(program, copy, std::filesystem::copy_options::overwrite_existing);
  return copy;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ProcessGuard::ProcessGuard(pid_t pid) { reset(pid); }

ProcessGuard::~ProcessGuard() { reset(); }

ProcessGuard::ProcessGuard(ProcessGuard&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      by_pid_(std::exchange(other.by_pid_, false)) {}

ProcessGuard& ProcessGuard::operator=(ProcessGuard&& other) noexcept {
  reset();
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::exchange(other.pidfd_, -1);
  by_pid_ = std::exchange(other.by_pid_, false);
  return *this;
}

void ProcessGuard::reset(pid_t pid) {
  if (pidfd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
  } else if (by_pid_) {
    ::kill(pid_, SIGKILL);  // no pidfds (old kernel, valgrind): by PID
  }
  if (pidfd_ >= 0 || by_pid_) {
    wait_gone(std::chrono::seconds(30));
    ::waitpid(pid_, nullptr, WNOHANG);  // reap if it happens to be our child
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pid_ = pid;
  pidfd_ = pid > 0 ? pidfd_open(pid) : -1;
  by_pid_ = pid > 0 && pidfd_ < 0 && errno == ENOSYS;
}

ProcessGuard sleeping_child() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "1000", nullptr);
    ::_exit(127);
  }
  return ProcessGuard(pid);
}

ProcessGuard paused_child(const std::function<bool()>& prepare) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    char c = 'r';
    if (!prepare() || ::write(ready[1], &c, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  ssize_t got = pid > 0 ? ::read(ready[0], &c, 1) : -1;
  ::close(ready[0]);
  ProcessGuard guard(pid);
  if (got != 1) guard.reset();
  return guard;
}

Subreaper::Subreaper() {
  ::prctl(PR_GET_CHILD_SUBREAPER, &previous_);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

Subreaper::~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, previous_); }

Mount::~Mount() {
  if (!target_.empty()) ::umount2(target_.c_str(), MNT_DETACH);
}

std::string Mount::mount(const std::string& type, const std::string& target, const std::string& options) {
  std::filesystem::create_directory(target);
  std::string data = "mode=0755" + (options.empty() ? "" : "," + options);
  if (::mount("welld-test", target.c_str(), type.c_str(), MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return "mount " + type + " (" + data + "): " + std::strerror(errno);
  }
  target_ = target;
  return {};
}

std::string Mount::read_only_bind(const std::string& source, const std::string& target) {
  std::filesystem::create_directory(target);
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return std::string("bind mount: ") + std::strerror(errno);
  }
  target_ = target;
  if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    return std::string("read-only remount: ") + std::strerror(errno);
  }
  return {};
}

namespace {

// Without a pidfd: gone once reaped or a zombie (polled; only where pidfds are missing).
bool ended(pid_t pid) {
  if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] == 'Z';
}

}  // namespace

bool ProcessGuard::wait_gone(std::chrono::milliseconds timeout) const {
  if (pidfd_ < 0 && !by_pid_) return true;
  if (by_pid_) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ended(pid_)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ::poll(nullptr, 0, 10);
    }
    return true;
  }
  pollfd p{pidfd_, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::optional<std::vector<std::string>>& env) {
  RunResult result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (env) {
    for (const auto& e : *env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (env) {
      ::execve(args[0], args.data(), envp.data());
    } else {
      ::execv(args[0], args.data());
    }
    ::_exit(127);
  }
  result.pid = pid;
  ::close(out[1]);
  ::close(err[1]);
  int pidfd = pidfd_open(pid);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true, exited = false, reaped = false;
  int status = 0;
  while (out_open || err_open || !exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    if (pidfd < 0 && !exited) {
      // No pidfds (old kernel, valgrind): poll for the exit every 10 ms.
      if (::waitpid(pid, &status, WNOHANG) == pid) exited = reaped = true;
      left = std::min(left, std::chrono::milliseconds(10));
    }
    pollfd p[3] = {
        {out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}, {exited ? -1 : pidfd, POLLIN, 0}};
    if (::poll(p, 3, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (p[2].revents != 0) exited = true;
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  if (!reaped) ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  ::close(out[0]);
  ::close(err[0]);
  if (pidfd >= 0) ::close(pidfd);
  return result;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_until(int fd, const std::string& needle) {
  std::string seen;
  char buf[256];
  while (seen.find(needle) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  return seen;
}

pid_t pid_in(const std::string& pidfile) {
  std::string text = read_file(pidfile);
  char* end = nullptr;
  long pid = std::strtol(text.c_str(), &end, 10);
  return end == text.c_str() ? -1 : static_cast<pid_t>(pid);
}

std::vector<pid_t> children_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  std::istringstream in(exists(path) ? read_file(path) : "");
  std::vector<pid_t> out;
  for (pid_t child = 0; in >> child;) out.push_back(child);
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::map<std::string, std::string> proc_status(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

std::vector<std::string> proc_stat(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return fields;
  fields.emplace_back();  // 1-based
  fields.push_back(text.substr(0, open - 1));
  fields.push_back(text.substr(open + 1, close - open - 1));
  std::istringstream rest(text.substr(close + 2));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields;
}

bool wait_for_exec(pid_t pid, std::chrono::milliseconds timeout) {
  constexpr std::size_t kEnvEnd = 51;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto fields = proc_stat(pid);
    if (fields.size() <= kEnvEnd || fields[3] == "Z") return false;  // gone, or a kernel without the field
    if (fields[kEnvEnd] != "0") return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the kernel offers no event for this
  }
}

namespace {

// Bind a TCP socket to 127.0.0.1:port (0: any free port) and close it; the
// port it got, or -1.
int bind_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  return bound ? ntohs(addr.sin_port) : -1;
}

}  // namespace

int free_tcp_port() { return bind_loopback(0); }

int free_privileged_port(int first, int last) {
  for (int port = first; port <= last; ++port) {
    if (bind_loopback(port) == port) return port;
  }
  return -1;
}

std::map<int, std::string> proc_fds(pid_t pid) {
  std::map<int, std::string> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code lec;
    auto target = std::filesystem::read_symlink(entry.path(), lec);
    fds[std::stoi(entry.path().filename().string())] = lec ? "?" : target.string();
  }
  return fds;
}

std::map<int, std::string> proc_fds_settled(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto fds = proc_fds(pid);
    if (fds.empty() || fds.rbegin()->first <= 2 || std::chrono::steady_clock::now() >= deadline) return fds;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the kernel offers no event for a close
  }
}

std::vector<std::string> proc_environ(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> entries;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    entries.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return entries;
}

std::string proc_cwd(pid_t pid) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec).string();
}

bool alive(pid_t pid) {
  auto stat = proc_stat(pid);
  return stat.size() > 3 && stat[3] != "Z" && stat[3] != "X";
}

bool mask_has(const std::string& hex_mask, int sig) {
  unsigned long long mask = std::stoull(hex_mask, nullptr, 16);
  return (mask >> (sig - 1)) & 1ULL;
}

std::optional<long> field_after(const std::string& text, const std::string& key) {
  auto at = text.find(key + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtol(text.c_str() + at + key.size() + 1, nullptr, 10);
}

AttackerUser::AttackerUser(const std::string& group_of) {
  if (::geteuid() != 0) return;
  static int serial = 0;
  // Unique per process and fixture: tests run in parallel, each in its own process.
  std::string name = "wattk" + std::to_string(::getpid()) + "x" + std::to_string(serial++);
  std::vector<std::string> argv{"/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                "--user-group"};
  if (!group_of.empty()) {
    argv.emplace_back("--groups");
    argv.push_back(group_of);
  }
  argv.push_back(name);
  // useradd serializes on /etc/passwd's lock: parallel tests may wait for it.
  for (int attempt = 0; attempt < 50; ++attempt) {
    RunResult r = welld::test::run(argv, std::chrono::seconds(60));
    if (r.exit_code == 0) break;
    if (r.exit_code != 1 && r.exit_code != 10) return;  // 1: cannot lock passwd, 10: cannot lock group
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  RunResult id_u = welld::test::run({"/usr/bin/id", "-u", name});
  RunResult id_g = welld::test::run({"/usr/bin/id", "-g", name});
  if (id_u.exit_code != 0 || id_g.exit_code != 0) return;
  name_ = name;
  uid_ = static_cast<uid_t>(std::stoul(id_u.out));
  gid_ = static_cast<gid_t>(std::stoul(id_g.out));
}

AttackerUser::~AttackerUser() {
  if (!available()) return;
  try {
    for (int attempt = 0; attempt < 50; ++attempt) {
      RunResult r = welld::test::run({"/usr/sbin/userdel", name_}, std::chrono::seconds(60));
      if (r.exit_code != 10 && r.exit_code != 1) break;  // 10/1: passwd or group locked by a parallel test
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "AttackerUser: cannot remove user %s: %s\n", name_.c_str(), e.what());
  }
}

RunResult AttackerUser::run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) const {
  std::vector<std::string> full{"/usr/bin/setpriv",
                                "--reuid=" + std::to_string(uid_),
                                "--regid=" + std::to_string(gid_),
                                "--init-groups",
                                "--inh-caps=-all",
                                "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return welld::test::run(full, timeout);
}

RunResult AttackerUser::sh(const std::string& script, std::chrono::milliseconds timeout) const {
  return run({"/bin/sh", "-c", script}, timeout);
}

}  // namespace welld::test
