// The plan: validation of the options, then what they resolve to (paths,
// trusted directories, identity, environment, the program), all before the
// first fork. Everything here may allocate and look things up; nothing here
// runs after a fork.
#include "daemon_plan.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "welld/path.hpp"
#include "welld/pidfile.hpp"
#include "welld/privileges.hpp"
#include "welld/process.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace welld::detail {
namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A file welld creates or appends to on the daemon's behalf must sit in a
// directory chain that nobody but root and the caller can change (see
// pidfile.hpp, "Trust"): otherwise its name could be swapped for a symlink, a
// hard link or another daemon's file. The directory is opened here, before the
// fork, and the daemon works through that fd. A sticky directory (/tmp) is
// fine for a file that is absent or ours; the daemon checks that again on the
// file it opens, since others can create the name in between.
std::optional<Status> open_location(Step step, const std::string& path, UniqueFd& dir, std::string& name) {
  std::string parent = parent_directory(path);
  name = base_name(path);
  if (name.empty() || name == "." || name == "..") return failure(step, EINVAL, path);
  DirTrust why;
  dir = UniqueFd(open_trusted_dir(parent.c_str(), &why));
  if (!dir) {
    Status st = failure(step, why.error, path);
    if (why.problem != DirTrust::Problem::none) st.detail = describe(why);
    return st;
  }
  struct stat dir_st {};
  struct stat f {};
  if (::fstat(dir.get(), &dir_st) != 0) return failure(step, errno, path);
  if (::fstatat(dir.get(), name.c_str(), &f, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return failure(step, errno, path);
  }
  if (!S_ISREG(f.st_mode)) {
    Status st = failure(step, S_ISLNK(f.st_mode) ? ELOOP : EINVAL, path);
    st.detail = S_ISLNK(f.st_mode) ? "it is a symbolic link" : "it is not a regular file";
    return st;
  }
  bool sticky_shared = (dir_st.st_mode & S_ISVTX) != 0 && (dir_st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (sticky_shared && f.st_uid != 0 && f.st_uid != ::geteuid()) {
    Status st = failure(step, EPERM, path);
    st.detail = "it belongs to uid " + std::to_string(f.st_uid) + " in a sticky directory others can write";
    return st;
  }
  // Unlinked between the name's lookup and the stat (a stop removing a stale
  // file): nothing is there now. The daemon checks again on what it opens.
  if (f.st_nlink == 0) return std::nullopt;
  if (f.st_nlink != 1) {
    Status st = failure(step, EMLINK, path);
    st.detail = "it has other hard links, which would be written through";
    return st;
  }
  return std::nullopt;
}

// Keep `fd` above every number the daemon's passed fds go to, so that placing
// them (apply_fd_map) never replaces it; and through step 1's close.
std::optional<Status> reserve_fd(Step step, UniqueFd& fd, Plan& plan, const std::string& subject) {
  if (!fd) return std::nullopt;
  int top = 2;
  for (const auto& m : plan.pass_fds) top = m.to > top ? m.to : top;
  if (fd.get() <= top) {
    UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, top + 1));
    if (!moved) return failure(step, errno, subject);
    fd = std::move(moved);
  }
  plan.keep.push_back(fd.get());
  return std::nullopt;
}
}  // namespace

Status failure(Step step, int error, std::string subject) {
  Status st;
  st.step = step;
  st.error = error;
  st.subject = std::move(subject);
  return st;
}

Status refusal(int error, std::string why) {
  Status st = failure(Step::prepare, error, "");
  st.detail = std::move(why);
  return st;
}

namespace {

// The fds to keep and to pass: 3 or more, at most kMaxKeptFds; null when fine.
const char* fds_problem(const Options& o) {
  for (const auto& m : o.pass_fds) {
    if (m.from < 0 || m.to < 3) return "passed fds must go to 3 or more";
  }
  if (o.keep_fds.size() + o.pass_fds.size() > kMaxKeptFds) return "too many fds to keep";
  return nullptr;
}

// What only a child that stays the caller's may ask for, and the stdio fds:
// null when fine.
const char* foreground_problem(const Options& o) {
  if (o.stdout_fd < -1 || o.stderr_fd < -1) return "a stdout or stderr fd must be -1 (none) or an open fd";
  if (o.stdout_fd >= 0 && !o.stdout_path.empty()) return "stdout was given both as an fd and as a path";
  if (o.stderr_fd >= 0 && !o.stderr_path.empty()) return "stderr was given both as an fd and as a path";
  if (o.parent_death_signal < 0 || o.parent_death_signal >= NSIG) return "the parent death signal is not a signal";
  if (!o.detach) return nullptr;
  if (o.session != SessionMode::new_session) return "a detached daemon always gets a new session";
  if (o.parent_death_signal != 0) return "a parent death signal needs a child that stays the caller's (no detach)";
  if (o.inherit_stdio) return "inheriting stdio needs a child that stays the caller's (no detach)";
  return nullptr;
}

}  // namespace

std::optional<Status> validate_options(const Options& o) {
  auto invalid = [](const char* why) { return refusal(EINVAL, why); };
  if (!o.group.empty() && o.user.empty()) return invalid("a group was given without a user");
  for (int fd : o.keep_fds) {
    if (fd < 3) return invalid("fds to keep must be 3 or more");
  }
  for (const auto& s : o.environment.set) {
    if (!valid_assignment(s)) return refusal(EINVAL, "not NAME=VALUE: '" + s + "'");
  }
  if (o.umask.value_or(0) > 0777) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "0%o", static_cast<unsigned>(*o.umask));
    Status st = failure(Step::set_umask, EINVAL, octal);
    st.detail = "out of range (at most 0777)";
    return st;
  }
  if (const char* problem = fds_problem(o)) return invalid(problem);
  if (!o.chroot.empty() && !o.chdir.empty() && o.chdir.front() != '/') {
    return invalid("with a chroot, the working directory must be absolute");
  }
  int nice = o.nice.value_or(0);
  if (nice < -20 || nice > 19) return invalid("nice must be between -20 and 19");
  for (const auto& r : o.rlimits) {
    if (r.resource < 0 || r.resource >= RLIM_NLIMITS || (r.hard != RLIM_INFINITY && r.soft > r.hard)) {
      return invalid("invalid resource limit");
    }
  }
  if (!o.keep_caps.empty() && o.user.empty()) {
    return invalid("capabilities can only be kept across a user switch (no user given)");
  }
  if (o.supplementary_groups && o.user.empty()) return invalid("supplementary groups were given without a user");
  if (const char* problem = foreground_problem(o)) return invalid(problem);
  return std::nullopt;
}

namespace {

// The PID file, the logs, the chroot and the working directory as absolute
// paths; the chroot and the working directory (as the daemon will see it)
// must be directories.
std::optional<Status> resolve_paths(const Options& o, Plan& plan) {
  auto unnamed_cwd = [](Step step, const std::string& path) {
    Status st = failure(step, errno, path);
    st.detail = "it is relative and the current directory cannot be named (" + std::system_category().message(errno) +
                ")";
    return st;
  };
  if (make_absolute(o.pidfile, plan.pidfile)) return unnamed_cwd(Step::pidfile, o.pidfile);
  if (make_absolute(o.stdout_path, plan.stdout_path)) return unnamed_cwd(Step::redirect_stdio, o.stdout_path);
  if (make_absolute(o.stderr_path, plan.stderr_path)) return unnamed_cwd(Step::redirect_stdio, o.stderr_path);
  if (!o.chdir.empty() && make_absolute(o.chdir, plan.chdir)) return unnamed_cwd(Step::chdir, o.chdir);
  struct stat st {};
  if (make_absolute(o.chroot, plan.chroot)) return unnamed_cwd(Step::chroot, o.chroot);
  if (!plan.chroot.empty()) {
    if (::stat(plan.chroot.c_str(), &st) != 0) return failure(Step::chroot, errno, plan.chroot);
    if (!S_ISDIR(st.st_mode)) return failure(Step::chroot, ENOTDIR, plan.chroot);
    plan.chdir = o.chdir.empty() ? "/" : o.chdir;
  }
  std::string chdir_seen = plan.chroot + plan.chdir;
  if (::stat(chdir_seen.c_str(), &st) != 0) return failure(Step::chdir, errno, chdir_seen);
  if (!S_ISDIR(st.st_mode)) return failure(Step::chdir, ENOTDIR, chdir_seen);
  return std::nullopt;
}

// The trusted directories of the PID file and the logs, opened now and kept
// above the fds the daemon is passed.
std::optional<Status> open_locations(Plan& plan) {
  if (!plan.pidfile.empty()) {
    if (auto bad = open_location(Step::pidfile, plan.pidfile, plan.pidfile_dir, plan.pidfile_name)) return bad;
    if (auto bad = reserve_fd(Step::pidfile, plan.pidfile_dir, plan, plan.pidfile)) return bad;
  }
  if (!plan.stdout_path.empty()) {
    if (auto bad = open_location(Step::redirect_stdio, plan.stdout_path, plan.stdout_dir, plan.stdout_name)) {
      return bad;
    }
    if (auto bad = reserve_fd(Step::redirect_stdio, plan.stdout_dir, plan, plan.stdout_path)) return bad;
  }
  if (!plan.stderr_path.empty() && plan.stderr_path != plan.stdout_path) {
    if (auto bad = open_location(Step::redirect_stdio, plan.stderr_path, plan.stderr_dir, plan.stderr_name)) {
      return bad;
    }
    if (auto bad = reserve_fd(Step::redirect_stdio, plan.stderr_dir, plan, plan.stderr_path)) return bad;
  }
  return std::nullopt;
}

// A copy of the caller's stdout or stderr fd `from` (-1: none), kept above the
// passed fds and through step 1 (the caller's own fd is never touched).
std::optional<Status> copy_stdio_fd(int from, UniqueFd& copy, Plan& plan) {
  if (from < 0) return std::nullopt;
  std::string subject = "fd " + std::to_string(from);
  copy = UniqueFd(::fcntl(from, F_DUPFD_CLOEXEC, 3));
  if (!copy) return failure(Step::redirect_stdio, errno, subject);
  return reserve_fd(Step::redirect_stdio, copy, plan, subject);
}

// The user, groups and capabilities to switch to (NSS is not
// async-signal-safe: looked up now), and the user's identity variables for
// the environment, unless the caller set them explicitly.
std::optional<Status> resolve_identity(const Options& o, Plan& plan, EnvironmentPolicy& policy) {
  if (o.user.empty()) return std::nullopt;
  std::string what;
  // A numeric id out of range (EINVAL) is a usage error, like a bad option.
  // The subject names the user; why it failed is prose, in the detail.
  auto unresolved = [&](std::error_code ec) {
    Status st = failure(ec.value() == EINVAL ? Step::prepare : Step::drop_privileges, ec.value(), o.user);
    st.detail = what;
    return st;
  };
  if (auto ec = resolve_credentials(o.user, o.group, plan.creds, &what)) return unresolved(ec);
  if (o.supplementary_groups) {
    if (auto ec = resolve_groups(*o.supplementary_groups, plan.creds.groups, &what)) return unresolved(ec);
  }
  if (auto ec = resolve_capabilities(o.keep_caps, plan.creds.keep_caps, &what)) {
    return refusal(ec.value(), what);
  }
  plan.drop = true;
  std::vector<std::string> identity = {"HOME=" + plan.creds.home, "USER=" + plan.creds.user,
                                       "LOGNAME=" + plan.creds.user, "SHELL=" + plan.creds.shell};
  policy.set.insert(policy.set.begin(), identity.begin(), identity.end());
  return std::nullopt;
}

// Step 4's result, computed now: the daemon's whole environment.
void plan_environment(const Options& o, Plan& plan, EnvironmentPolicy policy) {
  if (plan.listen_pid) {
    // Its value is the daemon's PID, known only after the second fork: the
    // daemon writes this entry in its own memory (see after_fork.hpp).
    policy.set.emplace_back("LISTEN_PID=0000000000");
  }
  if (plan.watchdog_pid) policy.set.emplace_back("WATCHDOG_PID=0000000000");  // the same, for sd_watchdog_enabled
  plan.sanitize_env = !o.keep_environment || plan.listen_pid || plan.watchdog_pid;
  if (plan.sanitize_env) {
    if (o.keep_environment) policy.inherit = true;
    plan.env_strings = sanitized_environment(policy, environ);
    plan.envp = pointers(plan.env_strings);
  }
}

}  // namespace

std::optional<Status> make_plan(const Options& o, Plan& plan) {
  if (auto bad = validate_options(o)) return bad;
  if (auto bad = resolve_paths(o, plan)) return bad;
  plan.umask = o.umask.value_or(0);
  plan.keep = o.keep_fds;
  plan.pass_fds = o.pass_fds;
  for (const auto& m : o.pass_fds) plan.keep.push_back(m.from);
  plan.listen_pid = o.listen_pid;
  plan.watchdog_pid = o.watchdog_pid;
  plan.close_method = o.close_method;
  if (auto bad = open_locations(plan)) return bad;
  if (auto bad = copy_stdio_fd(o.stdout_fd, plan.stdout_fd, plan)) return bad;
  if (auto bad = copy_stdio_fd(o.stderr_fd, plan.stderr_fd, plan)) return bad;
  plan.inherit_stdio = o.inherit_stdio;
  plan.detach = o.detach;
  plan.session = o.session;
  plan.parent_death_signal = o.parent_death_signal;
  plan.no_new_privs = o.no_new_privs;
  plan.set_nice = o.nice.has_value();
  plan.nice = o.nice.value_or(0);
  plan.rlimits = o.rlimits;
  EnvironmentPolicy policy = o.environment;
  if (auto bad = resolve_identity(o, plan, policy)) return bad;
  plan_environment(o, plan, std::move(policy));
  return std::nullopt;
}

// The stop settings to record, and (for a daemon that forks, with a PID
// file) its own cgroup: created now, below the caller's cgroup v2, when there
// is one and the caller may create it; otherwise stop falls back to the
// session (see control.hpp). Never fails: no cgroup is a documented fallback.
void plan_service(const Options& o, Plan& plan, bool with_cgroup) {
  if (plan.pidfile.empty()) return;
  plan.service.stop_signal = o.stop_signal > 0 && o.stop_signal <= 64 ? o.stop_signal : 0;
  plan.service.stop_timeout_ms = o.stop_timeout.count() > 0 ? static_cast<unsigned long long>(o.stop_timeout.count())
                                                            : 0;
  plan.service.reload_signal = o.reload_signal > 0 && o.reload_signal <= 64 ? o.reload_signal : 0;
  if (!with_cgroup) return;
  std::string mount = cgroup2_mount();
  std::string own = process_cgroup(0);
  if (mount.empty() || own.empty() || own.front() != '/' || own.find('\n') != std::string::npos) return;
  if (own.back() == '/') own.pop_back();
  static std::atomic<unsigned> counter{0};
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  for (int attempt = 0; attempt < 8; ++attempt) {
    // Never an existing directory (EEXIST): only one this call created is ours.
    std::string path = own + "/welld-" + std::to_string(::getpid()) + "-" + std::to_string(now.tv_nsec) + "-" +
                       std::to_string(counter.fetch_add(1));
    if (path.size() >= kCgroupPathMax) return;
    std::string dir = mount + path;
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno == EEXIST) continue;
      return;  // EACCES (not delegated to us), EROFS, ENOENT...: the session fallback
    }
    plan.cgroup.dir = dir;
    plan.cgroup.path = path;
    plan.cgroup.procs = UniqueFd(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!plan.cgroup.procs || reserve_fd(Step::prepare, plan.cgroup.procs, plan, dir)) {
      plan.cgroup.procs.reset();
      return;  // the destructor removes the directory
    }
    std::memcpy(plan.service.cgroup, path.c_str(), path.size() + 1);
    return;
  }
}

namespace {

// The daemon's PATH: the plan's environment's, else the caller's, else the default.
std::string daemon_path(const Plan& plan) {
  std::string path_env = std::string(kDefaultPath);
  char* const* env = plan.sanitize_env ? plan.envp.data() : environ;
  for (char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) path_env = *e + 5;
  }
  return path_env;
}

// `program` found inside the new root: absolute names and PATH entries are
// chroot-relative. The path as the daemon sees it (after chroot), or empty
// with `err` set.
std::string resolve_in_chroot(const std::string& program, const std::string& path_env, const Plan& plan, int& err) {
  std::string rooted_path;
  for (size_t start = 0; start <= path_env.size();) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && dir.front() == '/') rooted_path += (rooted_path.empty() ? "" : ":") + plan.chroot + dir;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  std::string name = program.front() == '/' ? plan.chroot + program : program;
  std::string found = resolve_executable(name, rooted_path, err);
  return found.empty() ? found : found.substr(plan.chroot.size());
}

}  // namespace

std::optional<Status> plan_exec(const std::vector<std::string>& argv, Plan& plan) {
  if (argv.empty() || argv.front().empty()) {
    return refusal(EINVAL, "no command to execute");
  }
  std::string path_env = daemon_path(plan);
  int err = 0;
  if (plan.chroot.empty()) {
    if (make_absolute(resolve_executable(argv.front(), path_env, err), plan.exec_path)) {
      return failure(Step::exec, errno, argv.front());
    }
  } else {
    if (argv.front().find('/') != std::string::npos && argv.front().front() != '/') {
      return refusal(EINVAL, "with a chroot, the program path must be absolute or a bare name");
    }
    plan.exec_path = resolve_in_chroot(argv.front(), path_env, plan, err);
  }
  if (plan.exec_path.empty()) return failure(Step::exec, err, argv.front());
  plan.argv_strings = argv;
  plan.argv = pointers(plan.argv_strings);
  return std::nullopt;
}

// Step 4 reaches the original environment block too: the bytes of every
// dropped variable there, which /proc/PID/environ shows, are found now (this
// allocates) and overwritten in the process that keeps running.
std::optional<Status> plan_scrub(Plan& plan) {
  if (!plan.sanitize_env) return std::nullopt;
  if (auto ec = dropped_environment_ranges(plan.env_strings, plan.env_scrub)) {
    return failure(Step::sanitize_environment, ec.value(), "/proc/self/stat");
  }
  return std::nullopt;
}

std::string subject_for(Step step, const Plan& plan) {
  switch (step) {
    case Step::pidfile: return plan.pidfile;
    case Step::chdir: return plan.chdir;
    case Step::chroot: return plan.chroot;
    case Step::limits: return "the daemon";
    case Step::redirect_stdio:
      if (!plan.stdout_path.empty()) return plan.stdout_path;
      if (!plan.stderr_path.empty()) return plan.stderr_path;
      return plan.stdout_fd || plan.stderr_fd ? "the caller's fd" : "/dev/null";
    case Step::drop_privileges: return plan.creds.user;
    case Step::exec: return plan.argv_strings.empty() ? "" : plan.argv_strings.front();
    default: return "";
  }
}

}  // namespace welld::detail
