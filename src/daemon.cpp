// daemonize / spawn_daemon / run_foreground: the fifteen steps in one code path.
//
// Everything the daemon needs is prepared before the first fork (Plan). After
// fork only async-signal-safe calls are made until the caller's own init/run.
// Status travels back over a close-on-exec pipe as fixed-size Reports; a
// Report is smaller than PIPE_BUF, so each write is atomic.
#include <fcntl.h>
#include <poll.h>
#include <sanitizer/asan_interface.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "pidfd.linux.hpp"
#include "welld/daemon.hpp"
#include "welld/notify.hpp"
#include "welld/pidfile.hpp"
#include "welld/privileges.hpp"
#include "welld/signals.hpp"
#include "welld/unique_fd.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace welld {
namespace {

enum class ReportKind : std::int32_t { pid = 1, initialized = 2, failed = 3, executing = 4 };

struct Report {
  ReportKind kind;
  std::int32_t step;
  std::int32_t error;
  std::int32_t pid;
};

// Everything the daemon needs, computed before fork.
struct Plan {
  std::string pidfile;
  std::string chdir = "/";
  mode_t umask = 0;
  std::string stdout_path;
  std::string stderr_path;
  bool sanitize_env = true;
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  std::vector<int> keep;
  std::vector<FdMapping> pass_fds;
  bool listen_pid = false;
  CloseMethod close_method = CloseMethod::automatic;
  bool drop = false;
  Credentials creds;
  std::string chroot;
  bool no_new_privs = false;
  bool set_nice = false;
  int nice = 0;
  std::vector<ResourceLimit> rlimits;
  std::string exec_path;
  std::vector<std::string> argv_strings;
  std::vector<char*> argv;
};

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string absolute(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status failure(Step step, int error, std::string subject) {
  Status st;
  st.step = step;
  st.error = error;
  st.subject = std::move(subject);
  return st;
}

// A directory that must exist for `path` to be created in it.
std::optional<Status> check_dir_of(Step step, const std::string& path) {
  struct stat st {};
  std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0) return failure(step, errno, path);
  if (!S_ISDIR(st.st_mode)) return failure(step, ENOTDIR, path);
  return std::nullopt;
}

// A file welld creates or appends to on the daemon's behalf must not sit in
// a directory that someone else can write: they could swap it for a symlink
// or a hard link between our check and our open. Sticky directories (/tmp)
// are fine when the file is absent or ours: others cannot rename or remove it.
std::optional<Status> check_safe_location(Step step, const std::string& path) {
  std::string dir = parent_dir(path);
  struct stat d {};
  if (::stat(dir.c_str(), &d) != 0) return failure(step, errno, path);
  if (!S_ISDIR(d.st_mode)) return failure(step, ENOTDIR, path);
  struct stat l {};
  if (::lstat(path.c_str(), &l) == 0 && !S_ISREG(l.st_mode)) {
    Status st = failure(step, S_ISLNK(l.st_mode) ? ELOOP : EINVAL, path);
    st.detail = S_ISLNK(l.st_mode) ? "it is a symbolic link" : "it is not a regular file";
    return st;
  }
  bool others_write = (d.st_mode & S_IWOTH) != 0 || (d.st_uid != 0 && d.st_uid != ::geteuid());
  if (!others_write) return std::nullopt;
  struct stat f {};
  bool exists = ::lstat(path.c_str(), &f) == 0;
  if ((d.st_mode & S_ISVTX) != 0 && (!exists || f.st_uid == ::geteuid())) return std::nullopt;
  Status st = failure(step, EPERM, path);
  st.detail = "directory " + dir +
              ((d.st_mode & S_IWOTH) != 0 ? " is writable by others" : " belongs to uid " + std::to_string(d.st_uid)) +
              ((d.st_mode & S_ISVTX) != 0 ? " and the file is not ours" : " and is not sticky");
  return st;
}

std::optional<Status> make_plan(const Options& o, Plan& plan) {
  if (!o.group.empty() && o.user.empty()) {
    return failure(Step::prepare, EINVAL, "a group was given without a user");
  }
  for (int fd : o.keep_fds) {
    if (fd < 3) return failure(Step::prepare, EINVAL, "fds to keep must be 3 or more");
  }
  for (const auto& s : o.environment.set) {
    if (!valid_assignment(s)) return failure(Step::prepare, EINVAL, "not NAME=VALUE: '" + s + "'");
  }
  plan.pidfile = absolute(o.pidfile);
  plan.stdout_path = absolute(o.stdout_path);
  plan.stderr_path = absolute(o.stderr_path);
  if (!o.chdir.empty()) plan.chdir = absolute(o.chdir);
  plan.umask = o.umask.value_or(0);
  if (plan.umask > 0777) return failure(Step::set_umask, EINVAL, "umask out of range");
  plan.keep = o.keep_fds;
  plan.pass_fds = o.pass_fds;
  for (const auto& m : o.pass_fds) {
    if (m.from < 0 || m.to < 3) return failure(Step::prepare, EINVAL, "passed fds must go to 3 or more");
    plan.keep.push_back(m.from);
  }
  plan.listen_pid = o.listen_pid;
  if (plan.keep.size() > 60) return failure(Step::prepare, EINVAL, "too many fds to keep");
  plan.close_method = o.close_method;

  struct stat st {};
  plan.chroot = absolute(o.chroot);
  if (!plan.chroot.empty()) {
    if (::stat(plan.chroot.c_str(), &st) != 0) return failure(Step::chroot, errno, plan.chroot);
    if (!S_ISDIR(st.st_mode)) return failure(Step::chroot, ENOTDIR, plan.chroot);
    if (!o.chdir.empty() && o.chdir.front() != '/') {
      return failure(Step::prepare, EINVAL, "with a chroot, the working directory must be absolute");
    }
    plan.chdir = o.chdir.empty() ? "/" : o.chdir;
  }
  std::string chdir_seen = plan.chroot + plan.chdir;
  if (::stat(chdir_seen.c_str(), &st) != 0) return failure(Step::chdir, errno, chdir_seen);
  if (!S_ISDIR(st.st_mode)) return failure(Step::chdir, ENOTDIR, chdir_seen);
  if (!plan.pidfile.empty()) {
    if (auto bad = check_dir_of(Step::pidfile, plan.pidfile)) return bad;
    if (auto bad = check_safe_location(Step::pidfile, plan.pidfile)) return bad;
  }
  for (const auto* log : {&plan.stdout_path, &plan.stderr_path}) {
    if (log->empty()) continue;
    if (auto bad = check_dir_of(Step::redirect_stdio, *log)) return bad;
    if (auto bad = check_safe_location(Step::redirect_stdio, *log)) return bad;
  }
  plan.no_new_privs = o.no_new_privs;
  plan.set_nice = o.nice.has_value();
  plan.nice = o.nice.value_or(0);
  if (plan.nice < -20 || plan.nice > 19) return failure(Step::prepare, EINVAL, "nice must be between -20 and 19");
  plan.rlimits = o.rlimits;
  for (const auto& r : plan.rlimits) {
    if (r.resource < 0 || r.resource >= RLIM_NLIMITS || (r.hard != RLIM_INFINITY && r.soft > r.hard)) {
      return failure(Step::prepare, EINVAL, "invalid resource limit");
    }
  }
  if (!o.keep_caps.empty() && o.user.empty()) {
    return failure(Step::prepare, EINVAL, "capabilities can only be kept across a user switch (no user given)");
  }
  if (o.supplementary_groups && o.user.empty()) {
    return failure(Step::prepare, EINVAL, "supplementary groups were given without a user");
  }

  EnvironmentPolicy policy = o.environment;
  if (!o.user.empty()) {
    std::string what;
    if (auto ec = resolve_credentials(o.user, o.group, plan.creds, &what)) {
      return failure(Step::drop_privileges, ec.value(), what.empty() ? o.user : what);
    }
    if (o.supplementary_groups) {
      if (auto ec = resolve_groups(*o.supplementary_groups, plan.creds.groups, &what)) {
        return failure(Step::drop_privileges, ec.value(), what);
      }
    }
    if (auto ec = resolve_capabilities(o.keep_caps, plan.creds.keep_caps, &what)) {
      return failure(Step::prepare, ec.value(), what);
    }
    plan.drop = true;
    // The target user's identity, unless the caller set them explicitly.
    std::vector<std::string> identity = {"HOME=" + plan.creds.home, "USER=" + plan.creds.user,
                                         "LOGNAME=" + plan.creds.user, "SHELL=" + plan.creds.shell};
    policy.set.insert(policy.set.begin(), identity.begin(), identity.end());
  }
  if (plan.listen_pid) {
    // Patched with the daemon's PID after the second fork (see set_listen_pid).
    policy.set.emplace_back("LISTEN_PID=0000000000");
  }
  plan.sanitize_env = !o.keep_environment || plan.listen_pid;
  if (plan.sanitize_env) {
    if (o.keep_environment) policy.inherit = true;
    plan.env_strings = sanitized_environment(policy, environ);
    plan.envp = pointers(plan.env_strings);
  }
  return std::nullopt;
}

std::optional<Status> plan_exec(const std::vector<std::string>& argv, Plan& plan) {
  if (argv.empty() || argv.front().empty()) {
    return failure(Step::prepare, EINVAL, "no command to execute");
  }
  std::string path_env = std::string(kDefaultPath);
  char** env = plan.sanitize_env ? plan.envp.data() : environ;
  for (char** e = env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) path_env = *e + 5;
  }
  int err = 0;
  if (plan.chroot.empty()) {
    plan.exec_path = absolute(resolve_executable(argv.front(), path_env, err));
  } else {
    // Inside the new root: absolute names and PATH entries are chroot-relative.
    if (argv.front().find('/') != std::string::npos && argv.front().front() != '/') {
      return failure(Step::prepare, EINVAL, "with a chroot, the program path must be absolute or a bare name");
    }
    std::string rooted_path;
    for (size_t start = 0; start <= path_env.size();) {
      size_t colon = path_env.find(':', start);
      std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!dir.empty() && dir.front() == '/') rooted_path += (rooted_path.empty() ? "" : ":") + plan.chroot + dir;
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    std::string name = argv.front().front() == '/' ? plan.chroot + argv.front() : argv.front();
    std::string found = resolve_executable(name, rooted_path, err);
    if (!found.empty()) plan.exec_path = found.substr(plan.chroot.size());
  }
  if (plan.exec_path.empty()) return failure(Step::exec, err, argv.front());
  plan.argv_strings = argv;
  plan.argv = pointers(plan.argv_strings);
  return std::nullopt;
}

// ---- after fork: async-signal-safe only --------------------------------

// Code that runs in spawn_daemon's children, on stacks AddressSanitizer does
// not know: its bookkeeping before a noreturn call (__asan_handle_no_return)
// would print a warning there, on the caller's stderr. Not instrumented.
#define WELLD_CHILD_CODE __attribute__((no_sanitize("address")))

// Where the daemon's own PID file is, for removal: the path, or (after a
// chroot) a directory fd opened before it and the file's name. A local of the
// daemon, never a global: spawn_daemon's children share the caller's memory.
struct OwnPidfile {
  int dir = AT_FDCWD;
  const char* name = nullptr;

  void remove() const noexcept {
    if (name != nullptr) remove_pidfile_at(dir, name, ::getpid());
  }
};

void send(int fd, ReportKind kind, Step step = Step::none, int error = 0) noexcept {
  Report r{kind, static_cast<std::int32_t>(step), error, static_cast<std::int32_t>(::getpid())};
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

[[noreturn]] WELLD_CHILD_CODE void fail_and_exit(int report_fd, Step step, int error) noexcept {
  send(report_fd, ReportKind::failed, step, error);
  ::_exit(1);
}

// Put `fd` at `target` without CLOEXEC (it must survive exec), then drop `fd`.
bool move_to(int fd, int target) noexcept {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) >= 0;
}

// O_NONBLOCK so that a FIFO put in the file's place fails (ENXIO) instead of
// blocking the daemon, and its starter, until a reader comes; cleared after.
int open_log(const char* path) noexcept {
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) != 0) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

// Step 9.
int redirect_stdio(const Plan& plan) noexcept {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (null_fd < 0) return errno;
  int out = plan.stdout_path.empty() ? null_fd : open_log(plan.stdout_path.c_str());
  if (out < 0) return errno;
  int err = plan.stderr_path.empty()               ? null_fd
            : plan.stderr_path == plan.stdout_path ? out
                                                   : open_log(plan.stderr_path.c_str());
  if (err < 0) return errno;
  if (!move_to(null_fd, 0) || !move_to(out, 1) || !move_to(err, 2)) return errno;
  // Each distinct descriptor once: out and err may be null_fd, or each other.
  if (null_fd > 2) ::close(null_fd);
  if (out > 2 && out != null_fd) ::close(out);
  if (err > 2 && err != null_fd && err != out) ::close(err);
  return 0;
}

// Steps 1-4 and setsid (6) in the first child; returns only on success.
WELLD_CHILD_CODE void detach(const Plan& plan, int report_fd) noexcept {
  int keep_storage[64];
  size_t nkeep = 0;
  keep_storage[nkeep++] = report_fd;
  for (int fd : plan.keep) {
    if (nkeep < 64) keep_storage[nkeep++] = fd;
  }
  if (auto ec = close_inherited_fds(std::span<const int>(keep_storage, nkeep), plan.close_method)) {
    fail_and_exit(report_fd, Step::close_fds, ec.value());
  }
  if (auto ec = reset_signal_dispositions()) fail_and_exit(report_fd, Step::reset_signals, ec.value());
  if (auto ec = empty_signal_mask()) fail_and_exit(report_fd, Step::empty_signal_mask, ec.value());
  if (::setsid() < 0) fail_and_exit(report_fd, Step::setsid, errno);
}

// daemonize's first child: steps 1-7 by fork; returns only in the daemon.
void become_daemon(const Plan& plan, int report_fd) noexcept {
  detach(plan, report_fd);
  pid_t pid = ::fork();
  if (pid < 0) fail_and_exit(report_fd, Step::fork_again, errno);
  if (pid > 0) ::_exit(0);  // step 8: the session leader goes; init adopts the daemon
  send(report_fd, ReportKind::pid);
}

// Place the caller's fds at their numbers. The report pipe and every source
// are first moved above the highest target so no dup2 clobbers them.
WELLD_CHILD_CODE void apply_fd_map(const Plan& plan, int& report_fd) noexcept {
  if (plan.pass_fds.empty()) return;
  int top = report_fd;
  for (const auto& m : plan.pass_fds) top = m.to > top ? m.to : top;
  int moved = ::fcntl(report_fd, F_DUPFD_CLOEXEC, top + 1);
  if (moved < 0) fail_and_exit(report_fd, Step::close_fds, errno);
  ::close(report_fd);
  report_fd = moved;
  int temps[64];
  size_t n = 0;
  for (const auto& m : plan.pass_fds) {
    if (n == 64) break;
    temps[n] = ::fcntl(m.from, F_DUPFD_CLOEXEC, top + 1);
    if (temps[n] < 0) fail_and_exit(report_fd, Step::close_fds, errno);
    ++n;
  }
  for (const auto& m : plan.pass_fds) {
    if (m.from > 2) ::close(m.from);
  }
  for (size_t i = 0; i < n; ++i) {
    if (::dup2(temps[i], plan.pass_fds[i].to) < 0) fail_and_exit(report_fd, Step::close_fds, errno);
    ::close(temps[i]);
  }
}

void set_listen_pid(const Plan& plan) noexcept {
  if (!plan.listen_pid) return;
  for (char* entry : plan.envp) {
    if (entry == nullptr || std::strncmp(entry, "LISTEN_PID=", 11) != 0) continue;
    char digits[16];
    int n = 0;
    for (pid_t v = ::getpid(); v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
    char* out = entry + 11;
    while (n > 0) *out++ = digits[--n];
    *out = '\0';
  }
}

struct Failed {
  Step step = Step::none;
  int error = 0;
};

// After the PID file: chroot (with chdir inside it), limits and priority,
// then the privilege drop and no_new_privs. Also records in `own` where the
// PID file is, for its removal.
Failed confine(const Plan& plan, OwnPidfile& own) noexcept {
  if (!plan.pidfile.empty()) own.name = plan.pidfile.c_str();
  if (!plan.chroot.empty()) {
    if (!plan.pidfile.empty()) {
      // Keep a handle on the PID file's host directory across the chroot.
      size_t slash = plan.pidfile.rfind('/');
      std::string_view dir(plan.pidfile.c_str(), slash == 0 ? 1 : slash);
      char path[PATH_MAX];
      if (dir.size() >= sizeof path) return {Step::chroot, ENAMETOOLONG};
      std::memcpy(path, dir.data(), dir.size());
      path[dir.size()] = '\0';
      own.dir = ::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (own.dir < 0) return {Step::chroot, errno};
      own.name = plan.pidfile.c_str() + slash + 1;
    }
    if (::chroot(plan.chroot.c_str()) != 0) return {Step::chroot, errno};
    if (::chdir(plan.chdir.c_str()) != 0) return {Step::chdir, errno};
  }
  for (const auto& r : plan.rlimits) {
    rlimit lim{r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &lim) != 0) return {Step::limits, errno};
  }
  if (plan.set_nice && ::setpriority(PRIO_PROCESS, 0, plan.nice) != 0) return {Step::limits, errno};
  if (plan.drop) {
    if (auto ec = drop_privileges(plan.creds)) return {Step::drop_privileges, ec.value()};
  }
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
    return {Step::drop_privileges, errno};
  }
  return {};
}

// Steps 9-13 in the daemon.
WELLD_CHILD_CODE void settle_daemon(const Plan& plan, int report_fd, OwnPidfile& own) noexcept {
  if (int err = redirect_stdio(plan)) fail_and_exit(report_fd, Step::redirect_stdio, err);
  ::umask(plan.umask);
  // With a chroot the PID file is a host path: write it first, then enter.
  if (plan.chroot.empty() && ::chdir(plan.chdir.c_str()) != 0) fail_and_exit(report_fd, Step::chdir, errno);
  if (!plan.pidfile.empty()) {
    pid_t holder = -1;
    if (auto ec = write_pidfile(plan.pidfile.c_str(), ::getpid(), &holder)) {
      Report r{ReportKind::failed, static_cast<std::int32_t>(Step::pidfile), ec.value(), holder};
      while (::write(report_fd, &r, sizeof r) < 0 && errno == EINTR) {
      }
      ::_exit(1);
    }
  }
  if (auto [step, err] = confine(plan, own); step != Step::none) {
    own.remove();
    fail_and_exit(report_fd, step, err);
  }
}

// The daemon after it announced its PID: fds at their numbers, then steps 9-13.
void settle(const Plan& plan, int& report_fd, OwnPidfile& own) noexcept {
  apply_fd_map(plan, report_fd);
  set_listen_pid(plan);
  settle_daemon(plan, report_fd, own);
}

// Step 14 for spawn_daemon: the exec itself is the readiness (or its failure).
[[noreturn]] WELLD_CHILD_CODE void exec_program(const Plan& plan, int report_fd, const OwnPidfile& own) noexcept {
  send(report_fd, ReportKind::executing);
  ::execve(plan.exec_path.c_str(), plan.argv.data(), plan.sanitize_env ? plan.envp.data() : environ);
  int err = errno;
  own.remove();
  fail_and_exit(report_fd, Step::exec, err);
}

// ---- spawn_daemon's children: no copy of the caller's memory ------------------
//
// The intermediate and the daemon are created the way posix_spawn creates its
// child: clone(CLONE_VM | CLONE_VFORK) on stacks of their own. fork would copy
// the caller's page tables twice and the exec would tear the copy down again,
// all while the caller waits; here the caller sleeps in clone until the
// daemon has exec'd or failed, and nothing is copied. Sharing memory adds
// rules to async-signal-safety: the children write only their own stacks and
// the kernel's state (fds, credentials...), never the caller's objects or
// globals (environ; errno is shared with the sleeping caller, which ignores
// it), and they run with every signal blocked until step 2 has reset the
// handlers that live in the caller's memory. Credentials change through raw
// system calls (glibc's setuid would try to signal the caller's threads).

struct SpawnArgs {
  const Plan* plan;
  int report_fd;
  void* daemon_stack;  // top of the daemon's stack
};

// The children's two stacks, each above an inaccessible guard page. Made on
// the first spawn and kept for the life of the process (unmapping them would
// cost a TLB shootdown on every CPU the children ran on); one spawn at a time
// uses them.
constexpr size_t kGuardSize = 4096;
constexpr size_t kStackSize = size_t{256} * 1024;
constexpr size_t kStacksSize = 2 * (kGuardSize + kStackSize);
std::mutex g_stacks_lock;
char* g_stacks = nullptr;  // guarded by g_stacks_lock

// The stacks (with g_stacks_lock held), or nullptr with errno set.
char* child_stacks() noexcept {
  if (g_stacks != nullptr) return g_stacks;
  void* p = ::mmap(nullptr, kStacksSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* base = static_cast<char*>(p);
  if (::mprotect(base, kGuardSize, PROT_NONE) != 0 ||
      ::mprotect(base + kGuardSize + kStackSize, kGuardSize, PROT_NONE) != 0) {
    int err = errno;
    ::munmap(base, kStacksSize);
    errno = err;
    return nullptr;
  }
  g_stacks = base;
  return base;
}

// The top (stacks grow down) of stack 0 or 1.
void* stack_top(char* stacks, int i) noexcept {
  return stacks + static_cast<size_t>(i + 1) * (kGuardSize + kStackSize);
}

WELLD_CHILD_CODE int spawned_daemon(void* arg) noexcept {
  const auto& a = *static_cast<const SpawnArgs*>(arg);
  int report_fd = a.report_fd;
  send(report_fd, ReportKind::pid);
  OwnPidfile own;
  settle(*a.plan, report_fd, own);
  exec_program(*a.plan, report_fd, own);
}

WELLD_CHILD_CODE int spawned_intermediate(void* arg) noexcept {
  const auto& a = *static_cast<const SpawnArgs*>(arg);
  detach(*a.plan, a.report_fd);  // its close-fds step also closes the caller's end of the pipe
  pid_t pid = ::clone(spawned_daemon, a.daemon_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
  if (pid < 0) fail_and_exit(a.report_fd, Step::fork_again, errno);
  ::_exit(0);  // step 8, once the daemon has exec'd (or failed)
}

// ---- the original process -------------------------------------------------

class SubreaperScope {
 public:
  explicit SubreaperScope(bool enable) {
    if (!enable) return;
    int previous = 0;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &previous) == 0 && previous == 0 && ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
      active_ = true;
    }
  }
  ~SubreaperScope() {
    if (active_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  SubreaperScope(const SubreaperScope&) = delete;
  SubreaperScope& operator=(const SubreaperScope&) = delete;
  SubreaperScope(SubreaperScope&&) = delete;
  SubreaperScope& operator=(SubreaperScope&&) = delete;
  bool active() const noexcept { return active_; }

 private:
  bool active_ = false;
};

pid_t wait_child(pid_t pid, int* status) {
  int ws = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &ws, 0);
  } while (r < 0 && errno == EINTR);
  if (status != nullptr) *status = ws;
  return r;
}

// Wait (bounded) until a non-child `pid` is gone, so that "nothing is left
// behind" holds when daemonize returns.
void wait_gone(pid_t pid) {
  int fd = sys::pidfd_open(pid, 0);
  if (fd < 0) return;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 10000) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

bool read_report(int fd, Report& r) {
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&r);
  while (got < sizeof r) {
    ssize_t n = ::read(fd, bytes + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

std::string subject_for(Step step, const Plan& plan) {
  switch (step) {
    case Step::pidfile: return plan.pidfile;
    case Step::chdir: return plan.chdir;
    case Step::chroot: return plan.chroot;
    case Step::limits: return "the daemon";
    case Step::redirect_stdio:
      return plan.stdout_path.empty() ? (plan.stderr_path.empty() ? "/dev/null" : plan.stderr_path) : plan.stdout_path;
    case Step::drop_privileges: return plan.creds.user;
    case Step::exec: return plan.argv_strings.empty() ? "" : plan.argv_strings.front();
    default: return "";
  }
}

// Read the daemon's reports until the final one (or EOF) and tidy up.
Status collect(const Plan& plan, int read_fd, pid_t intermediate, bool reaping, bool exec_mode) {
  Status st;
  bool final_seen = false;
  bool executing = false;
  Report r{};
  while (!final_seen && read_report(read_fd, r)) {
    switch (r.kind) {
      case ReportKind::pid: st.pid = r.pid; break;
      case ReportKind::executing: executing = true; break;
      case ReportKind::initialized: final_seen = true; break;
      case ReportKind::failed:
        final_seen = true;
        st.step = static_cast<Step>(r.step);
        st.error = r.error;
        if (st.step == Step::pidfile && r.error == EEXIST) {
          st.holder = r.pid;
        } else if (st.pid < 0 && r.pid > 0 && r.pid != intermediate) {
          st.pid = r.pid;
        }
        st.subject = subject_for(st.step, plan);
        break;
    }
  }
  if (final_seen && st.step == Step::none) {
    // The daemon closes its end right after "initialized": wait for that EOF
    // so it holds no fd of ours when we return. Bounded, because children
    // that init forked (without exec) share the descriptor.
    pollfd p{read_fd, POLLIN, 0};
    while (::poll(&p, 1, 1000) > 0 && read_report(read_fd, r)) {
    }
  }
  int intermediate_status = 0;
  wait_child(intermediate, &intermediate_status);
  bool ok = final_seen ? st.step == Step::none : (exec_mode && executing);
  if (ok) return st;
  if (!final_seen) {
    // The daemon (or the intermediate) died without a word.
    st.step = Step::daemon_died;
    st.error = 0;
    if (st.pid < 0) st.wait_status = intermediate_status;
  }
  if (st.pid < 0) return st;
  // The daemon exits right after a reported failure: wait until it has.
  if (reaping) {
    wait_child(st.pid, final_seen ? nullptr : &st.wait_status);
  } else {
    wait_gone(st.pid);
  }
  // Its PID file may remain: the daemon was killed between creating and
  // removing it, or had dropped to a user who cannot remove it. Ours to remove.
  if (!plan.pidfile.empty() && process_start_time(st.pid) == 0) {
    remove_abandoned_pidfile(plan.pidfile.c_str(), st.pid);
  }
  return st;
}

Status run_daemon(const Plan& plan, const InitFn& init, const RunFn& run, bool collect_status) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure(Step::fork, errno, "status pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SubreaperScope subreaper(collect_status);
  pid_t child = ::fork();  // step 5
  if (child < 0) return failure(Step::fork, errno, "");
  if (child == 0) {
    int report_fd = write_end.get();
    ::close(read_end.release());
    become_daemon(plan, report_fd);
    OwnPidfile own;
    settle(plan, report_fd, own);
    if (plan.sanitize_env) environ = const_cast<char**>(plan.envp.data());
    int code = init ? init() : 0;
    if (code != 0) {
      own.remove();
      fail_and_exit(report_fd, Step::init, code);
    }
    send(report_fd, ReportKind::initialized);  // step 14
    ::close(report_fd);
    int status = run ? run() : 0;
    own.remove();
    std::exit(status);
  }
  write_end.reset();
  return collect(plan, read_end.get(), child, subreaper.active(), false);
}

Status run_spawned_daemon(const Plan& plan, bool collect_status) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure(Step::fork, errno, "status pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SubreaperScope subreaper(collect_status);
  pid_t child = -1;
  int err = 0;
  {
    std::lock_guard lock(g_stacks_lock);
    char* stacks = child_stacks();
    if (stacks == nullptr) return failure(Step::fork, errno, "stacks for the children");
    SpawnArgs args{&plan, write_end.get(), stack_top(stacks, 1)};
    sigset_t all;
    sigset_t old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // Step 5. Returns once the intermediate has exited, after the daemon's exec.
    child = ::clone(spawned_intermediate, stack_top(stacks, 0), CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    // The children ended inside their frames: their stack poisoning must not outlive them.
    ASAN_UNPOISON_MEMORY_REGION(stacks, kStacksSize);
  }
  if (child < 0) return failure(Step::fork, err, "");
  write_end.reset();
  return collect(plan, read_end.get(), child, subreaper.active(), true);
}

std::string describe_wait_status(int ws) {
  if (WIFEXITED(ws)) return "exited with status " + std::to_string(WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) {
    const char* name = ::sigabbrev_np(WTERMSIG(ws));
    return "was killed by signal " + std::to_string(WTERMSIG(ws)) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended (status unknown)";
}

}  // namespace

std::string Status::message() const {
  if (step == Step::none) return "ok";
  std::string sys = std::system_category().message(error);
  if (!detail.empty()) {
    std::string what = step == Step::pidfile ? "PID file " : step == Step::redirect_stdio ? "log file " : "";
    return "refusing " + what + subject + ": " + detail;
  }
  switch (step) {
    case Step::pidfile:
      if (error == EEXIST) {
        return holder > 0 ? "already running (pid " + std::to_string(holder) + ")" : "already running";
      }
      if (error == ELOOP) return "refusing PID file " + subject + ": it is a symbolic link";
      if (error == EINVAL) return "refusing PID file " + subject + ": not a regular file";
      return "cannot write the PID file " + subject + ": " + sys;
    case Step::prepare: return subject;
    case Step::fork:
      // The subject names what was being prepared for the fork: "status pipe".
      if (!subject.empty()) return "cannot fork: cannot create the " + subject + ": " + sys;
      return "cannot fork: " + sys;
    case Step::init: return "initialization failed with code " + std::to_string(error);
    case Step::exec: return "cannot execute " + subject + ": " + sys;
    case Step::daemon_died: {
      std::string who = pid > 0 ? "the daemon (pid " + std::to_string(pid) + ")" : "the daemon";
      std::string how = wait_status >= 0 ? describe_wait_status(wait_status) : "died";
      return who + " " + how + " before it was initialized";
    }
    case Step::drop_privileges:
      if (error == ENOENT) return subject;  // "unknown user 'x'" from resolution
      return "cannot drop privileges to " + subject + ": " + sys;
    default: return "cannot " + std::string(describe(step)) + (subject.empty() ? "" : " " + subject) + ": " + sys;
  }
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

Status daemonize(const Options& options, const InitFn& init, const RunFn& run) {
  Plan plan;
  if (auto bad = make_plan(options, plan)) return *bad;
  return run_daemon(plan, init, run, options.collect_exit_status);
}

Status spawn_daemon(const Options& options, const std::vector<std::string>& argv) {
  Plan plan;
  if (auto bad = make_plan(options, plan)) return *bad;
  if (auto bad = plan_exec(argv, plan)) return *bad;
  return run_spawned_daemon(plan, options.collect_exit_status);
}

Status run_foreground(const Options& options, const InitFn& init, const RunFn& run, int* exit_status) {
  Options fg = options;
  fg.stdout_path.clear();
  fg.stderr_path.clear();
  Plan plan;
  if (auto bad = make_plan(fg, plan)) return *bad;
  if (!options.chdir.empty() && plan.chroot.empty() && ::chdir(plan.chdir.c_str()) != 0) {
    return failure(Step::chdir, errno, plan.chdir);
  }
  if (options.umask) ::umask(plan.umask);
  if (!plan.pidfile.empty()) {
    pid_t holder = -1;
    if (auto ec = write_pidfile(plan.pidfile.c_str(), ::getpid(), &holder)) {
      Status st = failure(Step::pidfile, ec.value(), plan.pidfile);
      st.holder = holder;
      return st;
    }
  }
  OwnPidfile own;
  if (auto [step, err] = confine(plan, own); step != Step::none) {
    own.remove();
    return failure(step, err, subject_for(step, plan));
  }
  int code = init ? init() : 0;
  if (code != 0) {
    own.remove();
    notify("ERRNO=" + std::to_string(code));
    return failure(Step::init, code, "");
  }
  notify(notify_state::ready);
  int status = run ? run() : 0;
  notify(notify_state::stopping);
  own.remove();
  if (exit_status != nullptr) *exit_status = status;
  Status st;
  st.pid = ::getpid();
  return st;
}

}  // namespace welld
