// Leveled logging to stderr. The level comes from STRATA_DEBUG (read once by
// runtime/config and pushed here), so lower layers log without reading env.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace strata {

enum class LogLevel { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void set_log_prefix(std::string prefix);  // e.g. "host:pid rank 3"
void log_line(LogLevel level, std::string_view text);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level <= log_level()) log_line(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace strata
