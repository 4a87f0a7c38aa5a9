// welld export: the pieces every format shares. A format is a table of
// option rules and a generator. Each rule says how one option of welld
// start/run reaches the service: written as the manager's own directive
// (native), passed to a `welld run` (or, for the init scripts, `welld start`)
// inside the definition (run), or either, native when the definition runs
// COMMAND directly and passed on when a welld is in between anyway (flex).
// An option a format's table does not list is refused with an error naming
// it: an option added to start_options.cpp is refused by every format until
// someone maps it (docs/interop.md is the same table for people).
#pragma once

#include <sys/types.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "start_options.hpp"

namespace welld::cli {

/// One option given on the command line: its long name (without "--"), its
/// values in order (none for a flag), as CLI11 parsed them.
struct GivenOption {
  std::string name;
  std::vector<std::string> values;
  bool flag = false;
};

struct ExportInput {
  StartArgs args;                  // parsed by start_options.cpp, as start and run parse them
  std::vector<GivenOption> given;  // the options of start/run that were given, in definition order
  std::string service;             // --name, else the command's base name
  std::string welld;               // the welld the definition runs (--welld, else the installed one)

  bool has(std::string_view option) const;
};

enum class Mapping { native, run, flex, refused };

struct OptionRule {
  std::string_view option;  // long name without "--"
  Mapping mapping;
  /// When set: decides from the values (e.g. --ready=exec native, other modes run).
  Mapping (*decide)(const ExportInput&) = nullptr;
  /// When set, and the option goes to welld: the arguments it becomes there
  /// (e.g. --stop-signal as --rewrite=TERM:INT); else it is passed as given.
  std::vector<std::string> (*translate)(const ExportInput&) = nullptr;
};

/// How each given option is carried out, once the table is applied.
struct ExportPlan {
  bool via_welld = false;               // the definition runs welld, which runs COMMAND
  std::vector<std::string> welld_args;  // the options for that welld (before "--")
  std::vector<std::string> native;      // the options the generator writes as directives

  bool is_native(std::string_view option) const;
};

struct OutputFile {
  std::string path;  // relative to -o DIR (or a heading on stdout)
  std::string text;
  mode_t mode = 0644;
};

struct ExportFormat {
  std::string_view name;
  std::string_view summary;
  std::span<const OptionRule> rules;
  /// Writes the files; false with `error` (one line, naming the option) on a
  /// value the format cannot hold.
  bool (*generate)(const ExportInput& in, const ExportPlan& plan, std::vector<OutputFile>& files, std::string& error);
  bool always_welld = false;                    // sysv, openrc, docker: welld start/run is the definition's program
  std::span<const OptionRule> more_rules = {};  // a table shared by several formats
};

/// Applies `format`'s table to the options given. False with `error` naming
/// the first option the format refuses.
bool plan_export(const ExportFormat& format, const ExportInput& in, ExportPlan& plan, std::string& error);

/// The option as welld takes it again: --NAME=VALUE per value, --NAME for a flag.
std::vector<std::string> welld_arguments(const GivenOption& option);

/// The values of option `name` (empty when not given).
const GivenOption* find_given(const ExportInput& in, std::string_view name);

/// What the definition executes: COMMAND, or `welld VERB [options] -- COMMAND`
/// when the plan puts a welld in between.
std::vector<std::string> program_argv(const ExportInput& in, const ExportPlan& plan, std::string_view verb = "run");

/// "10s", "1500ms": a duration as systemd and welld both read it.
std::string duration_text(std::chrono::milliseconds d);

/// Every format, in `welld export --help` order.
std::span<const ExportFormat* const> export_formats();

extern const ExportFormat kSystemdFormat;
extern const ExportFormat kSysvFormat;
extern const ExportFormat kOpenrcFormat;
extern const ExportFormat kS6Format;
extern const ExportFormat kRunitFormat;
extern const ExportFormat kSupervisordFormat;
extern const ExportFormat kLaunchdFormat;
extern const ExportFormat kDockerFormat;

}  // namespace welld::cli
