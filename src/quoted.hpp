// What a user typed, quoted for a one-line error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace welld::detail {

/// 'text' in single quotes, at most `max` bytes of it ("..." marks the cut),
/// through welld::terminal_safe (every control, C1, bidi control and invalid
/// UTF-8 byte shown as '?'), so that the message stays one line of plain text
/// whatever the input was.
std::string quoted(std::string_view text, size_t max = 64);

}  // namespace welld::detail
