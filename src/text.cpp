// The one terminal-safe renderer (and its JSON twin): see welld/text.hpp.
#include "welld/text.hpp"

#include <cstdint>
#include <cstdio>

namespace welld {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decode one code point at text[i]; `length` is the bytes it took (1 for an
// invalid byte, which yields kInvalid). Shortest form only, no surrogates,
// nothing above U+10FFFF (RFC 3629).
char32_t decode(std::string_view text, size_t i, size_t& length) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  unsigned char lead = byte(0);
  length = 1;
  if (lead < 0x80) return lead;
  size_t n = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((lead & 0xE0) == 0xC0) {
    n = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return kInvalid;
  }
  if (i + n > text.size()) return kInvalid;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalid;
  length = n;
  return cp;
}

// What a terminal must never receive from a process.
bool unsafe(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    char32_t cp = decode(text, i, length);
    if (cp == kInvalid || unsafe(cp)) {
      out += '?';
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    char32_t cp = decode(text, i, length);
    if (cp == kInvalid) {
      out += "\\ufffd";
    } else if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (unsafe(cp)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned>(cp & 0xFFFF));
      out += hex;
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out + "\"";
}

}  // namespace welld
