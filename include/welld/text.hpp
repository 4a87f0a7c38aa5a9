// welld/text.hpp — text that came from a process (a name, a command line, an
// sd_notify STATUS= line), made safe to show.
//
// Any local user can name a process (prctl(PR_SET_NAME), argv) and any daemon
// can send STATUS= text: what reaches root's terminal or a JSON consumer must
// not be able to move the cursor, retitle the window, reorder the line or
// break the parser. These two functions are the only ways welld renders such
// text; both read UTF-8 and treat every byte that is not part of a valid,
// shortest-form UTF-8 sequence for U+0000..U+10FFFF (surrogates excluded) as
// invalid, one byte at a time.
#pragma once

#include <string>
#include <string_view>

namespace welld {

/// For a terminal: valid printable UTF-8 passes unchanged; each C0 control
/// (U+0000-U+001F, including newline and tab), DEL (U+007F), C1 control
/// (U+0080-U+009F, also as a raw byte 0x80-0x9F), bidirectional override or
/// isolate (U+202A-U+202E, U+2066-U+2069) and each invalid byte becomes '?'.
std::string terminal_safe(std::string_view text);

/// A JSON string literal, quotes included, that is always valid UTF-8 JSON
/// (RFC 8259): '"' and '\' escaped; C0, DEL, C1 and the bidi controls above as
/// \uXXXX (so the JSON itself is terminal-safe); each invalid byte as \ufffd.
std::string json_string(std::string_view text);

}  // namespace welld
