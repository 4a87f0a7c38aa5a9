// The CLI's exit-code tables (tools/welld/exit_codes.hpp) against the docs'
// tables (docs/welld.md, docs/audit.md) and against each verb's --help.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "exit_codes.hpp"
#include "support/test_support.hpp"

namespace t = welld::test;
namespace cli = welld::cli;

namespace {

std::vector<std::string> cells_of(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(row.substr(1));  // after the leading '|'
  while (std::getline(in, cell, '|')) {
    auto first = cell.find_first_not_of(' ');
    auto last = cell.find_last_not_of(' ');
    cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  return cells;
}

// The "## Exit codes" table of a doc: for each column after "code" (its
// header, e.g. "start / restart"), the codes whose cell is not "—".
std::map<std::string, std::set<std::string>> documented_codes(const std::string& doc,
                                                              const std::string& heading = "## Exit codes") {
  std::istringstream in(t::read_file(doc));
  std::string line;
  while (std::getline(in, line) && line != heading) {
  }
  std::vector<std::string> header;
  std::map<std::string, std::set<std::string>> codes;
  while (std::getline(in, line)) {
    if (line.empty() && header.empty()) continue;
    if (line.empty() || line.front() != '|') break;
    std::vector<std::string> cells = cells_of(line);
    if (header.empty()) {
      header = cells;
      continue;
    }
    if (cells.front().starts_with("---")) continue;
    for (size_t i = 1; i < cells.size() && i < header.size(); ++i) {
      if (cells[i] != "—") codes[header[i]].insert(cells.front());
    }
  }
  return codes;
}

std::set<std::string> coded(std::string_view verb) {
  std::set<std::string> codes;
  for (const cli::VerbExits& v : cli::kVerbExits) {
    if (v.verb != verb) continue;
    for (const cli::ExitMeaning& e : v.exits) codes.insert(cli::exit_code_text(e.code));
  }
  return codes;
}

}  // namespace

TEST(ExitCodes, WelldMdListsTheCodesOfEachVerb) {
  auto docs = documented_codes(WELLD_DOCS_DIR "/welld.md");
  ASSERT_EQ(docs.size(), 5U) << "columns: start / restart, stop, status, reload, reopen-logs";
  EXPECT_EQ(docs["start / restart"], coded("start"));
  EXPECT_EQ(docs["stop"], coded("stop"));
  EXPECT_EQ(docs["status"], coded("status"));
  EXPECT_EQ(docs["reload"], coded("reload"));
  EXPECT_EQ(docs["reopen-logs"], coded("reopen-logs"));
}

TEST(ExitCodes, WelldMdListsTheCodesOfRun) {
  auto docs = documented_codes(WELLD_DOCS_DIR "/welld.md", "## Exit codes of run");
  ASSERT_EQ(docs.size(), 1U);
  EXPECT_EQ(docs["run"], coded("run"));
  EXPECT_EQ(coded("run"), (std::set<std::string>{"n", "125", "126", "127", "128+n"}));
}

TEST(ExitCodes, AuditMdListsTheCodesOfAudit) {
  auto docs = documented_codes(WELLD_DOCS_DIR "/audit.md");
  ASSERT_EQ(docs.size(), 1U);
  EXPECT_EQ(docs["meaning"], coded("audit"));
}

TEST(ExitCodes, InteropMdListsTheCodesOfExport) {
  auto docs = documented_codes(WELLD_DOCS_DIR "/interop.md");
  ASSERT_EQ(docs.size(), 1U);
  EXPECT_EQ(docs["meaning"], coded("export"));
}

TEST(ExitCodes, EveryVerbsHelpShowsItsTable) {
  for (const cli::VerbExits& v : cli::kVerbExits) {
    std::string verb(v.verb);
    auto r = t::run({WELLD_CLI_PATH, verb, "--help"});
    EXPECT_EQ(r.exit_code, 0) << verb;
    EXPECT_NE(r.out.find("Exit codes: " + cli::exit_codes_text(verb) + "\n"), std::string::npos) << verb << r.out;
  }
  auto top = t::run({WELLD_CLI_PATH, "--help"});
  for (std::string verb : {"start", "stop", "status", "reload", "restart", "audit"}) {
    EXPECT_NE(top.out.find("  " + verb + ": " + cli::exit_codes_text(verb) + "\n"), std::string::npos)
        << verb << top.out;
  }
}
