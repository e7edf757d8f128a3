//===- Checksum.h - A model library's checksum trailer ----------*- C++ -*-===//
//
// rnnc appends 16 bytes to every model.so it links: "RNNCSUM1" and the
// FNV-1a 64 hash of all the bytes before them (the dynamic loader ignores
// bytes past the ELF contents). The loader verifies it before dlopen, so a
// damaged library (a flipped byte anywhere) is refused instead of run.
#pragma once

#include <cstdint>
#include <string>

namespace rnnc::io {

uint64_t fnv1a64(const void *data, size_t size, uint64_t hash = 14695981039346656037ull);

/// Appends the trailer to the library at `path`.
bool appendLibraryChecksum(const std::string &path, std::string &error);

/// Checks the trailer: false with a message when it is missing (a library
/// from an older rnnc, or cut short) or does not match (damaged).
bool verifyLibraryChecksum(const std::string &path, std::string &error);

} // namespace rnnc::io
