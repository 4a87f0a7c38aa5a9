// The options of welld start, restart and the supervisor, and what they build:
// the StartRequest of the program and, with --respawn or a log option, the
// supervisor's configuration. One parser for all three verbs.
#pragma once

#include "cli11.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "welld/start.hpp"
#include "welld/supervise.hpp"

namespace welld::cli {

struct StartArgs {
  std::string pidfile;
  std::string chdir;
  std::string umask = "022";
  std::string stdout_path;
  std::string stderr_path;
  std::string output;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> keep_env;
  std::string user;
  std::string group;
  std::string supplementary_groups;
  std::string chroot;
  std::vector<std::string> rlimits;
  std::string keep_caps;
  std::vector<std::string> listen;
  std::string ready = "exec";
  std::string ready_timeout = "60s";
  std::vector<std::string> command;
  std::string program_pidfile;  // with forking, below
  // restart only: how to stop the running instance first (empty: what was
  // recorded at its start, else TERM and 10s)
  std::string stop_signal;
  std::string stop_timeout;
  // start and restart: recorded beside the identity for stop, reload and
  // restart, and used by start's own rollback
  std::string record_stop_signal;
  std::string record_stop_timeout;
  std::string record_reload_signal;
  // supervision (any of them: a supervisor runs the program)
  std::string respawn;  // "" not given; --respawn alone is "always"
  std::string success_exit;
  std::string restart_delay;
  std::string restart_max_delay;
  std::string restart_limit;
  std::string watchdog;
  std::string child_pidfile;
  std::string log;
  std::string log_stdout;
  std::string log_stderr;
  std::string log_owner;
  std::string log_mode;
  std::string log_max_size;
  std::string log_keep;
  std::string syslog;  // "" not given; --syslog alone is "daemon"
  std::string syslog_socket;
  std::string log_timestamps;
  // welld run only (add_run_options)
  std::string ready_file;
  std::vector<std::string> rewrite;  // SIG:SIG
  std::string grace = "5s";
  std::string pdeathsig;
  // --unit FILE.service (unit_options.hpp): the program's settings from a systemd unit
  std::string unit;

  // The small fields last, together (no padding between the strings).
  std::optional<int> nice;
  int notify_fd = -1;  // welld run only: s6's notification fd of welld's own manager
  bool inherit_env = false;
  bool ok_if_running = false;
  bool no_new_privs = false;
  // a self-forking COMMAND (systemd's Type=forking): ready once its own
  // process exited 0 and its own PID file (program_pidfile) names its server
  bool forking = false;
  bool process_group = false;  // welld run only
  bool strict_unit = false;    // --unit only

  bool supervised() const {
    return !respawn.empty() || !watchdog.empty() || !log.empty() || !log_stdout.empty() || !log_stderr.empty() ||
           !syslog.empty();
  }
  /// The name in messages: --name, else the command's base name.
  std::string display_name() const;
};

void add_start_options(CLI::App& sub, StartArgs& a);

/// The program's StartRequest from the command line (without cancel_fd and
/// on_status, which the verb sets). On error prints one line and returns the
/// exit code (usage); 0 on success.
int build_request(const StartArgs& a, std::string_view verb, StartRequest& request);

/// The supervisor's settings (restart policy, logs) on top of `child`. On
/// error prints one line and returns the exit code; 0 on success.
int build_supervision(const StartArgs& a, std::string_view verb, StartRequest child, SupervisorConfig& config);

/// welld run's own options, besides add_start_options'.
void add_run_options(CLI::App& sub, StartArgs& a);

/// welld run's settings: the supervisor core in the foreground (InitDuties),
/// the program's own PID file in -p, its stdio inherited unless redirected.
/// `foreground_tty`: welld is in its terminal's foreground process group (the
/// program then shares it, for job control, unless --process-group). On error
/// prints one line and returns exit_code::run_failure; 0 on success.
int build_run(const StartArgs& a, StartRequest child, bool foreground_tty, SupervisorConfig& config);

/// The exit code of a start that did not succeed (LSB).
int start_exit_code_of(const StartResult& r, int interrupted_by);

/// The one line a failed start prints (without "welld: VERB: ").
std::string start_failure_message(const StartResult& r, int interrupted_by);

}  // namespace welld::cli
