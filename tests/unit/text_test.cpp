// welld/text.hpp: the one terminal-safe renderer and the JSON string writer.
#include "welld/text.hpp"

#include <gtest/gtest.h>

namespace {

// Bidi controls built at run time: a literal holding them is what
// misc-misleading-bidirectional rightly refuses in source.
std::string rlo() { return {'\xe2', '\x80', '\xae'}; }  // U+202E RIGHT-TO-LEFT OVERRIDE
std::string lri() { return {'\xe2', '\x81', '\xa6'}; }  // U+2066 LEFT-TO-RIGHT ISOLATE
std::string lre() { return {'\xe2', '\x80', '\xaa'}; }  // U+202A
std::string pdi() { return {'\xe2', '\x81', '\xa9'}; }  // U+2069

TEST(Text, TerminalSafeReplacesEveryControlAndInvalidSequence) {
  EXPECT_EQ(welld::terminal_safe("plain text, é ü 日本"), "plain text, é ü 日本");
  EXPECT_EQ(welld::terminal_safe("a\nb\tc\x1b[2J\x7f"), "a?b?c?[2J?");
  EXPECT_EQ(welld::terminal_safe("\xc2\x9b"
                                 "31m"),
            "?31m");  // C1 CSI as UTF-8
  EXPECT_EQ(welld::terminal_safe("\x9b"
                                 "31m"),
            "?31m");  // and as a raw byte
  EXPECT_EQ(welld::terminal_safe("\xc2\x80\xc2\x9f\xc2\xa0"), "??\xc2\xa0");
  EXPECT_EQ(welld::terminal_safe("x" + rlo() + "y" + lri() + "z"), "x?y?z");  // bidi overrides and isolates
  EXPECT_EQ(welld::terminal_safe("\xe2\x80\xa9" + lre() + pdi() + "\xe2\x81\xaa"), "\xe2\x80\xa9??\xe2\x81\xaa");
  EXPECT_EQ(welld::terminal_safe("\xff\xfe"), "??");
  EXPECT_EQ(welld::terminal_safe("\xe2\x80"), "??");            // truncated
  EXPECT_EQ(welld::terminal_safe("\xc0\xaf"), "??");            // overlong '/'
  EXPECT_EQ(welld::terminal_safe("\xed\xa0\x80"), "???");       // a surrogate
  EXPECT_EQ(welld::terminal_safe("\xf4\x90\x80\x80"), "????");  // above U+10FFFF
  EXPECT_EQ(welld::terminal_safe(std::string("a\0b", 3)), "a?b");
}

TEST(Text, JsonStringIsAlwaysValidUtf8Json) {
  EXPECT_EQ(welld::json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(welld::json_string("\n\t\x01\x7f"), R"("\n\t\u0001\u007f")");
  EXPECT_EQ(welld::json_string("\xff"
                               "x"),
            R"("\ufffdx")");
  EXPECT_EQ(welld::json_string("\xc2\x9b\x9b"), R"("\u009b\ufffd")");
  EXPECT_EQ(welld::json_string(rlo() + "é"), "\"\\u202e\xc3\xa9\"");
  EXPECT_EQ(welld::json_string(std::string("\0", 1)), R"("\u0000")");
}

}  // namespace
