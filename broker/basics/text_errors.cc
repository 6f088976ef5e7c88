#include "broker/basics/text_errors.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace liaison {

void PointAtBadValue(const std::string& text, const std::string& message,
                     int* line, int* column) {
  constexpr absl::string_view kBadEnum = "Unknown enumeration value of \"";
  if (!absl::StartsWith(message, kBadEnum) || *line < 0) return;
  const size_t close = message.find('"', kBadEnum.size());
  if (close == std::string::npos || close == kBadEnum.size()) return;
  const std::string value =
      message.substr(kBadEnum.size(), close - kBadEnum.size());
  size_t offset = 0;
  for (int l = 0; l < *line; ++l) {
    offset = text.find('\n', offset);
    if (offset == std::string::npos) return;
    ++offset;
  }
  const size_t at = text.rfind(value, offset + std::max(*column, 0));
  if (at == std::string::npos) return;
  *line = static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  const size_t line_start = text.rfind('\n', at);
  *column = static_cast<int>(
      line_start == std::string::npos ? at : at - line_start - 1);
}

}  // namespace liaison
