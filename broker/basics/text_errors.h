// Where a protobuf text-format parse error really is. The parser reports a
// bad enum value where it stands after reading it, which is the next token
// and often the next line; people need the line of the value itself.
#ifndef LIAISON_BROKER_BASICS_TEXT_ERRORS_H_
#define LIAISON_BROKER_BASICS_TEXT_ERRORS_H_

#include <string>

namespace liaison {

// Moves `line` and `column` (0-based, as the parser gives them) back to the
// value an "Unknown enumeration value" `message` names, found in `text`;
// leaves them as they are for other messages.
void PointAtBadValue(const std::string& text, const std::string& message,
                     int* line, int* column);

}  // namespace liaison

#endif  // LIAISON_BROKER_BASICS_TEXT_ERRORS_H_
