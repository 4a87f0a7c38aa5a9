// welld/duration.hpp — durations as users type them and as welld shows them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace welld {

/// "250ms", "10s", "2m", "1h", "1.5s", or a bare number of seconds ("10").
/// Between 0 and 1 year. Total, like every parser in parse.hpp: a value or a
/// one-line error in `error`.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error = nullptr);

/// Human duration: "3d 4h", "12m 5s", "0s".
std::string format_duration(std::chrono::seconds d);

/// A setting's duration as --stop-timeout and the like take it back: "250ms"
/// below a whole second (or not a whole number of them), else as above.
std::string format_duration_ms(std::chrono::milliseconds d);

}  // namespace welld
