// welld export's quoting (tools/welld/export_quote.hpp): each target's rule
// for the characters that break generated files: spaces, quotes, $, %, \,
// newlines, comment characters, non-ASCII. The real managers read these back
// in tests/integration/export_cli_test.cpp.
#include <gtest/gtest.h>

#include "export_quote.hpp"

namespace q = welld::cli::quote;

TEST(ExportQuote, ShSingleQuotesEverythingAndSplicesQuotes) {
  EXPECT_EQ(q::sh("plain"), "'plain'");
  EXPECT_EQ(q::sh(""), "''");
  EXPECT_EQ(q::sh("it's"), "'it'\\''s'");
  EXPECT_EQ(q::sh("$HOME `x` \\ \"q\" *"), "'$HOME `x` \\ \"q\" *'");
  EXPECT_EQ(q::sh("a\nb"), "'a\nb'");
  EXPECT_EQ(q::sh("ünï ✓"), "'ünï ✓'");
}

TEST(ExportQuote, ShNamesAreIdentifiers) {
  EXPECT_TRUE(q::sh_name("QUEUE"));
  EXPECT_TRUE(q::sh_name("_a1"));
  EXPECT_FALSE(q::sh_name("1A"));
  EXPECT_FALSE(q::sh_name("A-B"));
  EXPECT_FALSE(q::sh_name(""));
}

TEST(ExportQuote, SystemdExecWordEscapesDollarPercentBackslashQuotesAndControls) {
  EXPECT_EQ(q::systemd_exec_word("plain"), "\"plain\"");
  EXPECT_EQ(q::systemd_exec_word(""), "\"\"");
  EXPECT_EQ(q::systemd_exec_word("$HOME ${X}"), "\"$$HOME $${X}\"");
  EXPECT_EQ(q::systemd_exec_word("100% %n"), "\"100%% %%n\"");
  EXPECT_EQ(q::systemd_exec_word("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(q::systemd_exec_word("say \"hi\" it's"), "\"say \\\"hi\\\" it's\"");
  EXPECT_EQ(q::systemd_exec_word("a\nb\tc\x01"), "\"a\\nb\\tc\\x01\"");
  EXPECT_EQ(q::systemd_exec_word(";"), "\\;");
  EXPECT_EQ(q::systemd_exec_word("ü✓"), "\"ü✓\"");
}

TEST(ExportQuote, SystemdEnvironmentKeepsDollarButDoublesPercent) {
  EXPECT_EQ(q::systemd_environment("QUEUE=*"), "\"QUEUE=*\"");
  EXPECT_EQ(q::systemd_environment("A=$x 5%"), "\"A=$x 5%%\"");
  EXPECT_EQ(q::systemd_environment("A=\"q\"\n"), "\"A=\\\"q\\\"\\n\"");
}

TEST(ExportQuote, SystemdPlainRefusesWhatALineCannotHold) {
  EXPECT_EQ(q::systemd_plain("/var/log/a b%.log"), "/var/log/a b%%.log");
  EXPECT_FALSE(q::systemd_plain("a\nb"));
  EXPECT_FALSE(q::systemd_plain(" lead"));
  EXPECT_FALSE(q::systemd_plain("trail "));
}

TEST(ExportQuote, SupervisordWordIsShlexQuotingWithPercentAndContinuations) {
  EXPECT_EQ(q::supervisord_word("a b"), "'a b'");
  EXPECT_EQ(q::supervisord_word("it's"), "'it'\\''s'");
  EXPECT_EQ(q::supervisord_word("100%"), "'100%%'");
  EXPECT_EQ(q::supervisord_word("a\nb"), "'a\n b'");
  EXPECT_EQ(q::supervisord_word("x ;y #z"), "'x '\\;'y '\\#'z'");
  EXPECT_EQ(q::supervisord_word("x;y#z"), "'x;y#z'");
  EXPECT_FALSE(q::supervisord_word("a \nb"));
  EXPECT_FALSE(q::supervisord_word("a\n b"));
  EXPECT_EQ(q::supervisord_word("a\n#b"), "'a\n '\\#'b'");  // the # leaves the quotes: no comment
  EXPECT_FALSE(q::supervisord_word("a\n\nb"));
  EXPECT_FALSE(q::supervisord_word("a\rb"));
}

TEST(ExportQuote, SupervisordValuePicksAQuoteTheValueLacks) {
  EXPECT_EQ(q::supervisord_value("*"), "\"*\"");
  EXPECT_EQ(q::supervisord_value("say \"hi\" now"), "'say \"hi\" now'");
  EXPECT_EQ(q::supervisord_value("it's, 5%"), "\"it's, 5%%\"");
  EXPECT_FALSE(q::supervisord_value("it's \"both\" kinds"));
  EXPECT_FALSE(q::supervisord_value("\"edge"));
  EXPECT_FALSE(q::supervisord_value("edge'"));
  EXPECT_FALSE(q::supervisord_value("a ;comment"));
}

TEST(ExportQuote, SupervisordPlainRefusesInlineComments) {
  EXPECT_EQ(q::supervisord_plain("/var/log/x%.log"), "/var/log/x%%.log");
  EXPECT_FALSE(q::supervisord_plain("/var/log/x ;y"));
  EXPECT_FALSE(q::supervisord_plain(""));
}

TEST(ExportQuote, XmlEntitiesAndControls) {
  EXPECT_EQ(q::xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(q::xml("tab\tnew\nline ü"), "tab\tnew\nline ü");
  EXPECT_EQ(q::xml("cr\r"), "cr&#13;");
  EXPECT_FALSE(q::xml(std::string("nul\0", 4)));
  EXPECT_FALSE(q::xml("bell\a"));
}

TEST(ExportQuote, JsonAndCompose) {
  EXPECT_EQ(q::json("a\"b\\c\nd\x01 ü $x"), "\"a\\\"b\\\\c\\nd\\u0001 ü $x\"");
  EXPECT_EQ(q::compose_json("$HOME ${X}"), "\"$$HOME $${X}\"");
}
