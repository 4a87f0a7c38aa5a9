// welld completion bash|zsh|fish and welld --version. The verbs and options
// expected are read from `welld --help` and `welld VERB --help` (CLI11's help
// formatter, not the completion generator), so an option someone adds later
// is checked here without an edit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "support/test_support.hpp"

using namespace std::chrono_literals;
namespace t = welld::test;

namespace {

// zsh's _arguments spec for `option`: '[*]OPTION[=][' somewhere in `block`.
bool has_zsh_spec(const std::string& block, const std::string& option) {
  for (size_t at = block.find(option); at != std::string::npos; at = block.find(option, at + 1)) {
    size_t before = at;
    if (before > 0 && block[before - 1] == '*') --before;
    if (before == 0 || block[before - 1] != '\'') continue;
    size_t after = at + option.size();
    if (after < block.size() && block[after] == '=') ++after;
    if (after < block.size() && block[after] == '[') return true;
  }
  return false;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The verbs `welld --help` lists under "Subcommands:".
std::vector<std::string> help_verbs() {
  auto r = t::welld_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  std::vector<std::string> verbs;
  bool in_section = false;
  for (const auto& line : lines_of(r.out)) {
    if (line.starts_with("Subcommands:")) {
      in_section = true;
      continue;
    }
    if (!in_section) continue;
    if (line.empty() || line[0] != ' ') break;
    std::istringstream words(line);
    std::string verb;
    words >> verb;
    verbs.push_back(verb);
  }
  return verbs;
}

// Every option name (-p, --pidfile, ...) `welld VERB --help` lists: the lines
// indented by two spaces that start with '-' (continuations are indented further).
std::set<std::string> help_options(const std::string& verb) {
  auto r = t::welld_cli({verb, "--help"});
  EXPECT_EQ(r.exit_code, 0) << verb;
  std::set<std::string> names;
  for (const auto& line : lines_of(r.out)) {
    if (!line.starts_with("  -")) continue;
    std::string first = line.substr(2, line.find(' ', 2) - 2);
    std::istringstream parts(first);
    // "--respawn{always}": a flag that takes an optional value, with its default shown.
    for (std::string name; std::getline(parts, name, ',');) names.insert(name.substr(0, name.find_first_of("={")));
  }
  EXPECT_FALSE(names.empty()) << verb;
  return names;
}

std::set<std::string> words_of(const std::string& text) {
  std::set<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.insert(w);
  return words;
}

bool have(const char* program) {
  return std::ranges::any_of(std::initializer_list<const char*>{"/usr/bin/", "/bin/"}, [program](const char* dir) {
    return ::access((std::string(dir) + program).c_str(), X_OK) == 0;
  });
}

struct Script {
  t::TempDir dir;
  std::string path;
  explicit Script(const std::string& shell) : path(dir / ("welld." + shell)) {
    auto r = t::welld_cli({"completion", shell});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    t::write_file(path, r.out);
  }
};

// COMPREPLY of the generated bash function for the words given (the last one
// being completed).
std::set<std::string> bash_complete(const Script& script, const std::vector<std::string>& words) {
  std::string array;
  for (const auto& w : words) array += " '" + w + "'";
  std::string program = "source '" + script.path + "' || exit 9; COMP_WORDS=(" + array +
                        "); COMP_CWORD=" + std::to_string(words.size() - 1) +
                        R"(; COMPREPLY=(); _welld; printf '%s\n' "${COMPREPLY[@]}")";
  auto r = t::run({"/bin/bash", "--norc", "-c", program}, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  return words_of(r.out);
}

TEST(CompletionTest, HelpListsTheVerbsAndOptionsThisTestWalks) {
  auto verbs = help_verbs();
  for (const char* verb : {"start", "stop", "status", "reload", "restart", "audit"})
    EXPECT_NE(std::ranges::find(verbs, verb), verbs.end()) << verb;
  EXPECT_EQ(std::ranges::find(verbs, "completion"), verbs.end()) << "the completion verb is hidden";
  EXPECT_TRUE(help_options("stop").contains("--pidfile"));
}

TEST(CompletionTest, BashCompletesEveryVerbAndEveryOptionOfEveryVerb) {
  Script script("bash");
  auto first = bash_complete(script, {"welld", ""});
  for (const auto& verb : help_verbs()) {
    EXPECT_TRUE(first.contains(verb)) << verb;
    auto offered = bash_complete(script, {"welld", verb, "-"});
    for (const auto& option : help_options(verb)) EXPECT_TRUE(offered.contains(option)) << verb << " " << option;
  }
  EXPECT_TRUE(first.contains("--version"));
}

TEST(CompletionTest, BashRegistersTheFunctionAndCompletesValues) {
  Script script("bash");
  auto r = t::run({"/bin/bash", "--norc", "-c", "source '" + script.path + "' && complete -p welld"}, 60s);
  EXPECT_EQ(r.out, "complete -F _welld welld\n");
  EXPECT_EQ(bash_complete(script, {"welld", "sto"}), (std::set<std::string>{"stop"}));
  auto signals = bash_complete(script, {"welld", "stop", "-p", "/run/x.pid", "--signal", "T"});
  EXPECT_TRUE(signals.contains("TERM"));
  EXPECT_FALSE(signals.contains("HUP"));
  auto modes = bash_complete(script, {"welld", "start", "--ready", ""});
  for (const char* mode : {"exec", "notify", "fd", "tcp:", "unix:", "file:"}) EXPECT_TRUE(modes.contains(mode)) << mode;
  EXPECT_EQ(bash_complete(script, {"welld", "start", "--ready", "=", "no"}), (std::set<std::string>{"notify"}));
  EXPECT_TRUE(bash_complete(script, {"welld", "start", "--user", "roo"}).contains("root"));
  EXPECT_TRUE(bash_complete(script, {"welld", "start", "-g", "roo"}).contains("root"));
  EXPECT_EQ(bash_complete(script, {"welld", "status", "-p", script.path}), (std::set<std::string>{script.path}));
  // After "--", the command, then its arguments.
  EXPECT_TRUE(bash_complete(script, {"welld", "start", "-p", "x", "--", "slee"}).contains("sleep"));
}

TEST(CompletionTest, FishCompletesEveryVerbAndEveryOptionOfEveryVerb) {
  if (!have("fish")) GTEST_SKIP() << "fish is not installed";
  Script script("fish");
  auto run_fish = [&](const std::string& line) {
    auto r = t::run({"/usr/bin/fish", "--no-config", "-c", "source '" + script.path + "'; complete -C '" + line + "'"},
                    60s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::set<std::string> first_column;
    for (const auto& l : lines_of(r.out)) first_column.insert(l.substr(0, l.find('\t')));
    return first_column;
  };
  auto first = run_fish("welld ");
  for (const auto& verb : help_verbs()) {
    EXPECT_TRUE(first.contains(verb)) << verb;
    auto offered = run_fish("welld " + verb + " -");
    for (const auto& option : help_options(verb)) EXPECT_TRUE(offered.contains(option)) << verb << " " << option;
  }
  EXPECT_TRUE(run_fish("welld reload --signal H").contains("HUP"));
}

// zsh has no non-interactive way to ask for completions; check that the
// script parses and that each verb's _arguments block has a spec per option.
TEST(CompletionTest, ZshDefinesEveryVerbAndEveryOptionOfEveryVerb) {
  Script script("zsh");
  std::string text = t::read_file(script.path);
  EXPECT_TRUE(text.starts_with("#compdef welld\n"));
  if (have("zsh")) {
    auto r = t::run({"/usr/bin/zsh", "-n", script.path}, 60s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  for (const auto& verb : help_verbs()) {
    EXPECT_NE(text.find("    '" + verb + ":"), std::string::npos) << verb;
    auto begin = text.find("    (" + verb + ")\n");
    ASSERT_NE(begin, std::string::npos) << verb;
    std::string block = text.substr(begin, text.find("      ;;\n", begin) - begin);
    for (const auto& option : help_options(verb)) {
      EXPECT_TRUE(has_zsh_spec(block, option)) << verb << " " << option;
    }
  }
}

TEST(CompletionTest, UnknownShellIsAUsageError) {
  auto r = t::welld_cli({"completion", "tcsh"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("welld: completion: ")) << r.err;
}

TEST(VersionTest, PrintsTheVersionAndTheCommit) {
  auto r = t::welld_cli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  // "welld VERSION (commit HEX[-dirty])\n" or "(commit unknown)".
  std::string prefix = "welld " WELLD_PROJECT_VERSION " (commit ";
  ASSERT_TRUE(r.out.starts_with(prefix) && r.out.ends_with(")\n")) << r.out;
  std::string commit = r.out.substr(prefix.size(), r.out.size() - prefix.size() - 2);
  std::string hex = commit.ends_with("-dirty") ? commit.substr(0, commit.size() - 6) : commit;
  bool is_hex = hex.size() >= 7 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  EXPECT_TRUE(commit == "unknown" || is_hex) << r.out;
  if (std::string(WELLD_EXPECTED_COMMIT) != "unknown") {
    EXPECT_EQ(commit, WELLD_EXPECTED_COMMIT);
  }
}

}  // namespace

TEST(CompletionTest, BashCompletesExportFormats) {
  Script script("bash");
  EXPECT_EQ(bash_complete(script, {"welld", "export", "s"}),
            (std::set<std::string>{"systemd", "sysv", "s6", "supervisord"}));
  EXPECT_TRUE(bash_complete(script, {"welld", "export", ""}).contains("launchd"));
  Script zsh("zsh");
  EXPECT_NE(t::read_file(zsh.path).find("':format:(systemd sysv openrc s6 runit supervisord launchd docker)'"),
            std::string::npos);
}
