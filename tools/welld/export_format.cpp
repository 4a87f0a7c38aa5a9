// welld export: applying a format's option table (export_format.hpp).
#include "export_format.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace welld::cli {
namespace {

const OptionRule* rule_for(const ExportFormat& format, std::string_view option) {
  for (std::span<const OptionRule> rules : {format.rules, format.more_rules}) {
    for (const OptionRule& r : rules) {
      if (r.option == option) return &r;
    }
  }
  return nullptr;
}

Mapping mapping_of(const OptionRule& r, const ExportInput& in) { return r.decide ? r.decide(in) : r.mapping; }

void pass_to_welld(const OptionRule& r, const GivenOption& g, const ExportInput& in, ExportPlan& plan) {
  std::vector<std::string> args = r.translate ? r.translate(in) : welld_arguments(g);
  plan.welld_args.insert(plan.welld_args.end(), args.begin(), args.end());
}

}  // namespace

bool ExportInput::has(std::string_view option) const { return find_given(*this, option) != nullptr; }

bool ExportPlan::is_native(std::string_view option) const {
  return std::find(native.begin(), native.end(), option) != native.end();
}

const GivenOption* find_given(const ExportInput& in, std::string_view name) {
  for (const GivenOption& g : in.given) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::vector<std::string> welld_arguments(const GivenOption& option) {
  if (option.flag) return {"--" + option.name};
  std::vector<std::string> args;
  args.reserve(option.values.size());
  for (const auto& v : option.values) args.push_back(fmt::format("--{}={}", option.name, v));
  return args;
}

std::vector<std::string> program_argv(const ExportInput& in, const ExportPlan& plan, std::string_view verb) {
  std::vector<std::string> argv;
  if (plan.via_welld) {
    argv = {in.welld, std::string(verb)};
    argv.insert(argv.end(), plan.welld_args.begin(), plan.welld_args.end());
    argv.emplace_back("--");
  }
  argv.insert(argv.end(), in.args.command.begin(), in.args.command.end());
  return argv;
}

std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? fmt::format("{}s", d.count() / 1000) : fmt::format("{}ms", d.count());
}

// Two passes: which options need a welld in between; then the flexible ones
// follow that choice.
bool plan_export(const ExportFormat& format, const ExportInput& in, ExportPlan& plan, std::string& error) {
  plan = ExportPlan{};
  plan.via_welld = format.always_welld;
  for (const GivenOption& g : in.given) {
    const OptionRule* r = rule_for(format, g.name);
    Mapping m = r ? mapping_of(*r, in) : Mapping::refused;
    if (m == Mapping::refused) {
      error = fmt::format("{} cannot express --{}{} (docs/interop.md lists what each format takes)", format.name,
                          g.name, r ? " with this value" : "");
      return false;
    }
    plan.via_welld = plan.via_welld || m == Mapping::run;
  }
  for (const GivenOption& g : in.given) {
    const OptionRule& r = *rule_for(format, g.name);
    Mapping m = mapping_of(r, in);
    if (m == Mapping::run || (m == Mapping::flex && plan.via_welld)) {
      pass_to_welld(r, g, in, plan);
    } else {
      plan.native.push_back(g.name);
    }
  }
  return true;
}

std::span<const ExportFormat* const> export_formats() {
  static const ExportFormat* const kFormats[] = {&kSystemdFormat, &kSysvFormat,        &kOpenrcFormat,  &kS6Format,
                                                 &kRunitFormat,   &kSupervisordFormat, &kLaunchdFormat, &kDockerFormat};
  return kFormats;
}

}  // namespace welld::cli
