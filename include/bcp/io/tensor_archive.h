// bcp's checkpoint container: named tensors plus JSON metadata in one HDF5 file. Data only, never
// code (unlike a pickled .pth), so reading an archive cannot run anything.
//
// Layout (version 1):
//   /tensors/<name>      one dataset per tensor; '/' in a name makes groups, '.' is kept
//                        ("student/encoder.in_conv.conv_conv.0.weight")
//   /bcp_archive/index   JSON (as uint8 bytes): [{"name", "dtype", "shape"}, ...], which restores
//                        dtypes HDF5 lacks (bfloat16, float16 stored as float32; bool as uint8)
//   /bcp_archive/meta    JSON (as uint8 bytes): the caller's metadata
//   attributes on "/"    bcp_format = "bcp-tensor-archive", bcp_format_version = 1, written last
// The JSON sits in datasets, not attributes, because HDF5 attributes stop at 64 KiB.
#pragma once
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace bcp::io {

inline constexpr const char* kTensorArchiveFormat = "bcp-tensor-archive";
inline constexpr int kTensorArchiveVersion = 1;

struct TensorArchive {
  std::map<std::string, torch::Tensor> tensors;  ///< CPU tensors, dtype and shape as saved
  nlohmann::json meta;                           ///< as saved (null when none was given)
};

/// Writes `tensors` and `meta` to `path`: first to `path + ".tmp"` (fsynced), then renamed over
/// `path`, so a crash never leaves a file at `path` that looks complete. Any dtype but complex;
/// any device (copied to CPU). Names: non-empty, '/'-separated parts that are not empty, "." or
/// "..", and no name may also be a group of another ("a" and "a/b"). Throws std::runtime_error
/// (std::invalid_argument for a bad name) naming the path and the tensor.
void save_tensor_archive(const std::string& path,
                         const std::map<std::string, torch::Tensor>& tensors,
                         const nlohmann::json& meta = nullptr);

/// Reads an archive written by save_tensor_archive. Throws std::runtime_error naming the path
/// when the file is missing, truncated, not HDF5, not a bcp archive, of a newer version, or when
/// a tensor listed in its index is missing or has another shape.
TensorArchive load_tensor_archive(const std::string& path);

/// Reads only the metadata of an archive (the same checks, no tensor is read): for a quick look
/// at a large checkpoint's stage, iteration or config.
nlohmann::json load_tensor_archive_meta(const std::string& path);

/// Throws std::runtime_error naming `path` when it is a folder or a PyTorch .pth (zip) file: the
/// two mistakes worth their own message (the second points to `bcp import`). Every archive read
/// checks it; commands call it to say so before other work.
void check_not_folder_or_pth(const std::string& path);

/// True when `path` opens as HDF5 and carries the bcp archive format tag (never throws).
bool is_tensor_archive(const std::string& path);

}  // namespace bcp::io
