#include "bcp/nets/pth_import.h"

#include <c10/core/ScalarType.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "bcp/nets/state_dict.h"
#include "bcp/util/error_message.h"

namespace bcp::nets {
namespace {

namespace fs = std::filesystem;

// ---- values a restricted unpickler can build ------------------------------------------------

enum class Kind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kStr,
  kBytes,
  kTuple,
  kList,
  kDict,
  kTensor,
  kStorage,
  kGlobal
};

// The only callables a .pth may name. Each is handled here in C++; nothing is looked up.
enum class Global { kOrderedDict, kRebuildTensor, kRebuildParameter, kStorageType };

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  explicit Value(Kind k) : kind(k) {}
  Kind kind;
  bool b = false;
  int64_t i = 0;                // kInt; kStorage: element count
  double f = 0;                 // kFloat
  std::string s;                // kStr, kBytes; kStorage: record key
  std::vector<ValuePtr> items;  // kTuple, kList; kDict: key, value, key, value, ...
  std::unordered_map<std::string, size_t> str_keys;  // kDict: string key -> pair index
  torch::Tensor tensor;                              // kTensor
  Global global = Global::kOrderedDict;              // kGlobal
  at::ScalarType dtype = at::kFloat;                 // kStorage, kGlobal kStorageType
  // A container becomes immutable once stored in another (torch.save never changes one after
  // that). This rules out reference cycles and makes `depth` final, so a crafted file cannot
  // build a structure whose destruction overflows the C++ stack.
  bool sealed = false;
  int depth = 0;  // containers: 1 + deepest element
};

bool is_container(const Value& v) {
  return v.kind == Kind::kTuple || v.kind == Kind::kList || v.kind == Kind::kDict;
}

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

// Names from the file go into one-line messages: no control characters, bounded length.
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

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
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
  // Returns the storage record `key` as a 1-D CPU tensor of `numel` elements of `dtype`.
  using StorageLoader =
      std::function<torch::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

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

// ---- the file ---------------------------------------------------------------------------------

// torch.save(..., _use_new_zipfile_serialization=False): pickle protocol 2, then the legacy
// magic number 0x1950a86a20f9469cfc6c as a LONG1.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                          0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

void check_header(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("no such file");
  if (!fs::is_regular_file(path, ec)) throw std::runtime_error("not a regular file");
  std::ifstream in(path, std::ios::binary);
  unsigned char head[sizeof kLegacyMagic] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const auto n = static_cast<size_t>(in.gcount());
  if (!in && !in.eof()) throw std::runtime_error("cannot read the file");
  if (n == 0) throw std::runtime_error("empty file");
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return;
  if (n == sizeof kLegacyMagic && std::memcmp(head, kLegacyMagic, n) == 0)
    throw std::runtime_error(
        "in PyTorch's legacy (pre-1.6) serialization format, which bcp does not read; re-save it "
        "in the zip format with PyTorch >= 1.6 (its default serialization): "
        "torch.save(torch.load(f), f2)");
  throw std::runtime_error(
      "not a PyTorch checkpoint (neither a torch.save zip archive nor a "
      "legacy torch.save file)");
}

// ---- the zip's own account of its members ------------------------------------------------------

/// A member as the archive's central directory declares it. PyTorchStreamReader::getRecord
/// allocates `size` bytes and inflates into them, so these numbers are checked first.
struct ZipMember {
  uint16_t method = 0;  ///< 0 stored, 8 deflated
  uint64_t compressed = 0;
  uint64_t size = 0;  ///< inflated
};
using ZipMembers = std::unordered_map<std::string, ZipMember>;

uint64_t le_at(const std::string& b, size_t at, int bytes) {
  if (at + bytes > b.size()) throw std::runtime_error("damaged zip directory");
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[at + k]);
  return v;
}

std::string read_at(std::ifstream& in, uint64_t offset, uint64_t n) {
  std::string b(n, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(b.data(), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(in.gcount()) != n) throw std::runtime_error("damaged zip directory");
  return b;
}

/// The members of the zip at `path` by record name as PyTorchStreamReader names them (the
/// archive's top folder dropped), from its central directory (zip64 included).
ZipMembers zip_members(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const uint64_t file_size = fs::file_size(path);
  const uint64_t tail_size = std::min<uint64_t>(file_size, 22 + 65535);
  const std::string tail = read_at(in, file_size - tail_size, tail_size);
  size_t eocd = std::string::npos;
  for (size_t at = tail_size >= 22 ? tail_size - 22 + 1 : 0; at-- > 0;)
    if (le_at(tail, at, 4) == 0x06054b50) {
      eocd = at;
      break;
    }
  if (eocd == std::string::npos) throw std::runtime_error("damaged zip directory");
  uint64_t entries = le_at(tail, eocd + 10, 2), dir_size = le_at(tail, eocd + 12, 4),
           dir_offset = le_at(tail, eocd + 16, 4);
  if (entries == 0xffff || dir_size == 0xffffffff || dir_offset == 0xffffffff) {
    if (eocd < 20 || le_at(tail, eocd - 20, 4) != 0x07064b50)
      throw std::runtime_error("damaged zip64 directory");
    const uint64_t record_at = le_at(tail, eocd - 20 + 8, 8);
    if (record_at > file_size) throw std::runtime_error("damaged zip64 directory");
    const std::string record =
        read_at(in, record_at, std::min<uint64_t>(56, file_size - record_at));
    if (le_at(record, 0, 4) != 0x06064b50) throw std::runtime_error("damaged zip64 directory");
    entries = le_at(record, 32, 8);
    dir_size = le_at(record, 40, 8);
    dir_offset = le_at(record, 48, 8);
  }
  if (dir_offset > file_size || dir_size > file_size - dir_offset)
    throw std::runtime_error("damaged zip directory");
  const std::string dir = read_at(in, dir_offset, dir_size);
  ZipMembers out;
  size_t at = 0;
  for (uint64_t e = 0; e < entries; ++e) {
    if (le_at(dir, at, 4) != 0x02014b50) throw std::runtime_error("damaged zip directory");
    ZipMember m;
    m.method = static_cast<uint16_t>(le_at(dir, at + 10, 2));
    m.compressed = le_at(dir, at + 20, 4);
    m.size = le_at(dir, at + 24, 4);
    const size_t name_len = le_at(dir, at + 28, 2), extra_len = le_at(dir, at + 30, 2),
                 comment_len = le_at(dir, at + 32, 2);
    if (at + 46 + name_len + extra_len > dir.size())
      throw std::runtime_error("damaged zip directory");
    const std::string name = dir.substr(at + 46, name_len);
    // zip64: the sizes that do not fit 32 bits follow in extra field 0x0001, inflated first.
    for (size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint64_t id = le_at(dir, x, 2), len = le_at(dir, x + 2, 2);
      if (id == 0x0001) {
        size_t v = x + 4;
        if (m.size == 0xffffffff) {
          m.size = le_at(dir, v, 8);
          v += 8;
        }
        if (m.compressed == 0xffffffff) m.compressed = le_at(dir, v, 8);
      }
      x += 4 + len;
    }
    const size_t slash = name.find('/');
    out[slash == std::string::npos ? name : name.substr(slash + 1)] = m;
    at += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

/// Record `record` as the directory declares it (null when absent: getRecord names what is
/// missing), refused when its declared inflated size is more than its compressed bytes can
/// give: getRecord allocates that size before it inflates a byte.
const ZipMember* declared_member(const ZipMembers& members, uint64_t file_size,
                                 const std::string& record) {
  auto it = members.find(record);
  if (it == members.end()) return nullptr;
  const ZipMember& m = it->second;
  // Deflate turns at most 258 bytes into 2 bits: 1032 to 1 (zlib's technical note).
  constexpr uint64_t kMaxDeflateRatio = 1032;
  if (m.compressed > file_size || (m.method == 0 && m.size != m.compressed) ||
      (m.method != 0 && m.size / kMaxDeflateRatio > m.compressed))
    throw std::runtime_error("zip member '" + printable(record) + "' declares " +
                             std::to_string(m.size) + " bytes from " +
                             std::to_string(m.compressed) +
                             " stored ones, more than they can inflate to (damaged or crafted)");
  return &m;
}

/// Refuses a member (data.pkl, byteorder) declared larger than bcp reads.
void check_small_member(const ZipMembers& members, uint64_t file_size, const std::string& record,
                        uint64_t max) {
  const ZipMember* m = declared_member(members, file_size, record);
  if (m && m->size > max)
    throw std::runtime_error("zip member '" + record + "' declares " + std::to_string(m->size) +
                             " bytes, more than the " + std::to_string(max) + " bcp reads");
}

// A state dict's pickle is a few hundred bytes per tensor.
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;
// Far above any network bcp builds (a few hundred MB with its optimizer state), far below what
// a damaged or crafted file could ask for.
constexpr uint64_t kMaxStorageBytes = uint64_t{4} << 30;

/// Storage record data/<key> as a 1-D tensor. `total` counts the bytes of the storages read so
/// far, which together stay under kMaxStorageBytes.
torch::Tensor load_storage(caffe2::serialize::PyTorchStreamReader& reader,
                           const ZipMembers& members, uint64_t file_size, uint64_t& total,
                           const std::string& key, at::ScalarType dtype, int64_t numel) {
  // Bool bytes other than 0/1 are undefined behaviour in LibTorch's kernels: read as bytes.
  const at::ScalarType raw = dtype == at::kBool ? at::kByte : dtype;
  if (numel == 0) return torch::empty({0}, torch::TensorOptions().dtype(dtype));
  const std::string record = "data/" + key;
  if (!reader.hasRecord(record))
    throw std::runtime_error("the archive lacks tensor storage '" + printable(key) + "'");
  const auto itemsize = static_cast<uint64_t>(c10::elementSize(dtype));
  if (static_cast<uint64_t>(numel) > (kMaxStorageBytes - total) / itemsize)
    throw std::runtime_error("tensor storage '" + printable(key) + "' declares " +
                             std::to_string(numel) + " elements, more than the " +
                             std::to_string(kMaxStorageBytes >> 30) +
                             " GiB of tensors bcp imports from one file");
  total += static_cast<uint64_t>(numel) * itemsize;
  // The size the pickle claims is checked against the bytes the archive holds (as its directory
  // declares them, and as read) before anything is allocated: a file must not make bcp reserve
  // memory it does not back.
  auto wrong_size = [&](uint64_t nbytes) {
    return static_cast<uint64_t>(numel) > nbytes / itemsize ||
           static_cast<uint64_t>(numel) * itemsize != nbytes;
  };
  auto size_error = [&](uint64_t nbytes) {
    return std::runtime_error("tensor storage '" + printable(key) + "' holds " +
                              std::to_string(nbytes) + " bytes, not " + std::to_string(numel) +
                              " elements of " + std::to_string(itemsize) + " bytes");
  };
  const ZipMember* declared = declared_member(members, file_size, record);
  if (declared && wrong_size(declared->size)) throw size_error(declared->size);
  auto [ptr, nbytes] = reader.getRecord(record);
  if (wrong_size(nbytes)) throw size_error(nbytes);
  torch::Tensor t = torch::empty({numel}, torch::TensorOptions().dtype(raw));
  std::memcpy(t.data_ptr(), ptr.get(), nbytes);
  return dtype == at::kBool ? t.ne(0) : t;
}

bool is_state_dict(const Value& v) {
  if (v.kind != Kind::kDict || v.items.empty()) return false;
  for (size_t k = 0; k < v.items.size(); k += 2)
    if (v.items[k]->kind != Kind::kStr || v.items[k + 1]->kind != Kind::kTensor) return false;
  return true;
}

std::string key_summary(const Value& dict) {
  constexpr size_t kShown = 8;
  const size_t n = dict.items.size() / 2;
  if (n == 0) return "none (an empty dict)";
  std::string out;
  for (size_t k = 0; k < n && k < kShown; ++k) {
    const Value& key = *dict.items[2 * k];
    out += k ? ", " : "";
    out += key.kind == Kind::kStr   ? "'" + printable(key.s) + "'"
           : key.kind == Kind::kInt ? std::to_string(key.i)
                                    : std::string("<") + kind_name(key.kind) + ">";
  }
  if (n > kShown) out += " and " + std::to_string(n - kShown) + " more";
  return out;
}

std::string wanted_keys() {
  std::string out;
  const auto& keys = pth_state_dict_keys();
  for (size_t k = 0; k < keys.size(); ++k)
    out += (k == 0 ? "'" : k + 1 == keys.size() ? " or '" : ", '") + keys[k] + "'";
  return out;
}

PthStateDict read_state_dict(const std::string& path) {
  check_header(path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read the zip archive (truncated or damaged?): " +
                             util::error_message(e));
  }
  if (!reader->hasRecord("data.pkl"))
    throw std::runtime_error("the zip archive has no data.pkl (not a torch.save checkpoint)");
  const uint64_t file_size = fs::file_size(path);
  const ZipMembers members = zip_members(path);
  check_small_member(members, file_size, "data.pkl", kMaxPickleBytes);
  check_small_member(members, file_size, "byteorder", 16);
  if (reader->hasRecord("byteorder")) {
    auto [ptr, n] = reader->getRecord("byteorder");
    if (std::string(static_cast<const char*>(ptr.get()), n) != "little")
      throw std::runtime_error("tensors stored big-endian; re-save on a little-endian machine");
  }
  auto [pickle, pickle_size] = reader->getRecord("data.pkl");
  uint64_t total = 0;
  RestrictedUnpickler unpickler(static_cast<const char*>(pickle.get()), pickle_size,
                                [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
                                  return load_storage(*reader, members, file_size, total, key,
                                                      dtype, numel);
                                });
  const ValuePtr root = unpickler.run();

  PthStateDict out;
  const Value* found = nullptr;
  if (is_state_dict(*root)) {
    found = root.get();
  } else if (root->kind == Kind::kDict) {
    for (const auto& key : pth_state_dict_keys()) {
      auto it = root->str_keys.find(key);
      if (it != root->str_keys.end() && is_state_dict(*root->items[2 * it->second + 1])) {
        found = root->items[2 * it->second + 1].get();
        out.location = key;
        break;
      }
    }
    if (!found)
      throw std::runtime_error("no state dict found: the top-level keys are " + key_summary(*root) +
                               " (expected a dict of tensors, at the top "
                               "or under " +
                               wanted_keys() + ")");
  } else {
    throw std::runtime_error(std::string("no state dict found: the file holds a ") +
                             kind_name(root->kind) + ", not a dict of tensors");
  }

  const std::string prefix = "module.";
  out.stripped_module_prefix = true;
  for (size_t k = 0; k < found->items.size(); k += 2)
    if (found->items[k]->s.compare(0, prefix.size(), prefix) != 0)
      out.stripped_module_prefix = false;
  for (size_t k = 0; k < found->items.size(); k += 2) {
    std::string key = found->items[k]->s;
    if (out.stripped_module_prefix) key.erase(0, prefix.size());
    if (!out.tensors.emplace(key, found->items[k + 1]->tensor).second)
      throw std::runtime_error("key '" + printable(key) + "' appears twice");
  }
  return out;
}

std::string describe(const ModelConfig& c) {
  return std::string(util::name_of(c.arch)) + " (in_channels " + std::to_string(c.in_channels) +
         ", num_classes " + std::to_string(c.num_classes) + ")";
}

}  // namespace

PthStateDict read_pth_state_dict(const std::string& path) {
  try {
    return read_state_dict(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(one_line(path + ": " + util::error_message(e)));
  }
}

PthImport import_pth(const std::string& path, const ModelConfig& config) {
  validate(config);
  PthStateDict file = read_pth_state_dict(path);
  PthImport out;
  out.model = make_model(config);
  out.location = file.location;
  const auto targets = state_dict(*out.model);
  std::map<std::string, torch::Tensor> used;
  for (auto& [key, tensor] : file.tensors) {
    if (targets.count(key))
      used.emplace(key, tensor);
    else
      out.ignored_keys.push_back(key);
  }
  try {
    load_state_dict(*out.model, used, /*strict=*/true);
  } catch (const std::exception& e) {
    throw std::runtime_error(one_line(path + ": the weights do not fit " + describe(config) + ": " +
                                      util::error_message(e)));
  }
  out.loaded = used.size();
  out.model->eval();
  return out;
}

std::string describe_pickle(const char* data, size_t size) {
  constexpr int64_t kMaxElements = int64_t{1} << 22;
  RestrictedUnpickler unpickler(data, size,
                                [](const std::string& key, at::ScalarType dtype, int64_t numel) {
                                  if (numel > kMaxElements)
                                    throw std::runtime_error("storage '" + printable(key) +
                                                             "' is larger than this check reads");
                                  return torch::zeros({numel}, torch::TensorOptions().dtype(dtype));
                                });
  const ValuePtr root = unpickler.run();
  std::string out = kind_name(root->kind);
  if (root->kind == Kind::kDict) out += " with keys " + key_summary(*root);
  return out;
}

}  // namespace bcp::nets
