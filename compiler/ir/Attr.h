//===- Attr.h - Compile-time attributes of ops and sections -----*- C++ -*-===//
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rnnc::ir {

/// A constant attached to an op: int, float, bool, string or a list of these.
struct Attr {
  enum class Kind { Int, Float, Bool, String, List };
  Kind kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<Attr> list;

  static Attr ofInt(int64_t v) { Attr a; a.kind = Kind::Int; a.i = v; return a; }
  static Attr ofFloat(double v) { Attr a; a.kind = Kind::Float; a.f = v; return a; }
  static Attr ofBool(bool v) { Attr a; a.kind = Kind::Bool; a.b = v; return a; }
  static Attr ofString(std::string v) { Attr a; a.kind = Kind::String; a.s = std::move(v); return a; }
  static Attr ofList(std::vector<Attr> v) { Attr a; a.kind = Kind::List; a.list = std::move(v); return a; }

  /// Int or Float as a double.
  double number() const { return kind == Kind::Int ? static_cast<double>(i) : f; }
  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  bool operator==(const Attr &o) const;
  std::string str() const; ///< IR text: 128, 0.5, true, "relu", [1, 2]
};

const char *attrKindName(Attr::Kind kind);

/// Named attributes, kept in insertion order so that printing is stable and
/// reads in the order the compiler (or the user) wrote them.
class AttrMap {
public:
  void set(const std::string &name, Attr value);
  const Attr *find(const std::string &name) const;
  bool has(const std::string &name) const { return find(name) != nullptr; }
  /// Typed getters for attributes the verifier has already checked.
  int64_t getInt(const std::string &name, int64_t fallback = 0) const;
  double getNumber(const std::string &name, double fallback = 0) const;
  bool getBool(const std::string &name, bool fallback = false) const;
  std::string getString(const std::string &name, const std::string &fallback = "") const;

  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<std::string, Attr>> &entries() const { return entries_; }
  bool operator==(const AttrMap &o) const { return entries_ == o.entries_; }
  std::string str() const; ///< {a = 1, b = "x"}

private:
  std::vector<std::pair<std::string, Attr>> entries_;
};

} // namespace rnnc::ir
