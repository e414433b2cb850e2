#include "bcp/io/tensor_archive.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <vector>

#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/util/error_message.h"

namespace bcp::io {
namespace {

const char* kTensorsGroup = "tensors/";
const char* kIndexDataset = "bcp_archive/index";
const char* kMetaDataset = "bcp_archive/meta";
const char* kFormatAttr = "bcp_format";
const char* kVersionAttr = "bcp_format_version";

// dtype names in the index; stable on disk, independent of c10's spelling.
const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> names = {
      {"float32", torch::kFloat32},   {"float64", torch::kFloat64}, {"float16", torch::kFloat16},
      {"bfloat16", torch::kBFloat16}, {"uint8", torch::kUInt8},     {"int8", torch::kInt8},
      {"int16", torch::kInt16},       {"int32", torch::kInt32},     {"int64", torch::kInt64},
      {"bool", torch::kBool}};
  return names;
}

std::string dtype_name(torch::ScalarType t, const std::string& path, const std::string& name) {
  for (const auto& [n, type] : dtype_names())
    if (type == t) return n;
  throw std::runtime_error(path + ": cannot store tensor '" + name + "' of dtype " +
                           c10::toString(t) + " in a tensor archive");
}

torch::ScalarType dtype_from_name(const std::string& n, const std::string& path) {
  for (const auto& [name, type] : dtype_names())
    if (name == n) return type;
  throw std::runtime_error(path + ": damaged tensor archive: unknown dtype '" + n + "' in index");
}

// HDF5 has no 16-bit floats in our writer; float32 holds float16 and bfloat16 values exactly.
torch::Tensor storable(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU);
  if (c.scalar_type() == torch::kFloat16 || c.scalar_type() == torch::kBFloat16)
    c = c.to(torch::kFloat32);
  return c.contiguous();
}

torch::Tensor json_bytes(const nlohmann::json& j) {
  const std::string s = j.dump();
  return torch::from_blob(const_cast<char*>(s.data()), {static_cast<int64_t>(s.size())},
                          torch::kUInt8)
      .clone();
}

nlohmann::json parse_bytes(const torch::Tensor& t, const std::string& path, const char* what) {
  if (t.scalar_type() != torch::kUInt8 || t.dim() != 1)
    throw std::runtime_error(path + ": damaged tensor archive: " + what + " is not a byte string");
  const auto* p = reinterpret_cast<const char*>(t.data_ptr<uint8_t>());
  try {
    return nlohmann::json::parse(std::string(p, p + t.numel()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": damaged tensor archive: " + what + " is not valid JSON (" +
                             e.what() + ")");
  }
}

void check_names(const std::map<std::string, torch::Tensor>& tensors, const std::string& path) {
  std::set<std::string> groups;
  for (const auto& entry : tensors) {
    // Named references, not structured bindings: C++17 lambdas cannot capture the latter.
    const std::string& name = entry.first;
    const torch::Tensor& t = entry.second;
    auto bad = [&](const std::string& why) {
      throw std::invalid_argument(path + ": tensor name '" + name + "' " + why);
    };
    if (name.empty()) bad("is empty");
    if (!t.defined()) bad("holds an undefined tensor");
    size_t start = 0;
    while (true) {
      size_t slash = name.find('/', start);
      std::string part =
          name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if (part.empty() || part == "." || part == "..")
        bad("has an empty, \".\" or \"..\" part between '/'");
      if (slash == std::string::npos) break;
      groups.insert(name.substr(0, slash));
      start = slash + 1;
    }
  }
  for (const auto& g : groups)
    if (tensors.count(g))
      throw std::invalid_argument(path + ": tensor name '" + g +
                                  "' is also the group of another tensor ('" + g + "/...')");
}

}  // namespace

void save_tensor_archive(const std::string& path,
                         const std::map<std::string, torch::Tensor>& tensors,
                         const nlohmann::json& meta) {
  check_names(tensors, path);
  // Unique per process and call: two runs saving beside each other never share a temporary.
  const std::string tmp = unique_temp_path(path);
  try {
    {
      H5File file(tmp, H5File::Mode::kTruncate);
      nlohmann::json index = nlohmann::json::array();
      for (const auto& [name, t] : tensors) {
        index.push_back({{"name", name},
                         {"dtype", dtype_name(t.scalar_type(), path, name)},
                         {"shape", t.sizes().vec()}});
        file.write(kTensorsGroup + name, storable(t));
      }
      file.write(kIndexDataset, json_bytes(index));
      file.write(kMetaDataset, json_bytes(meta));
      // The tag goes last: a file that stopped early has no tag and is refused on load.
      file.set_attr("/", kVersionAttr, static_cast<double>(kTensorArchiveVersion));
      file.set_attr("/", kFormatAttr, std::string(kTensorArchiveFormat));
    }
    fsync_path(tmp);
    commit_temp_file(tmp, path);  // rename, then fsync of the folder
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error("save_tensor_archive: " + path + ": " + util::error_message(e));
  }
}

bool is_tensor_archive(const std::string& path) {
  try {
    H5File file(path);
    return file.has_attr("/", kFormatAttr) &&
           file.attr_string("/", kFormatAttr) == kTensorArchiveFormat;
  } catch (const std::exception&) {
    return false;
  }
}

void check_not_folder_or_pth(const std::string& path) {
  if (std::filesystem::is_directory(path))
    throw std::runtime_error(path + ": is a folder, not a checkpoint file");
  // torch.save writes a zip file.
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)
    throw std::runtime_error(path +
                             ": a PyTorch .pth file (zip), not a bcp checkpoint: convert it "
                             "first with `bcp import --pth FILE --arch ... --classes K --out`");
}

namespace {

/// Opens `path` and checks the format tag and version; H5File's own errors start with the path.
H5File open_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such tensor archive");
  check_not_folder_or_pth(path);
  H5File file(path);
  if (!file.has_attr("/", kFormatAttr) ||
      file.attr_string("/", kFormatAttr) != kTensorArchiveFormat)
    throw std::runtime_error(path +
                             ": not a bcp tensor archive (no bcp_format tag: another HDF5 file, or "
                             "a write that never finished)");
  const double version = file.attr_number("/", kVersionAttr);
  if (version != kTensorArchiveVersion)
    throw std::runtime_error(path + ": tensor archive version " + std::to_string(version) +
                             " is not the version this build reads (" +
                             std::to_string(kTensorArchiveVersion) + ")");
  return file;
}

}  // namespace

nlohmann::json load_tensor_archive_meta(const std::string& path) {
  H5File file = open_archive(path);
  return parse_bytes(file.read(kMetaDataset), path, "meta");
}

TensorArchive load_tensor_archive(const std::string& path) {
  H5File file = open_archive(path);
  TensorArchive out;
  const nlohmann::json index = parse_bytes(file.read(kIndexDataset), path, "index");
  out.meta = parse_bytes(file.read(kMetaDataset), path, "meta");
  if (!index.is_array()) throw std::runtime_error(path + ": damaged tensor archive: bad index");
  for (const auto& entry : index) {
    std::string name;
    std::vector<int64_t> shape;
    torch::ScalarType dtype;
    try {
      name = entry.at("name").get<std::string>();
      shape = entry.at("shape").get<std::vector<int64_t>>();
      dtype = dtype_from_name(entry.at("dtype").get<std::string>(), path);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error(path + ": damaged tensor archive: bad index entry " + entry.dump());
    }
    const std::string dataset = kTensorsGroup + name;
    if (!file.has(dataset))
      throw std::runtime_error(path + ": damaged tensor archive: tensor '" + name +
                               "' is in the index but not in the file");
    torch::Tensor t = file.read(dataset);
    if (t.sizes() != c10::IntArrayRef(shape))
      throw std::runtime_error(path + ": damaged tensor archive: tensor '" + name +
                               "' has another shape than its index entry");
    out.tensors[name] = t.scalar_type() == dtype ? t : t.to(dtype);
  }
  return out;
}

}  // namespace bcp::io
