// The seed's daemonize() C interface (welld/daemonize.h) over welld::daemonize:
// its pid_file and callbacks become Options, InitFn and RunFn; the Status that
// comes back is folded into a DaemonStatus code (the table in the header and in
// docs/daemonize.md), with errno and the text for print_daemon_status kept.
#include "welld/daemonize.h"

#include <cerrno>
#include <cstdio>
#include <string>

#include "welld/daemon.hpp"

namespace {

// What the last daemonize() in this thread returned, for print_daemon_status.
thread_local DaemonStatus t_status = STATUS_INIT_SUCCESS;
thread_local std::string t_reason;

// pipe2(2) fails with EMFILE or ENFILE, fork(2) never does: welld reports a
// status pipe it could not create as Step::fork, and the errno tells them apart.
bool is_pipe_error(int error) { return error == EMFILE || error == ENFILE; }

DaemonStatus to_daemon_status(const welld::Status& st) {
  using welld::Step;
  switch (st.step) {
    case Step::none: return STATUS_INIT_SUCCESS;
    case Step::redirect_stdio: return STATUS_CANNOT_ATTACH_STD_FDS_TO_NULL;
    case Step::chdir: return STATUS_CANNOT_CHDIR;
    case Step::pidfile: return STATUS_CANNOT_CREATE_PID_FILE;
    case Step::init: return STATUS_CANNOT_INIT_DAEMON;
    case Step::close_fds: return STATUS_CANNOT_CLOSE_NON_STD_FDS;
    case Step::reset_signals: return STATUS_CANNOT_RESET_SIGNAL_HANDLERS;
    case Step::empty_signal_mask: return STATUS_CANNOT_CLEAR_SIGNAL_MASK;
    case Step::fork: return is_pipe_error(st.error) ? STATUS_CANNOT_CREATE_PIPE : STATUS_CANNOT_FORK_HELPER_PROCESS;
    case Step::report_initialized: return STATUS_CANNOT_READ_FROM_PIPE;
    case Step::setsid: return STATUS_CANNOT_SET_SID;
    case Step::fork_again: return STATUS_CANNOT_FORK_DAEMON_PROCESS;
    default: return STATUS_UNKNOWN_DAEMON_ERROR;  // daemon_died, and steps the seed has no code for
  }
}

// The errno a caller sees on failure: the step's system error, none for init
// (whose "code" is only the callback's FALSE) or a daemon that died unheard.
int errno_of(const welld::Status& st) {
  if (st.step == welld::Step::init || st.step == welld::Step::daemon_died) return 0;
  return st.error;
}

const char* describe(DaemonStatus status) {
  switch (status) {
    case STATUS_INIT_SUCCESS: return "daemon initialized";
    case STATUS_CANNOT_ATTACH_STD_FDS_TO_NULL: return "cannot attach stdin, stdout and stderr to /dev/null";
    case STATUS_CANNOT_CHDIR: return "cannot change the working directory to /";
    case STATUS_CANNOT_CREATE_PID_FILE: return "cannot create the PID file";
    case STATUS_CANNOT_INIT_DAEMON: return "cannot initialize the daemon";
    case STATUS_CANNOT_UNLINK_PID_FILE: return "cannot remove the PID file";
    case STATUS_CANNOT_CLOSE_NON_STD_FDS: return "cannot close the non-standard file descriptors";
    case STATUS_CANNOT_RESET_SIGNAL_HANDLERS: return "cannot reset the signal handlers";
    case STATUS_CANNOT_CLEAR_SIGNAL_MASK: return "cannot clear the signal mask";
    case STATUS_CANNOT_CREATE_PIPE: return "cannot create the status pipe";
    case STATUS_CANNOT_FORK_HELPER_PROCESS: return "cannot fork the helper process";
    case STATUS_CANNOT_READ_FROM_PIPE: return "cannot read the daemon's report from the status pipe";
    case STATUS_CANNOT_SET_SID: return "cannot create a new session (setsid)";
    case STATUS_CANNOT_FORK_DAEMON_PROCESS: return "cannot fork the daemon process";
    case STATUS_UNKNOWN_DAEMON_ERROR: return "unknown daemon error";
  }
  return nullptr;
}

}  // namespace

extern "C" {

DaemonStatus daemonize(const char* pid_file, void* data, int (*initialize_daemon)(void* data),
                       int (*run_main_loop)(void* data)) {
  welld::Options options;
  if (pid_file != nullptr) options.pidfile = pid_file;
  // The seed's init returns TRUE (non-zero) on success; welld's returns 0.
  welld::InitFn init = [=] { return initialize_daemon == nullptr || initialize_daemon(data) != 0 ? 0 : 1; };
  welld::RunFn run = [=] { return run_main_loop != nullptr ? run_main_loop(data) : 0; };
  welld::Status st = welld::daemonize(options, init, run);
  t_status = to_daemon_status(st);
  t_reason = st ? std::string() : st.message();
  if (!st) errno = errno_of(st);
  return t_status;
}

void print_daemon_status(DaemonStatus status, FILE* file) {
  const char* text = describe(status);
  if (text == nullptr) {
    std::fprintf(file, "unknown daemon status %d\n", static_cast<int>(status));
  } else if (status == t_status && !t_reason.empty()) {
    std::fprintf(file, "%s: %s\n", text, t_reason.c_str());
  } else {
    std::fprintf(file, "%s\n", text);
  }
}

}  // extern "C"
