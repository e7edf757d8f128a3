//===- Attr.cpp - Attribute values and ordered attribute maps -------------===//
#include "compiler/ir/Attr.h"

#include "compiler/support/Format.h"

namespace rnnc::ir {

const char *attrKindName(Attr::Kind kind) {
  switch (kind) {
  case Attr::Kind::Int: return "integer";
  case Attr::Kind::Float: return "number";
  case Attr::Kind::Bool: return "boolean";
  case Attr::Kind::String: return "string";
  case Attr::Kind::List: return "list";
  }
  return "?";
}

bool Attr::operator==(const Attr &o) const {
  if (kind != o.kind)
    return false;
  switch (kind) {
  case Kind::Int: return i == o.i;
  case Kind::Float: return f == o.f || (f != f && o.f != o.f);
  case Kind::Bool: return b == o.b;
  case Kind::String: return s == o.s;
  case Kind::List: return list == o.list;
  }
  return false;
}

std::string Attr::str() const {
  switch (kind) {
  case Kind::Int: return std::to_string(i);
  case Kind::Float: return formatDouble(f);
  case Kind::Bool: return b ? "true" : "false";
  case Kind::String: return quote(s);
  case Kind::List: {
    std::string out = "[";
    for (size_t k = 0; k < list.size(); ++k)
      out += (k ? ", " : "") + list[k].str();
    return out + "]";
  }
  }
  return "?";
}

void AttrMap::set(const std::string &name, Attr value) {
  for (auto &entry : entries_)
    if (entry.first == name) {
      entry.second = std::move(value);
      return;
    }
  entries_.emplace_back(name, std::move(value));
}

const Attr *AttrMap::find(const std::string &name) const {
  for (const auto &entry : entries_)
    if (entry.first == name)
      return &entry.second;
  return nullptr;
}

int64_t AttrMap::getInt(const std::string &name, int64_t fallback) const {
  const Attr *a = find(name);
  return a && a->kind == Attr::Kind::Int ? a->i : fallback;
}

double AttrMap::getNumber(const std::string &name, double fallback) const {
  const Attr *a = find(name);
  return a && a->isNumber() ? a->number() : fallback;
}

bool AttrMap::getBool(const std::string &name, bool fallback) const {
  const Attr *a = find(name);
  return a && a->kind == Attr::Kind::Bool ? a->b : fallback;
}

std::string AttrMap::getString(const std::string &name, const std::string &fallback) const {
  const Attr *a = find(name);
  return a && a->kind == Attr::Kind::String ? a->s : fallback;
}

std::string AttrMap::str() const {
  std::string out = "{";
  for (size_t k = 0; k < entries_.size(); ++k)
    out += (k ? ", " : "") + entries_[k].first + " = " + entries_[k].second.str();
  return out + "}";
}

} // namespace rnnc::ir
