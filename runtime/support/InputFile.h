//===- InputFile.h - Reading a user's input file with clear errors -*- C++ -*-===//
//
// Every data file rnnrun reads goes through readInputFile: a directory, a
// device or a socket, an unreadable file and a file over the size bound each
// get a message that names the real problem; a FIFO and stdin ("-") are read
// with a poll loop that stops on SIGINT / SIGTERM (io::cancelRequested()).
#pragma once

#include <cstdint>
#include <string>

namespace rnnc::io {

enum class ReadStatus { Ok, Failed, Cancelled };

/// Reads all of `path` ("-": standard input) into `bytes`, at most `maxBytes`
/// (a larger input is an error that names the limit). `what` names the file's
/// role in messages ("CSV file", "--predict input").
ReadStatus readInputFile(const std::string &path, const std::string &what, uint64_t maxBytes, std::string &bytes,
                         std::string &error);

/// Checks that `bytes` is text rnnrun can read line by line: not UTF-16 or
/// UTF-32 (by its byte-order mark or its NUL bytes), not CR-only line
/// endings. False with a message naming `path` otherwise.
bool checkTextLayout(const std::string &path, const std::string &bytes, std::string &error);

/// "1.5 GiB", "200 MiB", "64 KiB", "12 bytes".
std::string formatBytes(uint64_t bytes);

} // namespace rnnc::io
