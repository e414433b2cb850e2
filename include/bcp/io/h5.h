// HDF5 access for tensors: the datasets of ACDC/LA files, parity fixtures, checkpoints.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bcp::io {

/// An open HDF5 file. Every error is a std::runtime_error naming the file and the object.
class H5File {
 public:
  enum class Mode { kRead, kTruncate };
  H5File(const std::string& path, Mode mode = Mode::kRead);
  ~H5File();
  H5File(H5File&&) noexcept;
  H5File& operator=(H5File&&) noexcept;

  const std::string& path() const { return path_; }
  /// True when `name` (a dataset or group path such as "case_0/pred") exists.
  bool has(const std::string& name) const;
  /// Names directly below a group ("" or "/" for the root), sorted.
  std::vector<std::string> list(const std::string& group) const;
  /// Reads a numeric dataset as a CPU tensor. float32/64, (u)int8/16/32/64 keep their dtype
  /// (uint16/32/64 become int32/int64/int64); a scalar dataset gives a 0-dim tensor.
  torch::Tensor read(const std::string& name) const;
  /// Writes (creating parent groups) a tensor of dtype float32/64, uint8, int8, int32, int64, bool.
  void write(const std::string& name, const torch::Tensor& t);
  /// Attributes on an object ("/" for the file). Numeric attributes read as double.
  bool has_attr(const std::string& object, const std::string& attr) const;
  double attr_number(const std::string& object, const std::string& attr) const;
  std::string attr_string(const std::string& object, const std::string& attr) const;
  void set_attr(const std::string& object, const std::string& attr, double value);
  void set_attr(const std::string& object, const std::string& attr, const std::string& value);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

/// Writes a new HDF5 file holding `datasets` (name, tensor) at `path` atomically: a unique
/// temporary beside it, fsync, rename, fsync of the folder (io/atomic_file.h), so `path` is
/// either absent, the old file, or the complete new one.
void write_h5_atomically(const std::string& path,
                         const std::vector<std::pair<std::string, torch::Tensor>>& datasets);

/// One-shot read of dataset `name` from `path`.
torch::Tensor read_h5(const std::string& path, const std::string& name);

}  // namespace bcp::io
