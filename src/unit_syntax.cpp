// The text forms of systemd units (see welld/unit.hpp): the Key=Value file,
// command-line words, variables, EnvironmentFile=, unit-name escapes.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "quoted.hpp"
#include "welld/text.hpp"
#include "welld/unit.hpp"

namespace welld {
namespace {

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view trimmed) {
  return !trimmed.empty() && (trimmed.front() == '#' || trimmed.front() == ';');
}

// ---- the Key=Value file -------------------------------------------------

struct FileParse {
  const std::string& file;
  std::vector<UnitEntry> entries;
  std::string section;
  std::string logical;  // the assignment being read (continuation lines joined)
  bool continued = false;
  int line = 0;
  int start_line = 0;
};

std::string where(const FileParse& st, int line) { return fmt::format("{}:{}", st.file, line); }

bool enter_section(FileParse& st, std::string_view t, std::string* error) {
  if (t.size() < 3 || t.back() != ']') {
    set(error, where(st, st.line) + ": expected a section header such as [Service], got " + detail::quoted(t));
    return false;
  }
  st.section = std::string(t.substr(1, t.size() - 2));
  return true;
}

bool finish_assignment(FileParse& st, std::string* error) {
  std::string_view text = st.logical;
  size_t eq = text.find('=');
  std::string_view key = eq == std::string_view::npos ? std::string_view() : trim(text.substr(0, eq));
  if (key.empty()) {
    set(error, where(st, st.start_line) + ": expected Key=Value, got " + detail::quoted(text));
    return false;
  }
  if (st.section.empty()) {
    set(error, where(st, st.start_line) + ": " + terminal_safe(key.substr(0, 64)) + "= is outside any [Section]");
    return false;
  }
  st.entries.push_back({.section = st.section,
                        .key = std::string(key),
                        .value = std::string(trim(text.substr(eq + 1))),
                        .file = st.file,
                        .line = st.start_line});
  st.logical.clear();
  return true;
}

// One physical line. Comment lines inside a continuation are skipped, as
// systemd.syntax(7) says.
bool feed_line(FileParse& st, std::string_view raw, std::string* error) {
  std::string_view t = trim(raw);
  if (is_comment(t) || (!st.continued && t.empty())) return true;
  if (!st.continued && t.front() == '[') return enter_section(st, t, error);
  bool more = !t.empty() && t.back() == '\\';
  if (more) t.remove_suffix(1);
  if (!st.continued) st.start_line = st.line;
  st.logical += t;
  if (more) st.logical += ' ';
  st.continued = more;
  return more || finish_assignment(st, error);
}

// ---- command-line words -------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char simple_escape(char c) {
  switch (c) {
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    case 's': return ' ';
    case ' ':  // an escaped separator
    case '\\':
    case '"':
    case '\'':
    case ';':
    case '$': return c;
    default: return 0;
  }
}

// A number of `count` digits in `base` at s[i...]; -1 when they are not all there.
int escaped_number(std::string_view s, size_t i, size_t count, int base) {
  if (i + count > s.size()) return -1;
  int v = 0;
  for (size_t k = 0; k < count; ++k) {
    int d = hex_value(s[i + k]);
    if (d < 0 || d >= base) return -1;
    v = v * base + d;
  }
  return v;
}

// The escape at s[i] (just after the backslash): appended to out, i moved past it.
bool read_escape(std::string_view s, size_t& i, std::string& out, std::string* error) {
  if (i >= s.size()) {
    set(error, "a backslash ends the command line");
    return false;
  }
  if (char c = simple_escape(s[i])) {
    out += c;
    ++i;
    return true;
  }
  bool hex = s[i] == 'x';
  int v = hex ? escaped_number(s, i + 1, 2, 16) : escaped_number(s, i, 3, 8);
  if (v <= 0 || v > 255) {
    set(error, R"(unknown escape \)" + terminal_safe(s.substr(i, 1)) + R"( (\n, \t, \xNN, \NNN, \\, \", \' ...))");
    return false;
  }
  out += static_cast<char>(v);
  i += 3;  // xNN or NNN
  return true;
}

bool read_quoted(std::string_view s, size_t& i, std::string& out, std::string* error) {
  char quote = s[i++];
  while (i < s.size() && s[i] != quote) {
    if (s[i] != '\\') {
      out += s[i++];
    } else if (!read_escape(s, ++i, out, error)) {
      return false;
    }
  }
  if (i >= s.size()) {
    set(error, fmt::format("unfinished {} quote", quote == '"' ? "double" : "single"));
    return false;
  }
  ++i;
  return true;
}

struct Word {
  std::string text;
  bool separator = false;  // an unquoted, unescaped lone ";"
};

bool read_word(std::string_view s, size_t& i, Word& w, std::string* error) {
  size_t start = i;
  bool plain = true;
  while (i < s.size() && !is_space(s[i])) {
    if (s[i] == '"' || s[i] == '\'') {
      plain = false;
      if (!read_quoted(s, i, w.text, error)) return false;
    } else if (s[i] == '\\') {
      plain = false;
      if (!read_escape(s, ++i, w.text, error)) return false;
    } else {
      w.text += s[i++];
    }
  }
  w.separator = plain && s.substr(start, i - start) == ";";
  return true;
}

// ---- variables ----------------------------------------------------------

bool name_char(char c, bool first) {
  return c == '_' || std::isalpha(static_cast<unsigned char>(c)) != 0 ||
         (!first && std::isdigit(static_cast<unsigned char>(c)) != 0);
}

bool valid_name(std::string_view s) {
  return !s.empty() && name_char(s.front(), true) && std::ranges::all_of(s, [](char c) { return name_char(c, false); });
}

std::string lookup(const std::vector<std::string>& env, std::string_view name) {
  auto last = std::find_if(env.rbegin(), env.rend(), [&](const std::string& entry) {
    return entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
  });
  return last == env.rend() ? std::string() : last->substr(name.size() + 1);
}

// ${NAME} and $$ inside a word.
std::string expand_in_word(std::string_view w, const std::vector<std::string>& env) {
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) {
    size_t close = w.substr(i).starts_with("${") ? w.find('}', i + 2) : std::string_view::npos;
    if (w.substr(i).starts_with("$$")) {
      out += '$';
      ++i;
    } else if (close != std::string_view::npos && valid_name(w.substr(i + 2, close - i - 2))) {
      out += lookup(env, w.substr(i + 2, close - i - 2));
      i = close;
    } else {
      out += w[i];
    }
  }
  return out;
}

void split_value(const std::string& value, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && is_space(value[i])) ++i;
    size_t start = i;
    while (i < value.size() && !is_space(value[i])) ++i;
    if (i > start) out.push_back(value.substr(start, i - start));
  }
}

// ---- EnvironmentFile= ---------------------------------------------------

struct EnvParse {
  std::string_view s;
  size_t i = 0;
  const std::string& file;
  std::vector<std::string> out;
};

std::string env_where(const EnvParse& p, size_t at) {
  int line = 1;
  for (size_t k = 0; k < at && k < p.s.size(); ++k) line += p.s[k] == '\n' ? 1 : 0;
  return fmt::format("{}:{}", p.file, line);
}

void skip_to_line_end(EnvParse& p) {
  while (p.i < p.s.size() && p.s[p.i] != '\n') ++p.i;
}

// "..." with \" \\ \$ \` and backslash-newline (dropped), as systemd's env-file.c.
bool env_double_quoted(EnvParse& p, std::string& value, std::string* error) {
  size_t start = p.i++;
  while (p.i < p.s.size() && p.s[p.i] != '"') {
    char c = p.s[p.i++];
    if (c == '\\' && p.i < p.s.size()) {
      char next = p.s[p.i++];
      if (next != '\n') value += std::string_view("\"\\`$").find(next) == std::string_view::npos ? "\\" : "";
      if (next != '\n') value += next;
    } else {
      value += c;
    }
  }
  if (p.i >= p.s.size()) {
    set(error, env_where(p, start) + ": unfinished double quote");
    return false;
  }
  ++p.i;
  return true;
}

bool env_single_quoted(EnvParse& p, std::string& value, std::string* error) {
  size_t start = p.i++;
  size_t close = p.s.find('\'', p.i);
  if (close == std::string_view::npos) {
    set(error, env_where(p, start) + ": unfinished single quote");
    return false;
  }
  value += p.s.substr(p.i, close - p.i);
  p.i = close + 1;
  return true;
}

// Unquoted: up to the end of the line, a backslash escapes the next
// character (a newline: the value goes on), trailing whitespace removed.
void env_plain(EnvParse& p, std::string& value) {
  size_t keep = value.size();
  while (p.i < p.s.size() && p.s[p.i] != '\n') {
    char c = p.s[p.i++];
    if (c == '\\' && p.i < p.s.size()) c = p.s[p.i++];
    if (c == '\n') continue;
    value += c;
    if (!is_space(c)) keep = value.size();
  }
  value.resize(keep);
}

bool env_value(EnvParse& p, std::string& value, std::string* error) {
  while (p.i < p.s.size() && (p.s[p.i] == ' ' || p.s[p.i] == '\t')) ++p.i;
  while (p.i < p.s.size() && p.s[p.i] != '\n') {
    char c = p.s[p.i];
    if (c == '"' && !env_double_quoted(p, value, error)) return false;
    if (c == '\'' && !env_single_quoted(p, value, error)) return false;
    if (c != '"' && c != '\'') env_plain(p, value);
  }
  return true;
}

bool env_assignment(EnvParse& p, std::string* error) {
  size_t start = p.i;
  size_t eq = p.s.find('=', p.i);
  size_t eol = p.s.find('\n', p.i);
  if (eq == std::string_view::npos || (eol != std::string_view::npos && eol < eq)) {
    set(error, env_where(p, start) + ": expected KEY=VALUE");
    return false;
  }
  std::string_view key = trim(p.s.substr(p.i, eq - p.i));
  if (!valid_name(key)) {
    set(error, env_where(p, start) + ": invalid variable name " + detail::quoted(key));
    return false;
  }
  p.i = eq + 1;
  std::string value;
  if (!env_value(p, value, error)) return false;
  p.out.push_back(std::string(key) + "=" + value);
  return true;
}

}  // namespace

std::optional<std::vector<UnitEntry>> parse_unit_text(std::string_view text, const std::string& file,
                                                      std::string* error) {
  FileParse st{.file = file};
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view raw = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++st.line;
    if (!feed_line(st, raw, error)) return std::nullopt;
  }
  if (st.continued && !finish_assignment(st, error)) return std::nullopt;
  return std::move(st.entries);
}

std::optional<std::vector<std::vector<std::string>>> split_command_words(std::string_view text, std::string* error) {
  std::vector<std::vector<std::string>> commands(1);
  size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    Word w;
    if (!read_word(text, i, w, error)) return std::nullopt;
    if (w.separator) {
      commands.emplace_back();
    } else {
      commands.back().push_back(std::move(w.text));
    }
  }
  return commands;
}

std::vector<std::string> expand_variables(const std::vector<std::string>& words, const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const auto& w : words) {
    std::string_view word = w;
    if (word.size() > 1 && word.front() == '$' && valid_name(word.substr(1))) {
      split_value(lookup(env, word.substr(1)), out);
    } else {
      out.push_back(expand_in_word(w, env));
    }
  }
  return out;
}

std::optional<std::vector<std::string>> parse_environment_file(std::string_view text, const std::string& file,
                                                               std::string* error) {
  EnvParse p{.s = text, .file = file};
  while (p.i < p.s.size()) {
    while (p.i < p.s.size() && is_space(p.s[p.i])) ++p.i;
    if (p.i >= p.s.size()) break;
    if (p.s[p.i] == '#' || p.s[p.i] == ';') {
      skip_to_line_end(p);
    } else if (!env_assignment(p, error)) {
      return std::nullopt;
    }
  }
  return std::move(p.out);
}

std::string unescape_unit_name(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = text.substr(i).starts_with("\\x") ? escaped_number(text, i + 2, 2, 16) : -1;
    if (v > 0) {
      out += static_cast<char>(v);
      i += 3;
    } else {
      out += text[i] == '-' ? '/' : text[i];
    }
  }
  return out;
}

}  // namespace welld
