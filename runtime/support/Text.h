//===- Text.h - Text policy: UTF-8 repair, escaping for messages -*- C++ -*-===//
//
// Corpora and user files are untrusted bytes. The policy, everywhere rnnc
// reads text it did not write:
//   - Corpus text (IMDB reviews, --predict input) is decoded as UTF-8 where it
//     is valid; every byte that is not part of a valid UTF-8 sequence is taken
//     as Latin-1 (ISO 8859-1) and re-encoded, so "caf\xE9" reads as "café",
//     the same word as the UTF-8 "caf\xC3\xA9". The result is always valid
//     UTF-8 (it can be stored as JSON in a checkpoint).
//   - Text quoted in a message (a cell, a path, a token) is escaped: control
//     characters, NUL and invalid bytes are printed as \xNN, so a message
//     never writes raw bytes to a terminal.
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

namespace rnnc::io {

/// The length of the valid UTF-8 sequence at text[pos] (1-4), or 0 if the
/// bytes there are not one (overlong forms, surrogates and values past
/// U+10FFFF are invalid).
size_t utf8SequenceLength(const std::string &text, size_t pos);

/// Whether all of `text` is valid UTF-8.
bool isValidUtf8(const std::string &text);

/// `text` with every byte outside a valid UTF-8 sequence decoded as Latin-1.
std::string repairUtf8(const std::string &text);

/// `text` for a message: valid UTF-8 printable characters as they are,
/// control characters (NUL included), DEL and invalid bytes as \xNN; cut to
/// `maxBytes` bytes of input with "..." after.
std::string escapeForMessage(const std::string &text, size_t maxBytes = 200);

} // namespace rnnc::io
