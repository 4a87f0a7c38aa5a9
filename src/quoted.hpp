// What a user typed, quoted for a one-line error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace welld::detail {

/// 'text' in single quotes, at most `max` bytes of it ("..." marks the cut),
/// each non-printable byte (a newline, a NUL, an escape) shown as '?', so that
/// the message stays one line of plain text whatever the input was.
std::string quoted(std::string_view text, size_t max = 64);

}  // namespace welld::detail
