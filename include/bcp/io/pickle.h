// A reader of the pickle subset that torch.save writes for weights (data.pkl of a .pth), for
// `bcp import`: it builds values only. GLOBAL resolves to one of four whitelisted callables or is
// refused, REDUCE runs that callable's C++ handler, and nothing from the file is ever looked up
// or executed; containers are sealed once stored, so a crafted file can build neither a cycle
// nor a structure deep enough to overflow the stack when destroyed.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace bcp::io::pickle {

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

/// "dict", "tensor", ...: a kind's Python name, for messages.
const char* kind_name(Kind k);

/// Names from a file for one-line messages: control characters as '?', at most 80 characters.
std::string printable(const std::string& s);

/// Returns the storage record `key` as a 1-D CPU tensor of `numel` elements of `dtype`.
using StorageLoader =
    std::function<torch::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

/// The value the pickle `data` (protocol 2; the binary opcodes of 3-5 too) builds; tensors come
/// from `loader`. Throws std::runtime_error "malformed or unsupported pickle in data.pkl at byte
/// N: ..." for anything else.
ValuePtr unpickle(const char* data, size_t size, const StorageLoader& loader);

}  // namespace bcp::io::pickle
