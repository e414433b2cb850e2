#include "bcp/io/pickle.h"

#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace bcp::io::pickle {
namespace {

bool is_container(const Value& v) {
  return v.kind == Kind::kTuple || v.kind == Kind::kList || v.kind == Kind::kDict;
}

bool storage_dtype(const std::string& name, at::ScalarType* dtype) {
  static const std::pair<const char*, at::ScalarType> kTypes[] = {
      {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble},
      {"HalfStorage", at::kHalf},   {"BFloat16Storage", at::kBFloat16},
      {"LongStorage", at::kLong},   {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort}, {"CharStorage", at::kChar},
      {"ByteStorage", at::kByte},   {"BoolStorage", at::kBool}};
  for (const auto& [n, t] : kTypes)
    if (name == n) {
      *dtype = t;
      return true;
    }
  return false;
}

// ---- the unpickler ----------------------------------------------------------------------------

// Interprets the subset of the pickle format that torch.save writes (protocol 2; the binary
// opcodes of protocols 3-5 are accepted too). It builds values only: GLOBAL resolves to one of
// the four whitelisted callables or is refused, REDUCE runs that callable's C++ handler, and
// BUILD only accepts a dict (an OrderedDict's attributes such as `_metadata`, which are dropped).
class RestrictedUnpickler {
 public:
  RestrictedUnpickler(const char* data, size_t size, StorageLoader loader)
      : data_(reinterpret_cast<const unsigned char*>(data)),
        size_(size),
        loader_(std::move(loader)) {}

  ValuePtr run() {
    while (true) {
      if (pos_ >= size_) malformed("the pickle ends without STOP");
      op_pos_ = pos_;
      const unsigned char op = u8();
      if (op == '.') return pop();  // STOP
      step(op);
    }
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void malformed(const std::string& what) const {
    throw std::runtime_error("malformed or unsupported pickle in data.pkl at byte " +
                             std::to_string(op_pos_) + ": " + what);
  }

  // ---- reading
  void need(uint64_t n) const {
    if (n > size_ - pos_) malformed("truncated");
  }
  unsigned char u8() {
    need(1);
    return data_[pos_++];
  }
  uint64_t le(int bytes) {  // little-endian unsigned
    need(bytes);
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | data_[pos_ + k];
    pos_ += bytes;
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string line() {
    const auto* start = data_ + pos_;
    const auto* nl = static_cast<const unsigned char*>(std::memchr(start, '\n', size_ - pos_));
    if (!nl) malformed("unterminated GLOBAL name");
    std::string s(reinterpret_cast<const char*>(start), nl - start);
    pos_ += s.size() + 1;
    return s;
  }

  // ---- the stack; a MARK fences off what is below it, as in CPython's unpickler
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  ValuePtr pop() {
    if (stack_.size() <= floor()) malformed("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= floor()) malformed("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) malformed("no MARK");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + start),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(start);
    return items;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }

  static ValuePtr make(Kind k) {
    auto v = std::make_shared<Value>(k);
    if (is_container(*v)) v->depth = 1;
    return v;
  }
  ValuePtr make_int(int64_t i) {
    auto v = make(Kind::kInt);
    v->i = i;
    return v;
  }
  ValuePtr make_str(std::string s, Kind k = Kind::kStr) {
    auto v = make(k);
    v->s = std::move(s);
    return v;
  }

  // ---- containers
  void adopt(Value& parent, const ValuePtr& child) {
    if (child.get() == &parent) malformed("a container that holds itself");
    if (is_container(*child)) child->sealed = true;
    parent.depth = std::max(parent.depth, child->depth + 1);
    if (parent.depth > kMaxDepth)
      malformed("containers nested deeper than " + std::to_string(kMaxDepth));
  }
  void check_mutable(const Value& c, Kind want) {
    if (c.kind != want)
      malformed(std::string("expected a ") + kind_name(want) + ", got a " + kind_name(c.kind));
    if (c.sealed) malformed("a container changed after it was stored in another");
  }
  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    auto t = make(Kind::kTuple);
    for (const auto& item : items) adopt(*t, item);
    t->items = std::move(items);
    t->sealed = true;
    return t;
  }
  void append(Value& list, ValuePtr v) {
    check_mutable(list, Kind::kList);
    adopt(list, v);
    list.items.push_back(std::move(v));
  }
  void set_item(Value& dict, ValuePtr key, ValuePtr value) {
    check_mutable(dict, Kind::kDict);
    adopt(dict, key);
    adopt(dict, value);
    if (key->kind == Kind::kStr) {
      auto it = dict.str_keys.find(key->s);
      if (it != dict.str_keys.end()) {
        dict.items[2 * it->second + 1] = std::move(value);
        return;
      }
      dict.str_keys.emplace(key->s, dict.items.size() / 2);
    }
    dict.items.push_back(std::move(key));
    dict.items.push_back(std::move(value));
  }
  void set_items(Value& dict, std::vector<ValuePtr> kv) {
    if (kv.size() % 2) malformed("odd number of items for a dict");
    for (size_t k = 0; k < kv.size(); k += 2) set_item(dict, kv[k], kv[k + 1]);
  }

  // ---- globals and calls
  ValuePtr global(const std::string& module, const std::string& name) {
    auto g = make(Kind::kGlobal);
    if (module == "collections" && name == "OrderedDict") {
      g->global = Global::kOrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      g->global = Global::kRebuildTensor;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
      g->global = Global::kRebuildParameter;
    } else if (module == "torch" && storage_dtype(name, &g->dtype)) {
      g->global = Global::kStorageType;
    } else {
      throw std::runtime_error(
          "refusing pickle global '" + printable(module) + "." + printable(name) +
          "': only tensors, containers and plain values are read from a .pth, never code "
          "(save the weights alone: torch.save(model.state_dict(), f))");
    }
    return g;
  }

  ValuePtr call(const Value& fn, const Value& args) {
    if (fn.kind != Kind::kGlobal) malformed(std::string("REDUCE on a ") + kind_name(fn.kind));
    if (args.kind != Kind::kTuple) malformed("REDUCE arguments are not a tuple");
    switch (fn.global) {
      case Global::kOrderedDict:
        if (!args.items.empty()) malformed("OrderedDict(...) called with arguments");
        return make(Kind::kDict);
      case Global::kRebuildTensor:
        return rebuild_tensor(args.items);
      case Global::kRebuildParameter:
        if (args.items.empty() || args.items[0]->kind != Kind::kTensor)
          malformed("_rebuild_parameter without a tensor");
        return args.items[0];
      case Global::kStorageType:
        break;
    }
    malformed("a storage type called as a function");
  }

  std::vector<int64_t> int_tuple(const Value& v, const char* what) {
    if (v.kind != Kind::kTuple || v.items.size() > 64)
      malformed(std::string("tensor ") + what + " is not a tuple of ints");
    std::vector<int64_t> out;
    for (const auto& item : v.items) {
      if (item->kind != Kind::kInt || item->i < 0)
        malformed(std::string("tensor ") + what + " is not a tuple of non-negative ints");
      out.push_back(item->i);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  // backward_hooks[, metadata]): a strided view of the storage, bounds-checked here because
  // as_strided on a crafted view would read outside the buffer.
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& a) {
    if (a.size() < 6 || a[0]->kind != Kind::kStorage || a[1]->kind != Kind::kInt)
      malformed("unexpected _rebuild_tensor_v2 arguments");
    const Value& storage = *a[0];
    const int64_t offset = a[1]->i;
    const std::vector<int64_t> sizes = int_tuple(*a[2], "size");
    const std::vector<int64_t> strides = int_tuple(*a[3], "stride");
    if (sizes.size() != strides.size()) malformed("tensor size and stride differ in length");
    if (offset < 0) malformed("negative storage offset");
    const bool empty = std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
    int64_t last = offset;  // index of the view's last element
    if (!empty) {
      for (size_t d = 0; d < sizes.size(); ++d) {
        int64_t span = 0;
        if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &span) ||
            __builtin_add_overflow(last, span, &last))
          malformed("tensor view overflows");
      }
    }
    if (empty ? offset > storage.i : last >= storage.i)
      malformed("tensor view reaches past its storage ('" + printable(storage.s) + "', " +
                std::to_string(storage.i) + " elements)");
    auto t = make(Kind::kTensor);
    t->tensor = storage_tensor(storage).as_strided(sizes, strides, offset);
    return t;
  }

  torch::Tensor storage_tensor(const Value& storage) {
    auto it = storages_.find(storage.s);
    if (it == storages_.end()) {
      torch::Tensor t = loader_(storage.s, storage.dtype, storage.i);
      it = storages_.emplace(storage.s, t).first;
    }
    if (it->second.scalar_type() != storage.dtype || it->second.numel() != storage.i)
      malformed("storage '" + printable(storage.s) + "' is referenced with two layouts");
    return it->second;
  }

  // ('storage', torch.<T>Storage, key, location, numel): where torch.save put a tensor's bytes.
  // The location (e.g. "cuda:0") is ignored: everything is read onto the CPU.
  ValuePtr persistent(const Value& pid) {
    const auto& it = pid.items;
    if (pid.kind != Kind::kTuple || it.size() != 5 || it[0]->kind != Kind::kStr ||
        it[0]->s != "storage" || it[1]->kind != Kind::kGlobal ||
        it[1]->global != Global::kStorageType || it[2]->kind != Kind::kStr ||
        it[4]->kind != Kind::kInt || it[4]->i < 0)
      malformed("unsupported persistent id (not a tensor storage)");
    auto s = make_str(it[2]->s, Kind::kStorage);
    s->dtype = it[1]->dtype;
    s->i = it[4]->i;
    return s;
  }

  void step(unsigned char op) {
    switch (op) {
      case 0x80:  // PROTO
        if (u8() > 5) malformed("pickle protocol above 5");
        break;
      case 0x95:  // FRAME
        le(8);
        break;
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case ')':  // EMPTY_TUPLE
        push(make_tuple({}));
        break;
      case ']':  // EMPTY_LIST
        push(make(Kind::kList));
        break;
      case '}':  // EMPTY_DICT
        push(make(Kind::kDict));
        break;
      case 't':  // TUPLE
        push(make_tuple(pop_mark()));
        break;
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        std::vector<ValuePtr> items(op - 0x84);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(make_tuple(std::move(items)));
        break;
      }
      case 'l': {  // LIST
        auto items = pop_mark();
        auto list = make(Kind::kList);
        for (auto& item : items) append(*list, std::move(item));
        push(list);
        break;
      }
      case 'd': {  // DICT
        auto items = pop_mark();
        auto dict = make(Kind::kDict);
        set_items(*dict, std::move(items));
        push(dict);
        break;
      }
      case 'a': {  // APPEND
        auto v = pop();
        append(*top(), std::move(v));
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        Value& list = *top();
        for (auto& item : items) append(list, std::move(item));
        break;
      }
      case 's': {  // SETITEM
        auto value = pop();
        auto key = pop();
        set_item(*top(), std::move(key), std::move(value));
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        set_items(*top(), std::move(items));
        break;
      }
      case 'q':  // BINPUT
        memo_[u8()] = top();
        break;
      case 'r':  // LONG_BINPUT
        memo_[le(4)] = top();
        break;
      case 0x94:  // MEMOIZE
        memo_[memo_.size()] = top();
        break;
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        auto it = memo_.find(op == 'h' ? u8() : le(4));
        if (it == memo_.end()) malformed("memo entry not set");
        push(it->second);
        break;
      }
      case 'N':  // NONE
        push(make(Kind::kNone));
        break;
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        auto v = make(Kind::kBool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J':  // BININT
        push(make_int(static_cast<int32_t>(le(4))));
        break;
      case 'K':  // BININT1
        push(make_int(u8()));
        break;
      case 'M':  // BININT2
        push(make_int(static_cast<int64_t>(le(2))));
        break;
      case 0x8a: {  // LONG1: two's complement, little-endian
        const int n = u8();
        if (n > 8) malformed("integer wider than 64 bits");
        uint64_t v = n ? le(n) : 0;
        if (n > 0 && n < 8 && ((v >> (8 * n - 1)) & 1)) v |= ~uint64_t{0} << (8 * n);
        push(make_int(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | data_[pos_++];
        auto v = make(Kind::kFloat);
        std::memcpy(&v->f, &bits, sizeof bits);
        push(v);
        break;
      }
      case 'X':  // BINUNICODE
        push(make_str(bytes(le(4))));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        push(make_str(bytes(u8())));
        break;
      case 0x8d:  // BINUNICODE8
        push(make_str(bytes(le(8))));
        break;
      case 'T':  // BINSTRING (Python 2 str)
        push(make_str(bytes(le(4))));
        break;
      case 'U':  // SHORT_BINSTRING
        push(make_str(bytes(u8())));
        break;
      case 'B':  // BINBYTES
        push(make_str(bytes(le(4)), Kind::kBytes));
        break;
      case 'C':  // SHORT_BINBYTES
        push(make_str(bytes(u8()), Kind::kBytes));
        break;
      case 0x8e:  // BINBYTES8
        push(make_str(bytes(le(8)), Kind::kBytes));
        break;
      case 'c': {  // GLOBAL
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (module->kind != Kind::kStr || name->kind != Kind::kStr)
          malformed("STACK_GLOBAL without two strings");
        push(global(module->s, name->s));
        break;
      }
      case 'R': {  // REDUCE
        auto args = pop();
        auto fn = pop();
        push(call(*fn, *args));
        break;
      }
      case 'b': {  // BUILD
        pop();
        if (top()->kind != Kind::kDict)
          malformed(std::string("BUILD on a ") + kind_name(top()->kind));
        break;  // an OrderedDict's instance attributes (`_metadata`): not weights
      }
      case 'Q': {  // BINPERSID
        auto pid = pop();
        push(persistent(*pid));
        break;
      }
      case '0':  // POP
        pop();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        malformed(std::string("opcode ") + hex + " is not one torch.save writes for weights");
      }
    }
  }

  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  StorageLoader loader_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kTensor:
      return "tensor";
    case Kind::kStorage:
      return "storage";
    case Kind::kGlobal:
      return "global";
  }
  return "?";
}

std::string printable(const std::string& s) {
  constexpr size_t kMax = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

ValuePtr unpickle(const char* data, size_t size, const StorageLoader& loader) {
  return RestrictedUnpickler(data, size, loader).run();
}

}  // namespace bcp::io::pickle
