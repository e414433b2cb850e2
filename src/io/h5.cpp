#include "bcp/io/h5.h"

#include "bcp/io/atomic_file.h"

#include <H5Cpp.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace bcp::io {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

struct TypeMap {
  torch::ScalarType torch_type;
  H5::PredType mem_type;
};

TypeMap map_h5_type(const H5::DataSet& ds, const std::string& path, const std::string& name) {
  H5T_class_t cls = ds.getTypeClass();
  if (cls == H5T_FLOAT) {
    size_t size = ds.getFloatType().getSize();
    if (size == 8) return {torch::kFloat64, H5::PredType::NATIVE_DOUBLE};
    return {torch::kFloat32, H5::PredType::NATIVE_FLOAT};
  }
  if (cls == H5T_INTEGER) {
    H5::IntType it = ds.getIntType();
    bool is_signed = it.getSign() != H5T_SGN_NONE;
    switch (it.getSize()) {
      case 1:
        return is_signed ? TypeMap{torch::kInt8, H5::PredType::NATIVE_INT8}
                         : TypeMap{torch::kUInt8, H5::PredType::NATIVE_UINT8};
      case 2:
        return is_signed ? TypeMap{torch::kInt16, H5::PredType::NATIVE_INT16}
                         : TypeMap{torch::kInt32, H5::PredType::NATIVE_INT32};
      case 4:
        return is_signed ? TypeMap{torch::kInt32, H5::PredType::NATIVE_INT32}
                         : TypeMap{torch::kInt64, H5::PredType::NATIVE_INT64};
      default:
        return {torch::kInt64, H5::PredType::NATIVE_INT64};
    }
  }
  if (cls == H5T_ENUM) {  // h5py stores numpy bool as an int8 enum
    return {torch::kUInt8, H5::PredType::NATIVE_UINT8};
  }
  fail(path, "dataset '" + name + "' has an unsupported (non-numeric) type");
}

H5::PredType mem_type_of(torch::ScalarType t, const std::string& path, const std::string& name) {
  switch (t) {
    case torch::kFloat32:
      return H5::PredType::NATIVE_FLOAT;
    case torch::kFloat64:
      return H5::PredType::NATIVE_DOUBLE;
    case torch::kUInt8:
      return H5::PredType::NATIVE_UINT8;
    case torch::kBool:
      return H5::PredType::NATIVE_UINT8;
    case torch::kInt8:
      return H5::PredType::NATIVE_INT8;
    case torch::kInt16:
      return H5::PredType::NATIVE_INT16;
    case torch::kInt32:
      return H5::PredType::NATIVE_INT32;
    case torch::kInt64:
      return H5::PredType::NATIVE_INT64;
    default:
      fail(path, "cannot write dataset '" + name + "' of dtype " + c10::toString(t));
  }
}

// Closes an HDF5 C-API handle on scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

const char* object_path(const std::string& object) {
  return object.empty() ? "/" : object.c_str();
}

}  // namespace

struct H5File::Impl {
  H5::H5File file;
};

H5File::H5File(const std::string& path, Mode mode) : impl_(std::make_unique<Impl>()), path_(path) {
  H5::Exception::dontPrint();
  try {
    if (mode == Mode::kRead) {
      if (!H5::H5File::isHdf5(path)) fail(path, "not an HDF5 file (missing or truncated?)");
      impl_->file.openFile(path, H5F_ACC_RDONLY);
    } else {
      impl_->file = H5::H5File(path, H5F_ACC_TRUNC);
    }
  } catch (const H5::Exception& e) {
    fail(path, mode == Mode::kRead ? "cannot open HDF5 file (missing or truncated?)"
                                   : "cannot create HDF5 file");
  }
}

H5File::~H5File() = default;
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&&) noexcept = default;

bool H5File::has(const std::string& name) const {
  // Walk each component: H5Lexists fails on a path whose parent is missing.
  std::string partial;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t next = name.find('/', pos);
    if (next == std::string::npos) next = name.size();
    std::string part = name.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty()) continue;
    partial += "/" + part;
    if (H5Lexists(impl_->file.getId(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return !partial.empty();
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  try {
    H5::Group g = impl_->file.openGroup(group.empty() ? "/" : group);
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) names.push_back(g.getObjnameByIdx(i));
  } catch (const H5::Exception&) {
    fail(path_, "no group '" + group + "'");
  }
  std::sort(names.begin(), names.end());
  return names;
}

torch::Tensor H5File::read(const std::string& name) const {
  if (!has(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    H5::DataSet ds = impl_->file.openDataSet(name);
    H5::DataSpace space = ds.getSpace();
    int rank = space.getSimpleExtentNdims();
    std::vector<hsize_t> dims(rank);
    space.getSimpleExtentDims(dims.data());
    std::vector<int64_t> shape(dims.begin(), dims.end());
    TypeMap tm = map_h5_type(ds, path_, name);
    torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(tm.torch_type));
    if (t.numel() > 0) ds.read(t.data_ptr(), tm.mem_type);
    return t;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5File::write(const std::string& name, const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  if (t.scalar_type() == torch::kBool) t = t.to(torch::kUInt8);
  H5::PredType type = mem_type_of(t.scalar_type(), path_, name);
  try {
    // Create intermediate groups.
    size_t pos = 0;
    while ((pos = name.find('/', pos + 1)) != std::string::npos) {
      std::string g = name.substr(0, pos);
      if (!g.empty() && !has(g)) impl_->file.createGroup(g);
    }
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                       : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
    // No modification times: the same tensors must give byte-identical files.
    H5::DSetCreatPropList dcpl;
    H5Pset_obj_track_times(dcpl.getId(), false);
    H5::DataSet ds = impl_->file.createDataSet(name, type, space, dcpl);
    if (t.numel() > 0) ds.write(t.data_ptr(), type);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

bool H5File::has_attr(const std::string& object, const std::string& attr) const {
  if (!(object.empty() || object == "/") && !has(object)) return false;
  return H5Aexists_by_name(impl_->file.getId(), object.empty() ? "/" : object.c_str(), attr.c_str(),
                           H5P_DEFAULT) > 0;
}

double H5File::attr_number(const std::string& object, const std::string& attr) const {
  if (!has_attr(object, attr)) fail(path_, "missing attribute '" + attr + "' on '" + object + "'");
  Handle a{H5Aopen_by_name(impl_->file.getId(), object_path(object), attr.c_str(), H5P_DEFAULT,
                           H5P_DEFAULT),
           H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  H5T_class_t cls = H5Tget_class(type.id);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER && cls != H5T_ENUM)
    fail(path_, "attribute '" + attr + "' on '" + object + "' is not numeric");
  double v = 0;
  if (H5Aread(a.id, H5T_NATIVE_DOUBLE, &v) < 0)
    fail(path_, "cannot read attribute '" + attr + "' on '" + object + "'");
  return v;
}

std::string H5File::attr_string(const std::string& object, const std::string& attr) const {
  if (!has_attr(object, attr)) fail(path_, "missing attribute '" + attr + "' on '" + object + "'");
  Handle a{H5Aopen_by_name(impl_->file.getId(), object_path(object), attr.c_str(), H5P_DEFAULT,
                           H5P_DEFAULT),
           H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING)
    fail(path_, "attribute '" + attr + "' on '" + object + "' is not a string");
  if (H5Tis_variable_str(type.id) > 0) {
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));  // h5py writes UTF-8; no conversion needed
    char* buf = nullptr;
    if (H5Aread(a.id, mem.id, &buf) < 0)
      fail(path_, "cannot read attribute '" + attr + "' on '" + object + "'");
    std::string v = buf ? buf : "";
    H5free_memory(buf);
    return v;
  }
  size_t n = H5Tget_size(type.id);
  std::string v(n, '\0');
  if (H5Aread(a.id, type.id, v.data()) < 0)
    fail(path_, "cannot read attribute '" + attr + "' on '" + object + "'");
  v.resize(v.find('\0') == std::string::npos ? n : v.find('\0'));
  return v;
}

void H5File::set_attr(const std::string& object, const std::string& attr, double value) {
  hid_t file = impl_->file.getId();
  if (has_attr(object, attr))
    H5Adelete_by_name(file, object_path(object), attr.c_str(), H5P_DEFAULT);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle a{H5Acreate_by_name(file, object_path(object), attr.c_str(), H5T_NATIVE_DOUBLE, space.id,
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, H5T_NATIVE_DOUBLE, &value) < 0)
    fail(path_, "cannot write attribute '" + attr + "' on '" + object + "'");
}

void H5File::set_attr(const std::string& object, const std::string& attr,
                      const std::string& value) {
  hid_t file = impl_->file.getId();
  if (has_attr(object, attr))
    H5Adelete_by_name(file, object_path(object), attr.c_str(), H5P_DEFAULT);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, H5T_VARIABLE);
  Handle a{H5Acreate_by_name(file, object_path(object), attr.c_str(), type.id, space.id,
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose};
  const char* data = value.c_str();
  if (a.id < 0 || H5Awrite(a.id, type.id, &data) < 0)
    fail(path_, "cannot write attribute '" + attr + "' on '" + object + "'");
}

torch::Tensor read_h5(const std::string& path, const std::string& name) {
  return H5File(path).read(name);
}

void write_h5_atomically(const std::string& path,
                         const std::vector<std::pair<std::string, torch::Tensor>>& datasets) {
  const std::string tmp = unique_temp_path(path);
  try {
    {
      H5File f(tmp, H5File::Mode::kTruncate);
      for (const auto& [name, tensor] : datasets) f.write(name, tensor);
    }
    fsync_path(tmp);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  commit_temp_file(tmp, path);
}

}  // namespace bcp::io
