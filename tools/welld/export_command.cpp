// welld export FORMAT [start/run options] -- COMMAND [ARG...]: a service
// definition for another manager, from exactly the options welld start and
// welld run take (start_options.cpp parses them). Each format is a table and
// a generator (export_format.hpp, export_*.cpp). Nothing happens at export
// time but writing: to stdout, or the files under -o DIR (DIR is created
// when missing, and the format's subdirectories inside it; nothing else).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#include "command.hpp"
#include "export_format.hpp"
#include "start_options.hpp"
#include "welld/path.hpp"
#include "welld/unique_fd.hpp"
#include "welld_version.hpp"

namespace welld::cli {
namespace {

struct ExportArgs {
  StartArgs start;
  std::string format;
  std::string directory;
  std::string welld;
};

// Unit names, init script names, s6 and runit directories, plist labels: one
// safe word.
bool valid_service_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '.' || name.front() == '-') return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '@';
  });
}

// The options of start/run given on the command line (count() > 0), in the
// order they are defined; export's own are not among them.
std::vector<GivenOption> given_options(const CLI::App& sub) {
  std::vector<GivenOption> given;
  for (const CLI::Option* opt : sub.get_options()) {
    if (opt->get_positional() || opt->count() == 0 || opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help" || name == "output-dir" || name == "welld") continue;
    // A plain flag's results are "true"; a flag with a value (--respawn{always}) has that value.
    std::vector<std::string> values = opt->results();
    bool flag = opt->get_items_expected_max() == 0 &&
                std::all_of(values.begin(), values.end(), [](const std::string& v) { return v == "true"; });
    GivenOption g{.name = name, .values = {}, .flag = flag};
    if (!flag) g.values = std::move(values);
    given.push_back(std::move(g));
  }
  return given;
}

const ExportFormat* format_named(std::string_view name) {
  for (const ExportFormat* f : export_formats()) {
    if (f->name == name) return f;
  }
  return nullptr;
}

// Written beside its place, then renamed onto it: a reader never sees half a file.
bool write_file_in(const std::string& path, const OutputFile& file, std::string& error) {
  std::string temp = parent_directory(path) + "/." + base_name(path) + ".welld-new";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd && write_all(fd.get(), file.text) && ::fchmod(fd.get(), file.mode) == 0;
  int saved = errno;
  fd.reset();
  if (ok && ::rename(temp.c_str(), path.c_str()) == 0) return true;
  if (ok) saved = errno;
  ::unlink(temp.c_str());
  error = fmt::format("cannot write {}: {}", path, std::system_category().message(saved));
  return false;
}

// DIR itself, and the directories of `relative` below it.
bool make_directories(const std::string& dir, const std::string& relative, std::string& error) {
  auto make = [&](const std::string& p) {
    if (::mkdir(p.c_str(), 0755) == 0 || errno == EEXIST) return true;
    error = fmt::format("cannot create {}: {}", p, std::system_category().message(errno));
    return false;
  };
  if (!make(dir)) return false;
  for (size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1)) {
    if (!make(dir + "/" + relative.substr(0, slash))) return false;
  }
  return true;
}

int write_files(const std::string& dir, const std::vector<OutputFile>& files) {
  std::string error;
  for (const OutputFile& f : files) {
    if (!make_directories(dir, f.path, error) || !write_file_in(dir + "/" + f.path, f, error)) {
      error_line("export", error);
      return exit_code::failure;
    }
  }
  return exit_code::ok;
}

int print_files(const std::vector<OutputFile>& files) {
  std::string text;
  for (const OutputFile& f : files) {
    if (files.size() > 1) text += fmt::format("{}==> {} <==\n", text.empty() ? "" : "\n", f.path);
    text += f.text;
  }
  return write_all(1, text) ? exit_code::ok : exit_code::failure;
}

bool check_input(const ExportArgs& e, ExportInput& in) {
  if (!valid_service_name(in.service)) {
    error_line("export", fmt::format("--name: '{}' is no service name (letters, digits, _ - . @)", in.service));
    return false;
  }
  if (!e.welld.empty() && e.welld.front() != '/') {
    error_line("export", "--welld: expected an absolute path");
    return false;
  }
  StartRequest request;  // the values are checked as start and run check them
  return build_request(e.start, "export", request) == 0;
}

int run_export(const ExportArgs& e, const CLI::App& sub) {
  const ExportFormat* format = format_named(e.format);
  ExportInput in{.args = e.start,
                 .given = given_options(sub),
                 .service = e.start.display_name(),
                 .welld = e.welld.empty() ? std::string(kInstalledWelld) : e.welld};
  if (format == nullptr || !check_input(e, in)) return exit_code::usage;
  ExportPlan plan;
  std::vector<OutputFile> files;
  std::string error;
  if (!plan_export(*format, in, plan, error) || !format->generate(in, plan, files, error)) {
    error_line("export", error);
    return exit_code::usage;
  }
  return e.directory.empty() ? print_files(files) : write_files(e.directory, files);
}

std::string format_list() {
  std::string text;
  for (const ExportFormat* f : export_formats()) text += fmt::format("\n  {:<12} {}", f->name, f->summary);
  return text;
}

}  // namespace

void define_export_command(CLI::App& sub, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  std::vector<std::string> names;
  for (const ExportFormat* f : export_formats()) names.emplace_back(f->name);
  sub.footer(
      verb_footer("welld export FORMAT [-o DIR] [--welld PATH] [OPTIONS] -- COMMAND [ARG...]\nFormats:" + format_list(),
                  exit_codes_text("export")));
  sub.add_option("format", args->format, "the target: " + fmt::format("{}", fmt::join(names, ", ")))
      ->required()
      ->check(CLI::IsMember(names));
  sub.add_option("-o,--output-dir", args->directory,
                 "write the files under DIR (created if missing) instead of printing them");
  sub.add_option("--welld", args->welld, fmt::format("the welld the definition runs (default {})", kInstalledWelld));
  add_start_options(sub, args->start);
  add_run_options(sub, args->start);
  // FORMAT comes first, the options after it: positionals anywhere before "--".
  sub.positionals_at_end(false);
  const CLI::App* self = &sub;
  sub.callback([args, self, &action] { action = [args, self] { return run_export(*args, *self); }; });
}

}  // namespace welld::cli
