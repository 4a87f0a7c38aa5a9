// The plan: everything daemonize, spawn_daemon and run_foreground's daemon
// needs, computed in the calling process before the first fork. After the
// fork the children only read it (see after_fork.hpp).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "welld/daemon.hpp"
#include "welld/environment.hpp"
#include "welld/fds.hpp"
#include "welld/pidfile.hpp"
#include "welld/privileges.hpp"
#include "welld/unique_fd.hpp"

namespace welld::detail {

// The service's own cgroup v2, created below the caller's before the fork.
// Removed when the plan goes if it is empty by then (rmdir fails with EBUSY
// while the daemon lives in it: then stop_process removes it later).
struct ServiceCgroup {
  std::string dir;   // absolute directory (mount point + path)
  std::string path;  // relative to the cgroup2 mount, as recorded
  UniqueFd procs;    // its cgroup.procs, open for writing: the daemon moves itself with it

  ServiceCgroup() = default;
  ServiceCgroup(const ServiceCgroup&) = delete;
  ServiceCgroup& operator=(const ServiceCgroup&) = delete;
  ServiceCgroup(ServiceCgroup&&) = delete;
  ServiceCgroup& operator=(ServiceCgroup&&) = delete;
  ~ServiceCgroup() {
    procs.reset();
    if (!dir.empty()) ::rmdir(dir.c_str());
  }
};

// Everything the daemon needs, computed before fork.
struct Plan {
  std::string pidfile;
  std::string chdir = "/";
  mode_t umask = 0;
  // The directories of the PID file and the logs, opened as trusted chains
  // before the fork (open_trusted_dir), and the names in them: the daemon
  // writes and opens through these fds, so what was checked is what is used.
  UniqueFd pidfile_dir;
  UniqueFd stdout_dir;
  UniqueFd stderr_dir;
  std::string pidfile_name;
  std::string stdout_name;
  std::string stderr_name;
  std::string stdout_path;
  std::string stderr_path;
  // Copies of Options::stdout_fd / stderr_fd, above every passed fd's number
  // and kept through step 1; step 9 puts them at 1 and 2.
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
  bool inherit_stdio = false;
  // One child that stays the caller's (detach false), its step 6, and the
  // signal it gets when the caller dies (0: none).
  bool detach = true;
  SessionMode session = SessionMode::new_session;
  int parent_death_signal = 0;
  bool sanitize_env = true;
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  std::vector<ByteRange> env_scrub;  // bytes of the original block to overwrite (daemonize)
  std::vector<int> keep;
  std::vector<FdMapping> pass_fds;
  bool listen_pid = false;
  bool watchdog_pid = false;
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
  // Recorded beside the PID file's identity: the stop settings, and the cgroup
  // once the daemon is in it (the daemon adds its session).
  ServiceRecord service;
  ServiceCgroup cgroup;
};

// The most fds the daemon keeps open across step 1 (Options::keep_fds and the
// sources of Options::pass_fds together).
inline constexpr size_t kMaxKeptFds = 60;

Status failure(Step step, int error, std::string subject);
// A plan welld refuses (Step::prepare): the reason is prose, so it goes in
// Status::detail; there is no subject to name.
Status refusal(int error, std::string why);

// The checks on `options` alone, before anything is looked up: no system
// call, no environment, no file system. The first problem found, as a Status
// whose step is prepare (or set_umask) and whose subject says what is wrong.
std::optional<Status> validate_options(const Options& options);

// The whole plan for `options`: validate_options, then the paths (made
// absolute, the chroot and working directory checked), the trusted
// directories of the PID file and the logs, the user and group, and the
// daemon's environment.
std::optional<Status> make_plan(const Options& o, Plan& plan);

// spawn_daemon's program: resolved on the daemon's PATH (inside the chroot
// when there is one).
std::optional<Status> plan_exec(const std::vector<std::string>& argv, Plan& plan);

// The stop settings to record beside the PID file and, `with_cgroup`, the
// service's own cgroup. Never fails: no cgroup is a documented fallback.
void plan_service(const Options& o, Plan& plan, bool with_cgroup);

// The bytes of the original environment block step 4 overwrites (daemonize
// and run_foreground, which keep running in this process image).
std::optional<Status> plan_scrub(Plan& plan);

// What a failed step's message names (the PID file, the directory, the user...).
std::string subject_for(Step step, const Plan& plan);

}  // namespace welld::detail
