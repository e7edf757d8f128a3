//===- Text.cpp - UTF-8 repair and escaping --------------------------------===//
#include "runtime/support/Text.h"

#include <cstdio>

namespace rnnc::io {

size_t utf8SequenceLength(const std::string &text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(pos);
  if (c < 0x80)
    return 1;
  size_t length = 0;
  uint32_t value = 0;
  if (c >= 0xC2 && c <= 0xDF)
    length = 2, value = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    length = 3, value = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    length = 4, value = c & 0x07;
  else
    return 0;
  if (text.size() - pos < length)
    return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80)
      return 0;
    value = value << 6 | (byte(pos + i) & 0x3F);
  }
  const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < least[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  return length;
}

bool isValidUtf8(const std::string &text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8SequenceLength(text, pos);
    if (!length)
      return false;
    pos += length;
  }
  return true;
}

std::string repairUtf8(const std::string &text) {
  if (isValidUtf8(text))
    return text;
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8SequenceLength(text, pos);
    if (length) {
      out.append(text, pos, length);
      pos += length;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[pos++]); // Latin-1: U+0080..U+00FF
    out += static_cast<char>(0xC0 | c >> 6);
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::string escapeForMessage(const std::string &text, size_t maxBytes) {
  std::string out;
  const size_t end = text.size() < maxBytes ? text.size() : maxBytes;
  for (size_t pos = 0; pos < end;) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    const size_t length = utf8SequenceLength(text, pos);
    if (length > 1 && pos + length <= end) {
      out.append(text, pos, length);
      pos += length;
      continue;
    }
    if (length == 1 && c >= 0x20 && c != 0x7F) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
    ++pos;
  }
  if (end < text.size())
    out += "...";
  return out;
}

} // namespace rnnc::io
