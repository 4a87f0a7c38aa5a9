// Quoting per export target: see export_quote.hpp.
#include "export_quote.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace welld::cli::quote {
namespace {

bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A C escape for a control character (systemd's cunescape reads it back).
std::string c_escape(char c) {
  switch (c) {
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    default: return fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }
}

// Inside systemd's double quotes: \ " and control characters escaped, % doubled.
std::string systemd_quoted(std::string_view text, bool dollar_doubled) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (control(c)) {
      out += c_escape(c);
    } else if (c == '%' || (dollar_doubled && c == '$')) {
      out += c;
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// An INI value line may hold `text` once each newline starts a continuation
// line (indented by one space, which the parser strips with the line's ends).
std::optional<std::string> ini_continued(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\n') {
      if (c == '\r' || c == '\0') return std::nullopt;
      out += c;
      continue;
    }
    bool after_ok = i + 1 < text.size() && !space(text[i + 1]) && text[i + 1] != '#' && text[i + 1] != ';';
    if (i == 0 || space(text[i - 1]) || !after_ok) return std::nullopt;
    out += "\n ";
  }
  return out;
}

std::string percent_doubled(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '%') out += c;
  }
  return out;
}

}  // namespace

std::string sh(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool sh_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string systemd_exec_word(std::string_view word) {
  if (word == ";") return "\\;";
  return systemd_quoted(word, true);
}

std::string systemd_environment(std::string_view assignment) { return systemd_quoted(assignment, false); }

std::optional<std::string> systemd_plain(std::string_view value) {
  if (!value.empty() && (space(value.front()) || space(value.back()))) return std::nullopt;
  for (char c : value) {
    if (control(c)) return std::nullopt;
  }
  return percent_doubled(value);
}

std::optional<std::string> supervisord_word(std::string_view word) {
  // A ; or # after white space starts an inline comment in supervisord's INI
  // parser: such a character goes outside the quotes, escaped for shlex.
  std::string out = "'";
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c == '\'') {
      out += "'\\''";
    } else if ((c == ';' || c == '#') && i > 0 && space(word[i - 1])) {
      out += fmt::format("'\\{}'", c);
    } else {
      out += c;
    }
  }
  return ini_continued(percent_doubled(out + "'"));
}

std::optional<std::string> supervisord_plain(std::string_view value) {
  if (value.empty() || space(value.front()) || space(value.back())) return std::nullopt;
  for (size_t i = 0; i < value.size(); ++i) {
    if (control(value[i])) return std::nullopt;
    if ((value[i] == ';' || value[i] == '#') && i > 0 && space(value[i - 1])) return std::nullopt;
  }
  return percent_doubled(value);
}

std::optional<std::string> supervisord_value(std::string_view value) {
  // environment= is split by shlex in non-POSIX mode: a quote ends a quoted
  // value (no escapes), and quotes at either end are stripped afterwards.
  if (!value.empty() &&
      (value.front() == '"' || value.front() == '\'' || value.back() == '"' || value.back() == '\'')) {
    return std::nullopt;
  }
  char q = value.find('"') == std::string_view::npos ? '"' : '\'';
  if (value.find(q) != std::string_view::npos) return std::nullopt;
  for (size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == ';' || value[i] == '#') && space(value[i - 1])) return std::nullopt;
  }
  return ini_continued(fmt::format("{}{}{}", q, percent_doubled(value), q));
}

std::optional<std::string> xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;  // a literal CR would be read as a newline
      default:
        if (control(c) && c != '\t' && c != '\n') return std::nullopt;
        out += c;
    }
  }
  return out;
}

std::string json(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (control(c)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string compose_json(std::string_view text) {
  std::string doubled;
  for (char c : text) {
    doubled += c;
    if (c == '$') doubled += c;
  }
  return json(doubled);
}

}  // namespace welld::cli::quote
