// welld start with a supervisor (--respawn, --log, --syslog), and the hidden
// `welld supervise` verb the supervisor runs as.
//
// `welld start --respawn -p FILE ... -- COMMAND` starts the supervisor as the
// daemon (start_daemon: the fifteen steps, FILE naming the supervisor), with
// welld's own executable and the start's own arguments: `welld supervise
// --supervisor-ready-fd N ARGS...`. The supervisor parses them with the same
// parser, starts COMMAND (welld/supervise.hpp), and reports the first start:
// a newline on fd N once COMMAND is ready, or the start's error line on its
// stderr (a pipe this launcher reads and copies to its own) and the exit code
// welld start would have had. So `welld start --respawn` prints and exits as
// `welld start` does, and leaves nothing behind on failure.
#pragma once

#include <string_view>

#include "start_options.hpp"

namespace welld::cli {

/// welld start (and restart's start) with a supervisor.
int run_supervised_start(const StartArgs& a, std::string_view verb);

/// The arguments after the verb, as main() received them.
void set_verb_arguments(int argc, char** argv);

}  // namespace welld::cli
