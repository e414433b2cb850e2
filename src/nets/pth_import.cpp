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

#include "bcp/io/pickle.h"
#include "bcp/nets/state_dict.h"
#include "bcp/util/error_message.h"

namespace bcp::nets {
namespace {

namespace fs = std::filesystem;

using io::pickle::Kind;
using io::pickle::kind_name;
using io::pickle::printable;
using io::pickle::Value;
using io::pickle::ValuePtr;

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

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
  const ValuePtr root = io::pickle::unpickle(
      static_cast<const char*>(pickle.get()), pickle_size,
      [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
        return load_storage(*reader, members, file_size, total, key, dtype, numel);
      });

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
  const ValuePtr root = io::pickle::unpickle(
      data, size, [](const std::string& key, at::ScalarType dtype, int64_t numel) {
        if (numel > kMaxElements)
          throw std::runtime_error("storage '" + printable(key) +
                                   "' is larger than this check reads");
        return torch::zeros({numel}, torch::TensorOptions().dtype(dtype));
      });
  std::string out = kind_name(root->kind);
  if (root->kind == Kind::kDict) out += " with keys " + key_summary(*root);
  return out;
}

}  // namespace bcp::nets
