// UTF-8 validation for text that ends up in JSON and CSV outputs.
#ifndef REPLEARN_CORE_UTF8_H_
#define REPLEARN_CORE_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace replearn {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates
// U+D800..U+DFFF, nothing above U+10FFFF). On false, *bad_offset (when given) is the byte
// offset of the first byte that does not start or continue a valid sequence.
bool IsValidUtf8(absl::string_view s, size_t* bad_offset = nullptr);

}  // namespace replearn

#endif  // REPLEARN_CORE_UTF8_H_
