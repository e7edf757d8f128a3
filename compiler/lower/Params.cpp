//===- Params.cpp - A call's named parameters against its spec ------------===//
#include "compiler/lower/Params.h"

#include "compiler/support/Format.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace rnnc {

using ir::Attr;
using ir::AttrMap;

namespace {

std::string formatNumber(double x, ParamType type) {
  if (type == ParamType::Int && std::fabs(x) < 9.3e18)
    return std::to_string(static_cast<int64_t>(x));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

} // namespace

/// Converts a value to the declared parameter type, or reports why not.
std::optional<Attr> coerceParam(const ParamSpec &spec, const Attr &v, SourceLoc loc, const std::string &owner,
                                Diagnostics &diag) {
  auto wrongType = [&]() -> std::optional<Attr> {
    diag.error(loc, "parameter '" + spec.name + "' of " + owner + " must be " +
                         paramTypeName(spec.type) + ", got " + v.str());
    return std::nullopt;
  };
  Attr result = v;
  switch (spec.type) {
  case ParamType::Int:
    if (v.kind == Attr::Kind::Float && std::floor(v.f) == v.f && std::fabs(v.f) < 9e15)
      result = Attr::ofInt(static_cast<int64_t>(v.f));
    else if (v.kind != Attr::Kind::Int)
      return wrongType();
    break;
  case ParamType::Float:
    if (!v.isNumber())
      return wrongType();
    result = Attr::ofFloat(v.number());
    break;
  case ParamType::Bool:
    if (v.kind != Attr::Kind::Bool)
      return wrongType();
    return result;
  case ParamType::String:
    if (v.kind != Attr::Kind::String)
      return wrongType();
    if (!spec.choices.empty()) {
      bool ok = false;
      std::string list;
      for (const std::string &c : spec.choices) {
        ok |= c == v.s;
        list += (list.empty() ? "" : ", ") + quote(c);
      }
      if (!ok) {
        diag.error(loc, "parameter '" + spec.name + "' of " + owner + " must be one of " +
                             list + ", got " + v.str());
        return std::nullopt;
      }
    }
    return result;
  case ParamType::Tensor: return wrongType(); // taken apart before (tensorParams)
  case ParamType::StringList:
  case ParamType::FloatList:
  case ParamType::ValueList: {
    if (v.kind != Attr::Kind::List)
      return wrongType();
    std::vector<Attr> items;
    for (const Attr &item : v.list) {
      bool ok = spec.type == ParamType::StringList ? item.kind == Attr::Kind::String
                : spec.type == ParamType::FloatList
                    ? item.isNumber()
                    : (item.isNumber() || item.kind == Attr::Kind::String);
      if (!ok)
        return wrongType();
      items.push_back(spec.type == ParamType::FloatList ? Attr::ofFloat(item.number()) : item);
    }
    return Attr::ofList(std::move(items));
  }
  }
  // Range check for numbers.
  double x = result.number();
  bool low = spec.minExclusive ? x <= spec.min : x < spec.min;
  bool high = spec.maxExclusive ? x >= spec.max : x > spec.max;
  if (low || high) {
    std::string range = std::string(spec.minExclusive ? "(" : "[") +
                        formatNumber(spec.min, spec.type) + ", " +
                        formatNumber(spec.max, spec.type) + (spec.maxExclusive ? ")" : "]");
    diag.error(loc, "parameter '" + spec.name + "' of " + owner + " must be in " + range +
                         ", got " + v.str());
    return std::nullopt;
  }
  return result;
}

bool checkParams(const CallSpec &spec, const std::vector<NamedValue> &given, SourceLoc callLoc,
                 const std::string &owner, AttrMap &out, Diagnostics &diag, const ConstantOf &constant) {
  bool ok = true;
  std::map<std::string, SourceLoc> seen;
  std::vector<std::string> names;
  for (const ParamSpec &p : spec.params)
    names.push_back(p.name);
  std::set<std::string> invalid; // given but wrong: not also "missing"
  for (const NamedValue &nv : given) {
    const ParamSpec *p = spec.param(nv.name);
    if (!p) {
      std::string message = "unknown parameter '" + nv.name + "' for " + owner;
      if (auto best = closestName(nv.name, names))
        message += "; did you mean '" + *best + "'?";
      else if (!names.empty()) {
        std::string list;
        for (const std::string &n : names)
          list += (list.empty() ? "" : ", ") + n;
        message += " (expected " + list + ")";
      } else {
        message += " (it takes no parameters)";
      }
      diag.error(nv.loc, message);
      ok = false;
      continue;
    }
    auto [it, inserted] = seen.emplace(nv.name, nv.loc);
    if (!inserted) {
      diag.error(nv.loc, "parameter '" + nv.name + "' of " + owner + " is given twice");
      diag.note(it->second, "first given here");
      ok = false;
      continue;
    }
    std::optional<Attr> v = constant(*nv.value);
    std::optional<Attr> converted = v ? coerceParam(*p, *v, nv.value->loc, owner, diag) : std::nullopt;
    if (!converted) {
      invalid.insert(p->name);
      ok = false;
      continue;
    }
    out.set(p->name, *converted);
  }
  AttrMap ordered; // in table order, defaults filled in
  for (const ParamSpec &p : spec.params) {
    if (const Attr *a = out.find(p.name))
      ordered.set(p.name, *a);
    else if (p.defaultValue)
      ordered.set(p.name, *p.defaultValue);
    else if (p.required && !invalid.count(p.name)) {
      diag.error(callLoc, "missing required parameter '" + p.name + "' for " + owner + " (" +
                               p.help + ")");
      ok = false;
    }
  }
  out = ordered;
  return ok;
}

} // namespace rnnc
