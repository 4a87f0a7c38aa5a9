// welld start/run/restart --unit FILE.service, and the control verbs'
// --unit: a systemd unit (welld/unit.hpp) turned into the same StartArgs the
// flags give (start_options.hpp builds the request from them, for welld start
// and for the supervisor alike), plus what only a unit has: ExecStartPre=,
// ExecStartPost=, ExecReload=, ExecStop=, Type=oneshot, and the managed
// directories. Type=forking is --forking --program-pidfile PIDFile=.
#pragma once

#include <sys/types.h>
#include "cli11.hpp"

#include <functional>
#include <string>
#include <string_view>

#include "start_options.hpp"
#include "welld/unit.hpp"

namespace welld::cli {

/// --unit and --strict-unit on a start-like verb (COMMAND then not required,
/// and not allowed together with --unit).
void add_unit_options(CLI::App& sub, StartArgs& a);

/// With --unit: `a` becomes the unit's translation (flags given beside
/// --unit keep applying where the unit says nothing: --pidfile, --name,
/// --output, --log...). Prints the unit's warnings. Without --unit: checks
/// that COMMAND was given. 0, or the exit code after an error line.
int expand_unit_args(StartArgs& a, std::string_view verb);

/// welld's PID file for a unit: %t/welld/NAME.pid (/run/welld/NAME.pid for
/// root), for every Type=. A Type=forking unit's PIDFile= is the program's
/// own (--program-pidfile): read at the start, never trusted, and never
/// welld's (see welld/start.hpp, "self-forking program").
std::string unit_pidfile(const ServiceUnit& unit);

using StartFn = std::function<int(const StartArgs&, std::string_view)>;
using RunFn = std::function<int(const StartArgs&, const std::function<void(pid_t)>&)>;

/// welld start/restart --unit: directories, ExecStartPre=, the start
/// (`start`: welld start's own, for simple, exec, notify and forking, which
/// is --forking --program-pidfile PIDFile=), oneshot, ExecStartPost=. `a`
/// went through expand_unit_args.
int start_unit(const StartArgs& a, std::string_view verb, const StartFn& start);

/// welld run --unit: the same around `run` (welld run's own), which calls
/// its callback once the program is ready (ExecStartPost=).
int run_unit(const StartArgs& a, const RunFn& run);

/// The control verbs' --unit: welld's PID file of the unit (unless given).
struct UnitTarget {
  std::string pidfile;
  std::string name;
};
int unit_target(const std::string& path, std::string_view verb, UnitTarget& target);

/// ExecReload= (reload) or ExecStop= (stop) of the unit at `path`, run to
/// their end with $MAINPID. `ran` false when the unit has none. 0, or the
/// exit code after an error line.
int run_unit_control_commands(const std::string& path, std::string_view verb, pid_t mainpid, bool& ran);

}  // namespace welld::cli
