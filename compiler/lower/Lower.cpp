//===- Lower.cpp - Name resolution, layer expansion, shape inference ------===//
#include "compiler/lower/Lower.h"

#include "compiler/ir/OpFacts.h"
#include "compiler/lower/DataBinding.h"
#include "compiler/lower/LayerTable.h"
#include "compiler/lower/Params.h"
#include "compiler/support/Format.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace rnnc {
namespace {

using ir::Attr;
using ir::AttrMap;
using ir::Dim;
using ir::DType;
using ir::Graph;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::ValueId;

/// What a name in the model refers to.
struct Symbol {
  enum class Kind { Const, Input, Target, Value };
  Kind kind;
  SourceLoc loc;
  Attr constant;     ///< Const
  ValueId value = 0; ///< Input/Target/Value
  bool used = false;
  bool imported = false; ///< a training stub's name for a value of its base
};

const char *symbolKindName(Symbol::Kind kind) {
  switch (kind) {
  case Symbol::Kind::Const: return "constant";
  case Symbol::Kind::Input: return "input";
  case Symbol::Kind::Target: return "target";
  case Symbol::Kind::Value: return "value";
  }
  return "?";
}

class Lowering {
public:
  Lowering(Diagnostics &diag) : diag_(diag) {}

  /// `base`: the graph a training stub adds to (lowerStub); none for a model.
  std::optional<Graph> run(const ast::File &file, SourceLoc fileLoc, std::optional<Graph> base = std::nullopt,
                           const std::string &baseWhat = "") {
    unsigned errorsBefore = diag_.errorCount();
    if (base)
      adoptBase(std::move(*base), baseWhat, fileLoc);
    for (const ast::Stmt &c : file.constants)
      declareConst(c);
    if (file.models.empty()) {
      diag_.error(fileLoc, "no model in this file (expected 'model NAME { ... }')");
      return std::nullopt;
    }
    for (size_t i = 1; i < file.models.size(); ++i) {
      diag_.error(file.models[i].loc, "only one model per file is allowed");
      diag_.note(file.models[0].loc, "the first model is '" + file.models[0].name + "'");
    }
    const ast::Model &model = file.models[0];
    graph_.name = model.name;
    graph_.loc = model.loc;
    for (const ast::Stmt &s : model.stmts)
      statement(s);
    finish(model);
    if (diag_.errorCount() != errorsBefore)
      return std::nullopt;
    return std::move(graph_);
  }

private:
  // --- Names ----------------------------------------------------------------

  bool declare(const std::string &name, SourceLoc loc, Symbol symbol) {
    auto it = symbols_.find(name);
    if (it != symbols_.end() && it->second.imported) {
      diag_.error(loc, "'" + name + "' is already defined: it is " +
                           (it->second.kind == Symbol::Kind::Input ? "an input" : "the output") + " of " + baseWhat_);
      return false;
    }
    if (it != symbols_.end()) {
      diag_.error(loc, "'" + name + "' is already defined");
      diag_.note(it->second.loc, "previous definition of '" + name + "' (a " +
                                     symbolKindName(it->second.kind) + ") is here");
      return false;
    }
    symbol.loc = loc;
    symbols_.emplace(name, symbol);
    order_.push_back(name);
    return true;
  }

  /// Reports an undefined name, with a suggestion when one is close (and, in
  /// a training stub, the names its base offers).
  void undefined(const std::string &name, SourceLoc loc, const char *what) {
    std::vector<std::string> candidates(order_.begin(), order_.end());
    std::string message = "undefined " + std::string(what) + " '" + name + "'";
    if (auto best = closestName(name, candidates))
      message += "; did you mean '" + *best + "'?";
    if (!baseWhat_.empty() && std::string(what) == "name")
      message += " (" + baseWhat_ + " has " + baseNames_ + ")";
    diag_.error(loc, message);
  }

  /// A training stub's base: the stub's model adds to it, and sees its inputs
  /// and its output by name.
  void adoptBase(Graph base, const std::string &what, SourceLoc loc) {
    RNNC_ASSERT(base.output && !base.loss, "a training stub's base has an output and no loss");
    graph_ = std::move(base);
    baseWhat_ = what;
    std::string inputs;
    auto adopt = [&](ValueId id, Symbol::Kind kind) {
      Symbol sym{kind};
      sym.value = id;
      sym.used = true; // used by the base
      sym.imported = true;
      declare(graph_.op(id).name, loc, sym);
    };
    for (ValueId id = 0; id < graph_.size(); ++id)
      if (graph_.op(id).kind == OpKind::Input) {
        adopt(id, Symbol::Kind::Input);
        inputs += (inputs.empty() ? "'" : ", '") + graph_.op(id).name + "'";
        if (batchSymbol_.empty() && graph_.op(id).type.rank() > 0)
          batchSymbol_ = graph_.op(id).type.dims[0].symbol;
      }
    if (!symbols_.count(graph_.op(*graph_.output).name))
      adopt(*graph_.output, Symbol::Kind::Value);
    baseNames_ = (inputs.empty() ? "no inputs" : "input " + inputs) + " and output '" +
                 graph_.op(*graph_.output).name + "'";
  }

  void declareConst(const ast::Stmt &s) {
    std::optional<Attr> value = constantValue(*s.value, 0);
    if (!value)
      return;
    Symbol sym{Symbol::Kind::Const};
    sym.constant = *value;
    declare(s.name, s.nameLoc, sym);
  }

  /// Evaluates an expression that must be a compile-time constant.
  std::optional<Attr> constantValue(const ast::Expr &e, int depth) {
    using K = ast::Expr::Kind;
    switch (e.kind) {
    case K::Int: return Attr::ofInt(e.intValue);
    case K::Float:
      return Attr::ofFloat(e.floatValue);
    case K::Bool: return Attr::ofBool(e.boolValue);
    case K::String: return Attr::ofString(e.text);
    case K::List: {
      std::vector<Attr> items;
      for (const auto &item : e.items) {
        std::optional<Attr> v = constantValue(*item, depth + 1);
        if (!v)
          return std::nullopt;
        items.push_back(*v);
      }
      return Attr::ofList(std::move(items));
    }
    case K::Name: {
      auto it = symbols_.find(e.text);
      if (it == symbols_.end()) {
        undefined(e.text, e.loc, "constant");
        return std::nullopt;
      }
      if (it->second.kind != Symbol::Kind::Const) {
        diag_.error(e.loc, "'" + e.text + "' is a tensor " + symbolKindName(it->second.kind) +
                               ", but a constant is needed here");
        if (!it->second.imported)
          diag_.note(it->second.loc, "'" + e.text + "' is defined here");
        return std::nullopt;
      }
      it->second.used = true;
      return it->second.constant;
    }
    case K::Call:
      diag_.error(e.loc, "a constant is needed here, not a call to '" + e.text + "'");
      return std::nullopt;
    }
    return std::nullopt;
  }

  // --- Parameters of calls and settings (Params.h) ---------------------------

  bool checkParams(const CallSpec &spec, const std::vector<NamedValue> &given, SourceLoc callLoc,
                   const std::string &owner, AttrMap &out) {
    return rnnc::checkParams(spec, given, callLoc, owner, out, diag_,
                             [&](const ast::Expr &e) { return constantValue(e, 0); });
  }

  // --- Graph building ----------------------------------------------------------

  std::optional<ValueId> addOp(OpKind kind, std::vector<ValueId> operands, AttrMap attrs,
                               const std::string &name, SourceLoc loc) {
    std::vector<TensorType> types;
    for (ValueId v : operands)
      types.push_back(graph_.op(v).type);
    std::string error;
    std::optional<TensorType> type = ir::inferType(kind, types, attrs, error);
    if (!type) {
      diag_.error(loc, error);
      return std::nullopt;
    }
    TensorType perSample = *type; // the batch dimension counted as 1
    for (Dim &d : perSample.dims)
      if (d.isSymbolic())
        d = Dim::fixed(1);
    if (!perSample.elementCount()) {
      diag_.error(loc, std::string(ir::opInfo(kind).mnemonic) + " result " + type->str() +
                           " has more than 2^31-1 elements per sample");
      return std::nullopt;
    }
    // A sequence computed from a sequence with lengths has those lengths.
    std::optional<ValueId> lengths;
    const int lengthsAt = ir::lengthsOperand(kind);
    for (size_t k = 0; k < operands.size() && !lengths; ++k)
      if (static_cast<int>(k) != lengthsAt)
        if (auto it = seqLengths_.find(operands[k]); it != seqLengths_.end() && type->rank() == 3 &&
                                                     graph_.op(operands[k]).type.dims[1] == type->dims[1])
          lengths = it->second;
    if (type->rank() == 3 && lengthsAt >= 0 && static_cast<int>(operands.size()) > lengthsAt)
      lengths = operands[lengthsAt];
    Op op{kind, graph_.uniqueName(name), std::move(operands), std::move(attrs), *type, loc};
    const ValueId id = graph_.add(std::move(op));
    if (lengths)
      seqLengths_[id] = *lengths;
    return id;
  }

  std::optional<ValueId> addParam(const std::string &name, std::vector<int64_t> shape,
                                  AttrMap init, SourceLoc loc) {
    TensorType type{DType::F32, {}};
    for (int64_t d : shape)
      type.dims.push_back(Dim::fixed(d));
    if (!type.elementCount()) {
      std::string dims;
      for (int64_t d : shape)
        dims += (dims.empty() ? "" : " x ") + std::to_string(d);
      diag_.error(loc, "parameter '" + name + "' (" + dims + ") would have more than 2^31-1 elements");
      return std::nullopt;
    }
    if (graph_.find(name)) {
      diag_.error(loc, "parameter name '" + name + "' is already taken");
      return std::nullopt;
    }
    Op op{OpKind::Param, name, {}, std::move(init), type, loc};
    return graph_.add(std::move(op));
  }

  static AttrMap uniformInit(double bound) {
    AttrMap a;
    a.set("init", Attr::ofString("uniform"));
    a.set("bound", Attr::ofFloat(bound));
    return a;
  }

  // --- Statements ----------------------------------------------------------------

  void statement(const ast::Stmt &s) {
    using K = ast::Stmt::Kind;
    switch (s.kind) {
    case K::Const: declareConst(s); break;
    case K::Input:
    case K::Target: declareInput(s); break;
    case K::Assign: assign(s); break;
    case K::Output:
      if (output_) {
        diag_.error(s.loc, "the model already has an output");
        diag_.note(output_->loc, "the first output is declared here");
        break;
      }
      if (std::optional<ValueId> v = valueRef(s.name, s.nameLoc))
        output_ = Ref{*v, s.loc};
      break;
    case K::Loss: loss(s); break;
    case K::Optimizer: optimizer(s); break;
    case K::Train:
    case K::Data: section(s); break;
    }
  }

  void declareInput(const ast::Stmt &s) {
    const bool isTarget = s.kind == ast::Stmt::Kind::Target;
    const ast::TensorTypeExpr &t = *s.type;
    bool ok = true;
    std::optional<DType> dtype = ir::parseDType(t.dtype);
    if (!dtype) {
      diag_.error(t.dtypeLoc, "unknown element type '" + t.dtype + "' (expected f32 or i32)");
      ok = false;
    }
    TensorType type{dtype.value_or(DType::F32), {}};
    if (t.dims.empty()) {
      diag_.error(t.loc, "'" + s.name + "' needs a batch dimension, e.g. " + t.dtype + "[batch]");
      ok = false;
    }
    for (size_t d = 0; d < t.dims.size(); ++d) {
      const ast::Dim &dim = t.dims[d];
      if (dim.size) {
        if (*dim.size < 1 || *dim.size > ir::kMaxElements) {
          diag_.error(dim.loc, "dimension size must be in [1, 2147483647], got " +
                                   std::to_string(*dim.size));
          ok = false;
        }
        type.dims.push_back(Dim::fixed(*dim.size));
        continue;
      }
      auto it = symbols_.find(dim.name);
      if (it != symbols_.end() && it->second.kind == Symbol::Kind::Const) {
        it->second.used = true;
        const Attr &c = it->second.constant;
        if (c.kind != Attr::Kind::Int || c.i < 1 || c.i > ir::kMaxElements) {
          diag_.error(dim.loc, "constant '" + dim.name + "' used as a dimension must be an integer in [1, 2147483647], got " + c.str());
          ok = false;
        }
        type.dims.push_back(Dim::fixed(c.i));
      } else if (d == 0) {
        if (!batchSymbol_.empty() && batchSymbol_ != dim.name) {
          diag_.error(dim.loc, "every input must use the same batch dimension '" + batchSymbol_ +
                                   "', got '" + dim.name + "'");
          ok = false;
        } else {
          batchSymbol_ = dim.name;
        }
        type.dims.push_back(Dim::symbolic(dim.name));
      } else {
        undefined(dim.name, dim.loc, "constant");
        diag_.note(dim.loc, "only the first (batch) dimension may be symbolic");
        ok = false;
      }
    }
    if (type.dims.size() > 8) {
      diag_.error(t.loc, "tensors of rank above 8 are not supported");
      ok = false;
    }
    TensorType perSample = type;
    for (Dim &d : perSample.dims)
      d = d.isSymbolic() ? Dim::fixed(1) : d;
    if (ok && !perSample.elementCount()) {
      diag_.error(t.loc, "'" + s.name + "' would have more than 2^31-1 elements per sample");
      ok = false;
    }
    AttrMap attrs;
    if (s.classes) {
      std::optional<Attr> classes = constantValue(*s.classes, 0);
      if (!classes) {
        ok = false;
      } else if (classes->kind != Attr::Kind::Int || classes->i < 2 || classes->i > ir::kMaxElements) {
        diag_.error(s.classes->loc, "classes must be an integer of at least 2, got " + classes->str());
        ok = false;
      } else if (type.dtype != DType::I32) {
        diag_.error(s.classes->loc, "a target with classes holds class ids and must be i32, got " +
                                        type.str());
        ok = false;
      } else {
        attrs.set("classes", *classes);
      }
    }
    if (!ok) {
      poison(s.name, s.nameLoc);
      return;
    }
    if (symbols_.count(s.name)) {
      declare(s.name, s.nameLoc, Symbol{Symbol::Kind::Input});
      return;
    }
    if (graph_.find(s.name)) { // a value of a stub's base that has no name in the stub
      diag_.error(s.nameLoc, "'" + s.name + "' is the name of a value inside " + baseWhat_ + "; choose another name");
      return;
    }
    Op op{isTarget ? OpKind::Target : OpKind::Input, s.name, {}, attrs, type, s.loc};
    ValueId id = graph_.add(std::move(op));
    Symbol sym{isTarget ? Symbol::Kind::Target : Symbol::Kind::Input};
    sym.value = id;
    declare(s.name, s.nameLoc, sym);
  }

  /// Remembers that a name was declared but failed, so later uses do not
  /// report it as undefined.
  void poison(const std::string &name, SourceLoc loc) {
    if (!symbols_.count(name))
      poisoned_[name] = loc;
  }

  void assign(const ast::Stmt &s) {
    if (symbols_.count(s.name)) {
      declare(s.name, s.nameLoc, Symbol{Symbol::Kind::Value}); // reports the duplicate
      return;
    }
    if (s.value->kind != ast::Expr::Kind::Call && s.value->kind != ast::Expr::Kind::Name) {
      diag_.error(s.value->loc, "'" + s.name + "' must be given a layer call or a value; "
                                "declare numbers and strings with 'const " + s.name + " = ...'");
      poison(s.name, s.nameLoc);
      return;
    }
    std::optional<ValueId> v = expr(*s.value, s.name);
    if (!v) {
      poison(s.name, s.nameLoc);
      return;
    }
    Symbol sym{Symbol::Kind::Value};
    sym.value = *v;
    declare(s.name, s.nameLoc, sym);
  }

  std::optional<ValueId> valueRef(const std::string &name, SourceLoc loc) {
    auto it = symbols_.find(name);
    if (it == symbols_.end()) {
      if (!poisoned_.count(name)) {
        undefined(name, loc, "name");
        if (auto later = laterDefinitions_.find(name); later != laterDefinitions_.end())
          diag_.note(later->second, "'" + name + "' is defined later, here; define it before its use");
      }
      return std::nullopt;
    }
    it->second.used = true;
    if (it->second.kind == Symbol::Kind::Const) {
      diag_.error(loc, "'" + name + "' is a constant, but a tensor is needed here");
      diag_.note(it->second.loc, "'" + name + "' is defined here");
      return std::nullopt;
    }
    return it->second.value;
  }

  std::optional<ValueId> expr(const ast::Expr &e, const std::string &name) {
    if (e.kind == ast::Expr::Kind::Name)
      return valueRef(e.text, e.loc);
    if (e.kind != ast::Expr::Kind::Call) {
      diag_.error(e.loc, "expected a tensor (a name or a layer call), got a " +
                             std::string(ast::kindName(e.kind)));
      return std::nullopt;
    }
    return call(e, name);
  }

  /// Splits a call's arguments into tensor inputs and named parameters,
  /// lowering the inputs. Returns false if an input failed.
  bool splitArgs(const ast::Expr &call, const CallSpec &spec, const std::string &name,
                 std::vector<ValueId> &inputs, std::vector<NamedValue> &params) {
    bool ok = true;
    size_t positional = 0;
    bool sawNamed = false;
    for (const ast::Arg &arg : call.args) {
      if (!arg.name.empty()) {
        sawNamed = true;
        params.push_back({arg.name, arg.nameLoc, arg.value.get()});
        continue;
      }
      if (sawNamed) {
        diag_.error(arg.value->loc, "positional argument after named parameters in " + spec.name);
        ok = false;
        continue;
      }
      ++positional;
      // A nested call is named after its consumer: out = dense(concat(...))
      // names the concat "out.concat".
      std::optional<ValueId> v = expr(*arg.value, name + "." + arg.value->text);
      if (!v)
        ok = false;
      else
        inputs.push_back(*v);
    }
    int n = static_cast<int>(positional);
    if (n < spec.minInputs || (spec.maxInputs >= 0 && n > spec.maxInputs)) {
      std::string count = spec.minInputs == spec.maxInputs
                              ? std::to_string(spec.minInputs)
                              : std::to_string(spec.minInputs) + " or more";
      diag_.error(call.loc, spec.name + " takes " + count + " tensor input" +
                                (spec.maxInputs == 1 ? "" : "s") + ", got " + std::to_string(n));
      ok = false;
    }
    return ok;
  }

  std::optional<ValueId> call(const ast::Expr &e, const std::string &name) {
    const CallSpec *spec = findCall(CallKind::Layer, e.text);
    if (!spec) {
      std::vector<std::string> names;
      for (const CallSpec *c : callsOfKind(CallKind::Layer))
        names.push_back(c->name);
      std::string message = "unknown layer '" + e.text + "'";
      if (findCall(CallKind::Loss, e.text))
        message += "; losses are declared with 'loss " + e.text + "(prediction, target)'";
      else if (findCall(CallKind::Optimizer, e.text))
        message += "; optimizers are declared with 'optimizer " + e.text + "(...)'";
      else if (auto best = closestName(e.text, names))
        message += "; did you mean '" + *best + "'?";
      diag_.error(e.loc, message);
      for (const ast::Arg &arg : e.args) // still check the arguments
        if (arg.name.empty() && arg.value->kind == ast::Expr::Kind::Call)
          expr(*arg.value, name + ".arg");
      return std::nullopt;
    }
    std::vector<ValueId> inputs;
    std::vector<NamedValue> given;
    bool ok = splitArgs(e, *spec, name, inputs, given);
    std::map<std::string, ValueId> tensors;
    ok = tensorParams(*spec, given, tensors) && ok;
    AttrMap params;
    ok = checkParams(*spec, given, e.loc, spec->name, params) && ok;
    if (!ok)
      return std::nullopt;
    return layer(*spec, e.loc, inputs, params, tensors, name);
  }

  /// Takes the parameters that name a tensor (ParamType::Tensor: lengths=)
  /// out of `given` and resolves them into `tensors`.
  bool tensorParams(const CallSpec &spec, std::vector<NamedValue> &given, std::map<std::string, ValueId> &tensors) {
    bool ok = true;
    std::map<std::string, SourceLoc> seen;
    for (auto it = given.begin(); it != given.end();) {
      const ParamSpec *p = spec.param(it->name);
      if (!p || p->type != ParamType::Tensor) {
        ++it;
        continue;
      }
      const NamedValue nv = *it;
      it = given.erase(it);
      if (auto [first, inserted] = seen.emplace(nv.name, nv.loc); !inserted) {
        diag_.error(nv.loc, "parameter '" + nv.name + "' of " + spec.name + " is given twice");
        diag_.note(first->second, "first given here");
        ok = false;
        continue;
      }
      if (nv.value->kind != ast::Expr::Kind::Name) {
        diag_.error(nv.value->loc, "parameter '" + nv.name + "' of " + spec.name +
                                       " must name a model input, e.g. 'input lengths: i32[batch]' and " + nv.name + "=lengths");
        ok = false;
        continue;
      }
      std::optional<ValueId> v = valueRef(nv.value->text, nv.value->loc);
      if (!v) {
        ok = false;
        continue;
      }
      const Op &def = graph_.op(*v);
      if (def.kind != OpKind::Input) {
        diag_.error(nv.value->loc, "parameter '" + nv.name + "' of " + spec.name + " must be a model input ('input " +
                                       def.name + ": i32[batch]'), but '" + def.name + "' is a computed value");
        ok = false;
        continue;
      }
      if (def.type.dtype != DType::I32 || def.type.rank() != 1 || !def.type.dims[0].isSymbolic()) {
        diag_.error(nv.value->loc, "parameter '" + nv.name + "' of " + spec.name + " must be i32[batch] (one length per sample), but '" +
                                       def.name + "' is " + def.type.str());
        diag_.note(def.loc, "'" + def.name + "' is declared here");
        ok = false;
        continue;
      }
      tensors[nv.name] = *v;
    }
    return ok;
  }

  std::optional<ValueId> layer(const CallSpec &spec, SourceLoc loc, const std::vector<ValueId> &in,
                               const AttrMap &p, const std::map<std::string, ValueId> &tensors, const std::string &name) {
    const std::string &f = spec.name;
    if (f == "embedding") {
      auto table = addParam(name + ".weight", {p.getInt("vocab"), p.getInt("dim")}, normalInit(), loc);
      if (!table)
        return std::nullopt;
      return addOp(OpKind::Embedding, {in[0], *table}, {}, name, loc);
    }
    if (f == "lstm" || f == "gru") {
      // Without lengths= a layer over a sequence with lengths keeps them.
      std::optional<ValueId> lengths;
      if (auto it = tensors.find("lengths"); it != tensors.end())
        lengths = it->second;
      else if (auto carried = seqLengths_.find(in[0]); carried != seqLengths_.end())
        lengths = carried->second;
      return recurrent(f == "lstm" ? OpKind::Lstm : OpKind::Gru, loc, in[0], p, lengths, name);
    }
    if (f == "last" || f == "mean" || f == "max") // of a sequence with lengths: step length-1 / steps 0..length-1
      if (auto carried = seqLengths_.find(in[0]); carried != seqLengths_.end())
        return addOp(*ir::opKindFromMnemonic(f), {in[0], carried->second}, {}, name, loc);
    if (f == "dense")
      return dense(loc, in[0], p, name);
    if (f == "dropout") {
      AttrMap a;
      a.set("p", *p.find("p"));
      return addOp(OpKind::Dropout, {in[0]}, a, name, loc);
    }
    if (f == "concat") {
      const TensorType &first = graph_.op(in[0]).type;
      int64_t axis = p.getInt("axis");
      int64_t rank = static_cast<int64_t>(first.rank());
      if (axis < -rank || axis >= rank) {
        diag_.error(loc, "concat axis " + std::to_string(axis) + " is out of range for " + first.str());
        return std::nullopt;
      }
      AttrMap a;
      a.set("axis", Attr::ofInt(axis < 0 ? axis + rank : axis));
      return addOp(OpKind::Concat, in, a, name, loc);
    }
    std::optional<OpKind> kind = ir::opKindFromMnemonic(f);
    RNNC_ASSERT(kind, "every layer in LayerTable has an op or an expansion: " + f);
    return addOp(*kind, in, {}, name, loc);
  }

  /// The uniform bound of a weight: the layer's default, or Xavier's
  /// sqrt(6 / (fan_in + fan_out)) as torch.nn.init.xavier_uniform_.
  static double weightBound(const AttrMap &params, double defaultBound, int64_t fanIn, int64_t fanOut) {
    if (params.getString("init") == "xavier")
      return std::sqrt(6.0 / static_cast<double>(fanIn + fanOut));
    return defaultBound;
  }

  static AttrMap normalInit() {
    AttrMap a;
    a.set("init", Attr::ofString("normal"));
    a.set("std", Attr::ofFloat(1.0));
    return a;
  }

  std::optional<ValueId> dense(SourceLoc loc, ValueId x, const AttrMap &p, const std::string &name) {
    const TensorType &t = graph_.op(x).type;
    if (t.dtype != DType::F32 || t.rank() == 0 || t.dims.back().isSymbolic()) {
      diag_.error(loc, "dense expects a f32 input with a feature axis, got " + t.str() +
                           (t.dtype == DType::I32 ? " (token ids need an embedding first)" : ""));
      return std::nullopt;
    }
    const int64_t in = t.dims.back().size, units = p.getInt("units");
    // PyTorch's nn.Linear: kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(in) for
    // the weight, and the bias uses the same bound.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    const std::string activation = p.getString("activation");
    const std::string affineName = activation == "identity" ? name : name + ".affine";
    auto w = addParam(name + ".weight", {units, in}, uniformInit(weightBound(p, bound, in, units)), loc);
    if (!w)
      return std::nullopt;
    std::vector<ValueId> operands = {x, *w};
    if (p.getBool("bias")) {
      auto b = addParam(name + ".bias", {units}, uniformInit(bound), loc);
      if (!b)
        return std::nullopt;
      operands.push_back(*b);
    }
    auto y = addOp(OpKind::Dense, operands, {}, affineName, loc);
    if (!y || activation == "identity")
      return y;
    return addOp(*ir::opKindFromMnemonic(activation), {*y}, {}, name, loc);
  }

  std::optional<ValueId> recurrent(OpKind kind, SourceLoc loc, ValueId x, const AttrMap &p,
                                   std::optional<ValueId> lengths, const std::string &name) {
    const char *cell = kind == OpKind::Lstm ? "lstm" : "gru";
    const TensorType &t = graph_.op(x).type;
    if (t.dtype != DType::F32 || t.rank() != 3) {
      diag_.error(loc, std::string(cell) + " expects a f32 input of shape [batch, time, features], got " +
                           t.str() +
                           (t.dtype == DType::I32 ? " (token ids need an embedding first)"
                            : t.rank() == 2     ? " (a sequence is rank 3)"
                                                : ""));
      return std::nullopt;
    }
    const int64_t hidden = p.getInt("hidden"), layers = p.getInt("layers");
    const int64_t gates = ir::gateCount(ir::cellKindOf(kind));
    const bool bidirectional = p.getBool("bidirectional");
    const bool lastOnly = p.getString("returns") == "last";
    const double dropout = p.getNumber("dropout");
    if (dropout > 0 && layers == 1)
      diag_.warning(loc, "dropout between layers has no effect with layers=1");
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));

    ValueId current = x;
    for (int64_t l = 0; l < layers; ++l) {
      const int64_t width = graph_.op(current).type.dims[2].size;
      const bool lastLayer = l + 1 == layers;
      std::vector<ValueId> outputs;
      for (int dir = 0; dir < (bidirectional ? 2 : 1); ++dir) {
        const std::string suffix = "_l" + std::to_string(l) + (dir ? "_reverse" : "");
        auto wih = addParam(name + ".weight_ih" + suffix, {gates * hidden, width},
                            uniformInit(weightBound(p, bound, width, gates * hidden)), loc);
        auto whh = addParam(name + ".weight_hh" + suffix, {gates * hidden, hidden},
                            uniformInit(weightBound(p, bound, hidden, gates * hidden)), loc);
        auto bih = addParam(name + ".bias_ih" + suffix, {gates * hidden}, uniformInit(bound), loc);
        auto bhh = addParam(name + ".bias_hh" + suffix, {gates * hidden}, uniformInit(bound), loc);
        if (!wih || !whh || !bih || !bhh)
          return std::nullopt;
        AttrMap a;
        a.set("hidden", Attr::ofInt(hidden));
        a.set("reverse", Attr::ofBool(dir == 1));
        std::vector<ValueId> operands = {current, *wih, *whh, *bih, *bhh};
        if (lengths)
          operands.push_back(*lengths);
        auto h = addOp(kind, operands, a, name + "." + cell + suffix, loc);
        if (!h)
          return std::nullopt;
        if (lastLayer && lastOnly) {
          // The final state of the forward direction is its last step (with
          // lengths: step length-1 of each sample); that of the reverse
          // direction is its first step (as PyTorch's h_n).
          std::vector<ValueId> step = {*h};
          if (lengths && !dir)
            step.push_back(*lengths);
          h = addOp(dir ? OpKind::First : OpKind::Last, step, {}, name + ".final" + suffix, loc);
          if (!h)
            return std::nullopt;
        }
        outputs.push_back(*h);
      }
      if (outputs.size() == 2) {
        AttrMap a;
        a.set("axis", Attr::ofInt(lastLayer && lastOnly ? 1 : 2));
        auto joined = addOp(OpKind::Concat, outputs, a, name + ".concat_l" + std::to_string(l), loc);
        if (!joined)
          return std::nullopt;
        current = *joined;
      } else {
        current = outputs[0];
      }
      if (!lastLayer && dropout > 0) {
        AttrMap a;
        a.set("p", Attr::ofFloat(dropout));
        auto d = addOp(OpKind::Dropout, {current}, a, name + ".dropout_l" + std::to_string(l), loc);
        if (!d)
          return std::nullopt;
        current = *d;
      }
    }
    // The layer's result carries the name the user gave it.
    if (!graph_.find(name))
      graph_.rename(current, name);
    return current;
  }

  void loss(const ast::Stmt &s) {
    const ast::Expr &e = *s.value;
    if (firstLoss_) {
      diag_.error(s.loc, "the model already has a loss");
      diag_.note(*firstLoss_, "the first loss is declared here");
      return;
    }
    firstLoss_ = s.loc;
    const CallSpec *spec = findCall(CallKind::Loss, e.text);
    if (!spec) {
      std::vector<std::string> names;
      for (const CallSpec *c : callsOfKind(CallKind::Loss))
        names.push_back(c->name);
      std::string message = "unknown loss '" + e.text + "'";
      if (auto best = closestName(e.text, names))
        message += "; did you mean '" + *best + "'?";
      else {
        std::string list;
        for (const std::string &n : names)
          list += (list.empty() ? "" : ", ") + n;
        message += " (expected " + list + ")";
      }
      diag_.error(e.loc, message);
      return;
    }
    std::vector<ValueId> inputs;
    std::vector<NamedValue> given;
    bool ok = splitArgs(e, *spec, "loss", inputs, given);
    AttrMap unused;
    ok = checkParams(*spec, given, e.loc, spec->name, unused) && ok;
    if (!ok)
      return;
    const Op &pred = graph_.op(inputs[0]), &target = graph_.op(inputs[1]);
    if (const ir::Attr *classes = target.attrs.find("classes");
        classes && e.text == "softmax_cross_entropy" && pred.type.rank() == 2 &&
        !pred.type.dims[1].isSymbolic() && pred.type.dims[1].size != classes->i) {
      diag_.error(e.loc, "softmax_cross_entropy: the prediction '" + pred.name + "' has " +
                             std::to_string(pred.type.dims[1].size) + " classes but the target '" +
                             target.name + "' declares classes " + std::to_string(classes->i));
      diag_.note(target.loc, "'" + target.name + "' is declared here");
      return;
    }
    if (pred.kind == OpKind::Softmax && (e.text == "softmax_cross_entropy"))
      diag_.warning(e.loc, "softmax_cross_entropy takes logits and applies softmax itself; '" +
                               pred.name + "' is already a softmax");
    if (pred.kind == OpKind::Sigmoid && e.text == "bce_with_logits")
      diag_.warning(e.loc, "bce_with_logits takes logits and applies the sigmoid itself; '" +
                               pred.name + "' is already a sigmoid");
    auto v = addOp(*ir::opKindFromMnemonic(e.text), inputs, {}, "loss", e.loc);
    if (v) {
      loss_ = Ref{*v, s.loc};
      predictionOfLoss_ = inputs[0];
    }
  }

  void optimizer(const ast::Stmt &s) {
    const ast::Expr &e = *s.value;
    if (firstOptimizer_) {
      diag_.error(s.loc, "the model already has an optimizer");
      diag_.note(*firstOptimizer_, "the first optimizer is declared here");
      return;
    }
    firstOptimizer_ = s.loc;
    const CallSpec *spec = findCall(CallKind::Optimizer, e.text);
    if (!spec) {
      diag_.error(e.loc, "unknown optimizer '" + e.text + "' (expected adam or sgd)");
      return;
    }
    std::vector<NamedValue> given;
    bool ok = true;
    for (const ast::Arg &arg : e.args) {
      if (arg.name.empty()) {
        diag_.error(arg.value->loc, "optimizer settings are named, e.g. " + e.text + "(lr=0.001)");
        ok = false;
        continue;
      }
      given.push_back({arg.name, arg.nameLoc, arg.value.get()});
    }
    ir::Section section{e.text, {}, s.loc};
    if (checkParams(*spec, given, e.loc, "optimizer " + e.text, section.attrs) && ok)
      graph_.optimizer = section;
  }

  void section(const ast::Stmt &s) {
    const bool isTrain = s.kind == ast::Stmt::Kind::Train;
    std::optional<ir::Section> &slot = isTrain ? graph_.train : graph_.data;
    const char *what = isTrain ? "train" : "data";
    if (slot || (isTrain ? sawTrain_ : sawData_)) {
      diag_.error(s.loc, std::string("the model already has a ") + what + " block");
      if (slot)
        diag_.note(slot->loc, "the first is here");
      return;
    }
    (isTrain ? sawTrain_ : sawData_) = true;
    const CallSpec *spec = isTrain ? &trainSpec() : dataSpec(s.name);
    if (!spec) {
      std::string message = "unknown data kind '" + s.name + "' (expected imdb or csv)";
      if (auto best = closestName(s.name, dataKinds()))
        message = "unknown data kind '" + s.name + "'; did you mean '" + *best + "'?";
      diag_.error(s.nameLoc, message);
      return;
    }
    std::vector<NamedValue> given;
    for (const ast::Setting &setting : s.settings)
      given.push_back({setting.name, setting.loc, setting.value.get()});
    ir::Section section{isTrain ? "" : s.name, {}, s.loc};
    std::string owner = isTrain ? "train" : "data " + s.name;
    if (checkParams(*spec, given, s.loc, owner, section.attrs))
      slot = section;
  }

  // --- End of model ----------------------------------------------------------------

  void finish(const ast::Model &model) {
    if (output_)
      graph_.output = output_->value;
    else if (predictionOfLoss_)
      graph_.output = predictionOfLoss_;
    if (loss_)
      graph_.loss = loss_->value;
    if (!baseWhat_.empty() && !firstLoss_)
      diag_.error(model.nameLoc, "the training stub '" + model.name + "' declares no loss; add 'loss FN(" +
                                     graph_.op(*graph_.output).name + ", TARGET)' on the output of " + baseWhat_);
    if (!graph_.output && !graph_.loss && diag_.errorCount() == 0)
      diag_.error(model.nameLoc, "model '" + model.name +
                                     "' has neither a loss nor an output (add 'loss FN(prediction, target)' or 'output NAME')");
    if (graph_.loss && !graph_.optimizer && diag_.errorCount() == 0) {
      ir::Section adam{"adam", {}, model.loc};
      checkParams(*findCall(CallKind::Optimizer, "adam"), {}, model.loc, "adam", adam.attrs);
      graph_.optimizer = adam;
    }
    if (!graph_.train) {
      ir::Section train{"", {}, model.loc};
      checkParams(trainSpec(), {}, model.loc, "train", train.attrs);
      graph_.train = train;
    }
    // Bucketing by length pays only when the batches' sequences end at their
    // own lengths: on by default for a model with a lengths input (absent,
    // that is off, for the others).
    if (!graph_.train->attrs.has("bucket") && lengthsInput(graph_))
      graph_.train->attrs.set("bucket", ir::Attr::ofBool(true));
    if (graph_.data)
      checkDataBinding(graph_, diag_);
    for (const std::string &name : order_) {
      const Symbol &sym = symbols_.at(name);
      if (sym.used)
        continue;
      if (sym.kind == Symbol::Kind::Value && !(graph_.output && *graph_.output == sym.value))
        diag_.warning(sym.loc, "value '" + name + "' is never used");
      else if (sym.kind == Symbol::Kind::Input)
        diag_.warning(sym.loc, "input '" + name + "' is never used");
      else if (sym.kind == Symbol::Kind::Target && graph_.loss)
        diag_.warning(sym.loc, "target '" + name + "' is never used by the loss");
      else if (sym.kind == Symbol::Kind::Const)
        diag_.warning(sym.loc, "constant '" + name + "' is never used");
    }
  }

  struct Ref {
    ValueId value;
    SourceLoc loc;
  };

  Diagnostics &diag_;
  Graph graph_;
  std::map<std::string, Symbol> symbols_;
  std::vector<std::string> order_;
  std::map<std::string, SourceLoc> poisoned_;
  /// Sequences [B,T,F] that have lengths: the i32[B] input they run with.
  std::map<ValueId, ValueId> seqLengths_;
  std::map<std::string, SourceLoc> laterDefinitions_;
  std::string batchSymbol_;
  std::optional<Ref> output_, loss_;
  std::optional<ValueId> predictionOfLoss_;
  bool sawTrain_ = false, sawData_ = false;
  std::string baseWhat_;  ///< a training stub's base, for messages: "the imported model 'net.onnx'"
  std::string baseNames_; ///< "input 'x' and output 'y'"
  std::optional<SourceLoc> firstLoss_, firstOptimizer_;

public:
  /// Records where each name is assigned, so that a use before the definition
  /// can point at it.
  void scanDefinitions(const ast::Model &model) {
    for (const ast::Stmt &s : model.stmts)
      if (!s.name.empty() && s.kind != ast::Stmt::Kind::Data && s.kind != ast::Stmt::Kind::Output)
        laterDefinitions_.emplace(s.name, s.nameLoc);
  }
};

} // namespace

std::optional<ir::Graph> lowerToGraph(const ast::File &file, SourceLoc fileLoc, Diagnostics &diag) {
  Lowering lowering(diag);
  if (!file.models.empty())
    lowering.scanDefinitions(file.models[0]);
  return lowering.run(file, fileLoc);
}

std::optional<ir::Graph> lowerStub(const ast::File &stub, SourceLoc fileLoc, ir::Graph base, const std::string &baseWhat,
                                   Diagnostics &diag) {
  Lowering lowering(diag);
  if (!stub.models.empty())
    lowering.scanDefinitions(stub.models[0]);
  return lowering.run(stub, fileLoc, std::move(base), baseWhat);
}

} // namespace rnnc
