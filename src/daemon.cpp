// daemonize / spawn_daemon / run_foreground: the fifteen steps in one code path.
//
// Everything the daemon needs is prepared before the first fork (the Plan,
// daemon_plan.cpp). After fork only async-signal-safe calls are made until
// the caller's own init/run (after_fork.cpp); spawn_daemon's children are
// made by clone (spawn_clone.cpp). Here: the public entry points and the
// original process's half, which reads the daemon's reports. Status travels
// back over a close-on-exec pipe as fixed-size Reports; a Report is smaller
// than PIPE_BUF, so each write is atomic.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "after_fork.hpp"
#include "daemon_plan.hpp"
#include "spawn_clone.hpp"
#include "wait_status.hpp"
#include "welld/daemon.hpp"
#include "welld/notify.hpp"
#include "welld/path.hpp"
#include "welld/pidfile.hpp"
#include "welld/process.hpp"
#include "welld/unique_fd.hpp"

// POSIX asks programs to declare environ; <unistd.h> does only under _GNU_SOURCE.
extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace welld {
namespace {

using detail::arm_parent_death_signal;
using detail::become_daemon;
using detail::clone_daemon;
using detail::confine;
using detail::fail_and_exit;
using detail::failure;
using detail::make_plan;
using detail::OwnPidfile;
using detail::Plan;
using detail::plan_exec;
using detail::plan_scrub;
using detail::plan_service;
using detail::Report;
using detail::ReportKind;
using detail::send;
using detail::set_own_pid_entries;
using detail::settle;
using detail::subject_for;

// ---- the original process -------------------------------------------------

class SubreaperScope {
 public:
  explicit SubreaperScope(bool enable) {
    if (!enable) return;
    int previous = 0;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &previous) != 0) return;
    // A caller that already is a subreaper (welld start, for its whole wait)
    // adopts the daemon all the same: it can reap it; it keeps the setting.
    if (previous != 0) {
      active_ = true;
    } else if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
      active_ = set_ = true;
    }
  }
  ~SubreaperScope() {
    if (set_) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  SubreaperScope(const SubreaperScope&) = delete;
  SubreaperScope& operator=(const SubreaperScope&) = delete;
  SubreaperScope(SubreaperScope&&) = delete;
  SubreaperScope& operator=(SubreaperScope&&) = delete;
  bool active() const noexcept { return active_; }

 private:
  bool active_ = false;
  bool set_ = false;
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
// behind" holds when daemonize returns. By its pidfd, or without pidfd_open by
// its /proc/PID directory (which does not poll: Process::wait_exit looks).
void wait_gone(pid_t pid) {
  Process p;
  if (Process::open(pid, 0, p)) return;  // already gone (or a zombie)
  p.wait_exit(std::chrono::seconds(10));
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

// What ends the wait successfully: daemonize's daemon reports "initialized";
// spawn_daemon's reports "executing" and its exec closes the pipe.
enum class Success { initialized, executed };

// Who the daemon's parent is once the intermediate exits: the caller (a
// subreaper, so the daemon is reaped with waitpid), or init (waited for by
// pidfd until it is gone).
enum class Adopter { caller, init };

// What the reports said: the status so far, whether a final report (initialized
// or failed) came, and whether the daemon was about to exec.
struct Reports {
  Status st;
  bool final_seen = false;
  bool executing = false;
};

// Read the daemon's reports until the final one (or EOF).
Reports read_reports(const Plan& plan, int read_fd, pid_t intermediate) {
  Reports got;
  Status& st = got.st;
  Report r{};
  while (!got.final_seen && read_report(read_fd, r)) {
    switch (r.kind) {
      case ReportKind::pid: st.pid = r.pid; break;
      case ReportKind::executing: got.executing = true; break;
      case ReportKind::initialized: got.final_seen = true; break;
      case ReportKind::failed:
        got.final_seen = true;
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
  if (got.final_seen && st.step == Step::none) {
    // The daemon closes its end right after "initialized": wait for that EOF
    // so it holds no fd of ours when we return. Bounded, because children
    // that init forked (without exec) share the descriptor.
    pollfd p{read_fd, POLLIN, 0};
    while (::poll(&p, 1, 1000) > 0 && read_report(read_fd, r)) {
    }
  }
  return got;
}

// Read the daemon's reports until the final one (or EOF) and tidy up.
Status collect(const Plan& plan, int read_fd, pid_t intermediate, Adopter adopter, Success success) {
  auto [st, final_seen, executing] = read_reports(plan, read_fd, intermediate);
  int intermediate_status = 0;
  wait_child(intermediate, &intermediate_status);
  bool ok = final_seen ? st.step == Step::none : (success == Success::executed && executing);
  if (ok) return st;
  if (!final_seen) {
    // The daemon (or the intermediate) died without a word.
    st.step = Step::daemon_died;
    st.error = 0;
    if (st.pid < 0) st.wait_status = intermediate_status;
  }
  if (st.pid < 0) return st;
  // The daemon exits right after a reported failure: wait until it has.
  if (adopter == Adopter::caller) {
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

// A foreground spawn's child (detach false) after its reports: on success it
// is the caller's to wait for; on failure it is reaped (its status kept when
// it died without a word) and a PID file it left is removed.
Status collect_child(const Plan& plan, int read_fd, pid_t child, Success success) {
  auto [st, final_seen, executing] = read_reports(plan, read_fd, -1);
  st.pid = child;
  bool ok = final_seen ? st.step == Step::none : (success == Success::executed && executing);
  if (ok) return st;
  if (!final_seen) {
    st.step = Step::daemon_died;
    st.error = 0;
  }
  wait_child(child, final_seen ? nullptr : &st.wait_status);
  if (!plan.pidfile.empty() && process_start_time(child) == 0) {
    remove_abandoned_pidfile(plan.pidfile.c_str(), child);
  }
  return st;
}

Adopter adopter(const SubreaperScope& subreaper) { return subreaper.active() ? Adopter::caller : Adopter::init; }

Status run_daemon(const Plan& plan, const InitFn& init, const RunFn& run, bool collect_status) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure(Step::fork, errno, "status pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SubreaperScope subreaper(collect_status && plan.detach);  // a foreground child is ours anyway
  const pid_t caller = ::getpid();
  pid_t child = ::fork();  // step 5
  if (child < 0) return failure(Step::fork, errno, "");
  if (child == 0) {
    int report_fd = write_end.get();
    ::close(read_end.release());
    become_daemon(plan, report_fd);
    OwnPidfile own;
    settle(plan, report_fd, own);
    arm_parent_death_signal(plan, caller, report_fd, own);
    set_own_pid_entries(plan);  // this daemon's own copy of the plan (fork, not clone)
    if (plan.sanitize_env) {
      environ = const_cast<char**>(plan.envp.data());
      scrub_environment_ranges(plan.env_scrub);  // step 4 in the memory too: this is our own copy
    }
    own.release_host_dir();
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
  if (!plan.detach) return collect_child(plan, read_end.get(), child, Success::initialized);
  return collect(plan, read_end.get(), child, adopter(subreaper), Success::initialized);
}

Status run_spawned_daemon(const Plan& plan, bool collect_status) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure(Step::fork, errno, "status pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SubreaperScope subreaper(collect_status && plan.detach);  // a foreground child is ours anyway
  int err = 0;
  const char* what = "";
  pid_t child = clone_daemon(plan, write_end.get(), err, what);
  if (child < 0) return failure(Step::fork, err, what);
  write_end.reset();
  if (!plan.detach) return collect_child(plan, read_end.get(), child, Success::executed);
  return collect(plan, read_end.get(), child, adopter(subreaper), Success::executed);
}

}  // namespace

// NOLINTNEXTLINE(readability-function-cognitive-complexity): one message per step and errno, a table read top to bottom
std::string Status::message() const {
  if (step == Step::none) return "ok";
  if (step == Step::prepare) return detail.empty() ? subject : detail;  // the reason welld refused
  std::string sys = std::system_category().message(error);
  if (step == Step::drop_privileges && !detail.empty()) {  // why the user or a group did not resolve
    return error == ENOENT ? detail : "cannot drop privileges to " + detail + ": " + sys;
  }
  if (!detail.empty()) {
    std::string what = step == Step::pidfile          ? "PID file "
                       : step == Step::redirect_stdio ? "log file "
                       : step == Step::set_umask      ? "umask "
                                                      : "";
    return "refusing " + what + subject + ": " + detail;
  }
  switch (step) {
    case Step::pidfile:
      if (error == EEXIST) {
        return holder > 0 ? "already running (pid " + std::to_string(holder) + ")" : "already running";
      }
      if (error == ELOOP) return "refusing PID file " + subject + ": it is a symbolic link";
      if (error == EINVAL) return "refusing PID file " + subject + ": not a regular file";
      if (error == EPERM) {
        return "refusing PID file " + subject +
               ": it is not ours (owned by another user, or writable by group or others)";
      }
      if (error == EMLINK) return "refusing PID file " + subject + ": it has other hard links";
      if (error == ENOTEMPTY) {
        return "refusing PID file " + subject + ": it holds data that is not a PID (not replacing it)";
      }
      return "cannot write the PID file " + subject + ": " + sys;
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
      if (error == ENOENT) return "unknown user '" + subject + "'";
      return "cannot drop privileges to " + subject + ": " + sys;
    default: return "cannot " + std::string(describe(step)) + (subject.empty() ? "" : " " + subject) + ": " + sys;
  }
}

Status daemonize(const Options& options, const InitFn& init, const RunFn& run) {
  Plan plan;
  if (auto bad = make_plan(options, plan)) return *bad;
  if (auto bad = plan_scrub(plan)) return *bad;
  plan_service(options, plan, true);
  return run_daemon(plan, init, run, options.collect_exit_status);
}

Status spawn_daemon(const Options& options, const std::vector<std::string>& argv) {
  Plan plan;
  if (auto bad = make_plan(options, plan)) return *bad;
  if (auto bad = plan_exec(argv, plan)) return *bad;
  plan_service(options, plan, true);
  return run_spawned_daemon(plan, options.collect_exit_status);
}

Status run_foreground(const Options& options, const InitFn& init, const RunFn& run, int* exit_status) {
  Options fg = options;
  fg.stdout_path.clear();
  fg.stderr_path.clear();
  fg.stdout_fd = fg.stderr_fd = -1;  // no fork, no stdio of ours: the manager's
  fg.inherit_stdio = false;
  fg.detach = true;
  fg.session = SessionMode::new_session;
  fg.parent_death_signal = 0;
  fg.listen_pid = false;    // the manager's LISTEN_PID already names us
  fg.watchdog_pid = false;  // ...and its WATCHDOG_PID
  // The manager's protocol variables are addressed to this very process.
  for (const char* name :
       {"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC"}) {
    fg.environment.keep.emplace_back(name);
  }
  Plan plan;
  if (auto bad = make_plan(fg, plan)) return *bad;
  if (auto bad = plan_scrub(plan)) return *bad;
  if (plan.sanitize_env) {
    // Step 4 in this process: the kept variables (copies in the plan) become
    // the whole environment, owned by libc so that it outlives this call;
    // then the original block loses every other byte.
    ::clearenv();
    for (const auto& entry : plan.env_strings) {
      auto eq = entry.find('=');
      if (::setenv(entry.substr(0, eq).c_str(), entry.c_str() + eq + 1, 1) != 0) {
        return failure(Step::sanitize_environment, errno, entry.substr(0, eq));
      }
    }
    scrub_environment_ranges(plan.env_scrub);
  }
  if (!options.chdir.empty() && plan.chroot.empty() && ::chdir(plan.chdir.c_str()) != 0) {
    return failure(Step::chdir, errno, plan.chdir);
  }
  if (options.umask) ::umask(plan.umask);
  plan_service(options, plan, false);  // the manager owns the session and the cgroup
  if (!plan.pidfile.empty()) {
    char service_text[kSideRecordMax];
    format_service_record(plan.service, service_text, sizeof service_text);
    pid_t holder = -1;
    if (auto ec = write_pidfile_at(plan.pidfile_dir.get(), plan.pidfile_name.c_str(), ::getpid(), &holder,
                                   service_text)) {
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
  own.release_host_dir();
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
