// NIfTI/NRRD/MetaImage through ITK's ImageIO classes used directly (not ImageFileReader): the
// pixel type is only known after reading the header, and picking the IO by extension means no
// IO-factory registration is needed.
#include "bcp/io/atomic_file.h"
#include "bcp/io/nifti.h"
#include "bcp/util/text.h"

#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>

#include <unistd.h>
#include <zlib.h>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>

namespace bcp::io {
namespace {

namespace fs = std::filesystem;
using Component = itk::IOComponentEnum;

itk::ImageIOBase::Pointer make_io(const std::string& path, bool for_writing) {
  const std::string ext = is_itk_volume_path(path) ? util::lower(volume_extension(path)) : "";
  if (ext == ".nii" || ext == ".nii.gz") return itk::NiftiImageIO::New().GetPointer();
  if (ext == ".nrrd" || (ext == ".nhdr" && !for_writing))
    return itk::NrrdImageIO::New().GetPointer();
  if (ext == ".mha" || (ext == ".mhd" && !for_writing)) return itk::MetaImageIO::New().GetPointer();
  throw std::runtime_error(path + ": unsupported extension for a medical volume (expected " +
                           std::string(for_writing ? ".nii, .nii.gz, .nrrd or .mha"
                                                   : ".nii, .nii.gz, .nrrd, .nhdr, .mha or .mhd") +
                           ")");
}

/// Copies a buffer of `n` values of type T into a new tensor of dtype `out`.
template <typename T>
torch::Tensor convert_buffer(const std::vector<char>& buf, int64_t n, torch::ScalarType out) {
  auto t = torch::empty({n}, out);
  const T* src = reinterpret_cast<const T*>(buf.data());
  if (out == torch::kFloat32) {
    float* dst = t.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
  } else if (out == torch::kInt32) {
    int32_t* dst = t.data_ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<int32_t>(src[i]);
  } else {
    int64_t* dst = t.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<int64_t>(src[i]);
  }
  return t;
}

/// Tensor of the voxels in `buf` (ITK component type `c`), same memory order.
torch::Tensor tensor_from_buffer(const std::vector<char>& buf, int64_t n, Component c,
                                 const std::string& path) {
  auto copy_as = [&](torch::ScalarType st) {
    auto t = torch::empty({n}, st);
    std::memcpy(t.data_ptr(), buf.data(), static_cast<size_t>(n) * t.element_size());
    return t;
  };
  switch (c) {
    case Component::UCHAR:
      return copy_as(torch::kUInt8);
    case Component::CHAR:
      return copy_as(torch::kInt8);
    case Component::SHORT:
      return copy_as(torch::kInt16);
    case Component::USHORT:
      return convert_buffer<uint16_t>(buf, n, torch::kInt32);
    case Component::INT:
      return copy_as(torch::kInt32);
    case Component::UINT:
      return convert_buffer<uint32_t>(buf, n, torch::kInt64);
    case Component::LONG:
      return sizeof(long) == 8 ? copy_as(torch::kInt64)
                               : convert_buffer<long>(buf, n, torch::kInt64);
    case Component::ULONG:
      return convert_buffer<unsigned long>(buf, n, torch::kInt64);
    case Component::LONGLONG:
      return convert_buffer<long long>(buf, n, torch::kInt64);
    case Component::ULONGLONG:
      return convert_buffer<unsigned long long>(buf, n, torch::kInt64);
    case Component::FLOAT:
      return copy_as(torch::kFloat32);
    case Component::DOUBLE:
      return convert_buffer<double>(buf, n, torch::kFloat32);
    default:
      throw std::runtime_error(path + ": unsupported voxel type " +
                               itk::ImageIOBase::GetComponentTypeAsString(c));
  }
}

Component component_of(torch::ScalarType t) {
  switch (t) {
    case torch::kUInt8:
      return Component::UCHAR;
    case torch::kInt8:
      return Component::CHAR;
    case torch::kInt16:
      return Component::SHORT;
    case torch::kInt32:
      return Component::INT;
    case torch::kInt64:
      return Component::LONGLONG;
    case torch::kFloat32:
      return Component::FLOAT;
    case torch::kFloat64:
      return Component::DOUBLE;
    default:
      return Component::UNKNOWNCOMPONENTTYPE;
  }
}

/// ITK messages span lines; errors here are one line.
std::string one_line(std::string msg) {
  for (auto& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  return msg;
}

[[noreturn]] void truncated(const std::string& path, uint64_t have, uint64_t need) {
  throw std::runtime_error(path + ": truncated: " + std::to_string(have) +
                           " bytes of voxel data where the header promises " +
                           std::to_string(need));
}

/// Where a NIfTI-1/2 file's voxels start and how many bits each takes on disk, from its header.
struct NiftiLayout {
  int64_t vox_offset = -1;  ///< -1: not a one-file NIfTI header
  int64_t bitpix = 0;
};

/// The layout in a header held in `hdr` (at least 176 bytes).
NiftiLayout nifti_layout(const unsigned char* hdr, size_t n) {
  NiftiLayout layout;
  if (n < 176) return layout;
  int32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, hdr, 4);
  const bool swap = sizeof_hdr != 348 && sizeof_hdr != 540;
  if (swap) sizeof_hdr = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(sizeof_hdr)));
  auto int16_at = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, hdr + at, 2);
    return static_cast<int16_t>(swap ? __builtin_bswap16(v) : v);
  };
  if (sizeof_hdr == 348) {
    uint32_t bits;
    std::memcpy(&bits, hdr + 108, 4);
    if (swap) bits = __builtin_bswap32(bits);
    float off;
    std::memcpy(&off, &bits, 4);
    layout.vox_offset = static_cast<int64_t>(off);
    layout.bitpix = int16_at(72);
  } else if (sizeof_hdr == 540) {
    uint64_t off;
    std::memcpy(&off, hdr + 168, 8);
    if (swap) off = __builtin_bswap64(off);
    layout.vox_offset = static_cast<int64_t>(off);
    layout.bitpix = int16_at(14);
  }
  return layout;
}

/// Bytes of voxel data the header promises for `voxels` voxels (ITK's component size is that of
/// the type it returns, which is float for a scaled file: scl_slope/scl_inter).
uint64_t nifti_data_bytes(const NiftiLayout& layout, uint64_t voxels, uint64_t itk_bytes) {
  if (layout.bitpix <= 0) return itk_bytes;
  return (voxels * static_cast<uint64_t>(layout.bitpix) + 7) / 8;
}

// ITK's NIfTI and MetaImage readers only warn on stderr when the voxel data is short and return
// partly uninitialised voxels; these checks turn that into an error before reading.
void check_nifti_complete(const std::string& path, bool gz, uint64_t voxels, uint64_t itk_bytes) {
  if (!gz) {
    std::ifstream in(path, std::ios::binary);
    unsigned char hdr[544] = {};
    in.read(reinterpret_cast<char*>(hdr), sizeof hdr);
    const NiftiLayout layout = nifti_layout(hdr, static_cast<size_t>(in.gcount()));
    const int64_t off = layout.vox_offset;
    if (off < 0) return;  // a two-file .hdr/.img pair or something ITK understood anyway
    const uint64_t size = fs::file_size(path);
    const uint64_t have = size > static_cast<uint64_t>(off) ? size - off : 0;
    const uint64_t need = nifti_data_bytes(layout, voxels, itk_bytes);
    if (have < need) truncated(path, have, need);
    return;
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open gzip stream");
  std::vector<unsigned char> buf(1 << 16);
  std::vector<unsigned char> hdr;
  uint64_t total = 0;
  int got;
  while ((got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    if (hdr.size() < 544) hdr.insert(hdr.end(), buf.begin(), buf.begin() + std::min(got, 544));
    total += static_cast<uint64_t>(got);
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string gz_msg = msg ? msg : "";
  gzclose(f);
  const NiftiLayout layout = nifti_layout(hdr.data(), hdr.size());
  const int64_t off = layout.vox_offset;
  const uint64_t have = off >= 0 && total > static_cast<uint64_t>(off) ? total - off : 0;
  if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
    throw std::runtime_error(path + ": truncated or corrupt gzip stream (" + gz_msg + ")");
  }
  const uint64_t need = nifti_data_bytes(layout, voxels, itk_bytes);
  if (off >= 0 && have < need) truncated(path, have, need);
}

/// MetaImage with voxels in the same file (ElementDataFile = LOCAL) or one raw file beside it.
void check_meta_complete(const std::string& path, uint64_t need_voxels) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  bool compressed = false;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    auto trim = [](std::string& s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
    };
    trim(key);
    trim(value);
    if (key == "CompressedData") compressed = util::lower(value) == "true";
    if (key != "ElementDataFile") continue;
    if (compressed) return;  // sizes of compressed data are checked by the decoder
    uint64_t have = 0;
    if (value == "LOCAL") {
      const auto pos = in.tellg();
      if (pos < 0) return;
      have = fs::file_size(path) - static_cast<uint64_t>(pos);
    } else if (value.find_first_of(" %") == std::string::npos && value != "LIST") {
      const fs::path raw = fs::path(path).parent_path() / value;
      if (!fs::exists(raw))
        throw std::runtime_error(path + ": data file " + raw.string() + " is missing");
      have = fs::file_size(raw);
    } else {
      return;
    }
    if (have < need_voxels) truncated(path, have, need_voxels);
    return;
  }
}

}  // namespace

Volume read_volume(const std::string& path) {
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such file");
  auto io = make_io(path, /*for_writing=*/false);
  if (!io->CanReadFile(path.c_str()))
    throw std::runtime_error(path + ": unreadable (not a valid " + volume_extension(path) +
                             " file)");
  io->SetFileName(path);
  try {
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error(path + ": unreadable header: " + one_line(e.GetDescription()));
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(path + ": unreadable header: it asks for more memory than there is");
  }
  if (io->GetNumberOfComponents() != 1)
    throw std::runtime_error(path + ": has " + std::to_string(io->GetNumberOfComponents()) +
                             " components per voxel; only scalar images are supported");
  // Trailing singleton axes (a 3D NIfTI stored with dim[0]=4, t=1) carry no data: drop them.
  unsigned n_dims = io->GetNumberOfDimensions();
  while (n_dims > 3 && io->GetDimensions(n_dims - 1) == 1) --n_dims;
  if (n_dims > 3)
    throw std::runtime_error(path + ": is " + std::to_string(n_dims) +
                             "D; only 2D and 3D volumes are supported");
  if (n_dims < 2)
    throw std::runtime_error(path + ": is " + std::to_string(n_dims) +
                             "D; only 2D and 3D volumes are supported");

  const unsigned full_dims = io->GetNumberOfDimensions();
  itk::ImageIORegion region(full_dims);
  // The header's sizes are checked before a buffer of that size is made: a damaged or crafted
  // header must be named, not end bcp with std::bad_alloc.
  constexpr int64_t kMaxVoxels = int64_t{1} << 31;
  int64_t n = 1;
  std::string sizes;
  for (unsigned i = 0; i < full_dims; ++i) {
    region.SetIndex(i, 0);
    region.SetSize(i, io->GetDimensions(i));
    sizes += (i ? " x " : "") + std::to_string(io->GetDimensions(i));
    const auto side = static_cast<int64_t>(io->GetDimensions(i));
    if (side > kMaxVoxels || __builtin_mul_overflow(n, side, &n) || n > kMaxVoxels)
      n = kMaxVoxels + 1;
  }
  if (n > kMaxVoxels)
    throw std::runtime_error(path + ": the header declares " + sizes + " voxels, more than the " +
                             std::to_string(kMaxVoxels) + " bcp reads (damaged header?)");
  io->SetIORegion(region);
  const uint64_t n_bytes = static_cast<uint64_t>(n) * io->GetComponentSize();
  const std::string ext = util::lower(volume_extension(path));
  if (ext == ".nii" || ext == ".nii.gz")
    check_nifti_complete(path, ext == ".nii.gz", static_cast<uint64_t>(n), n_bytes);
  if (ext == ".mha" || ext == ".mhd") check_meta_complete(path, n_bytes);
  std::vector<char> buf;
  try {
    buf.resize(n_bytes);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(path + ": the header declares " + sizes + " voxels (" +
                             std::to_string(n_bytes) + " bytes), more memory than there is");
  }
  try {
    io->Read(buf.data());
  } catch (const itk::ExceptionObject& e) {
    throw std::runtime_error(path +
                             ": cannot read voxels (truncated?): " + one_line(e.GetDescription()));
  }

  Volume v;
  std::vector<int64_t> shape(n_dims);
  v.spacing.resize(n_dims);
  v.origin.resize(n_dims);
  v.direction.resize(n_dims * n_dims);
  for (unsigned a = 0; a < n_dims; ++a) {
    const unsigned i = n_dims - 1 - a;  // ITK axis of torch axis a
    shape[a] = static_cast<int64_t>(io->GetDimensions(i));
    v.spacing[a] = io->GetSpacing(i);
    v.origin[a] = io->GetOrigin(i);
    for (unsigned b = 0; b < n_dims; ++b) {
      // GetDirection(j) is column j (index axis j) of the direction matrix.
      v.direction[a * n_dims + b] = io->GetDirection(n_dims - 1 - b)[i];
    }
  }
  v.data = tensor_from_buffer(buf, n, io->GetComponentType(), path).reshape(shape);
  return v;
}

void write_volume(const std::string& path, const torch::Tensor& data,
                  const std::vector<double>& spacing, const std::vector<double>& origin,
                  const std::vector<double>& direction) {
  if (!data.defined()) throw std::invalid_argument(path + ": cannot write an undefined tensor");
  const int64_t rank = data.dim();
  if (rank != 2 && rank != 3)
    throw std::invalid_argument(path + ": can write only 2D or 3D volumes, got " +
                                std::to_string(rank) + "D tensor");
  if (!spacing.empty() && static_cast<int64_t>(spacing.size()) != rank)
    throw std::invalid_argument(path + ": spacing has " + std::to_string(spacing.size()) +
                                " values for a " + std::to_string(rank) + "D volume");
  if (!origin.empty() && static_cast<int64_t>(origin.size()) != rank)
    throw std::invalid_argument(path + ": origin has " + std::to_string(origin.size()) +
                                " values for a " + std::to_string(rank) + "D volume");
  if (!direction.empty() && static_cast<int64_t>(direction.size()) != rank * rank)
    throw std::invalid_argument(path + ": direction has " + std::to_string(direction.size()) +
                                " values, expected " + std::to_string(rank * rank));
  for (double s : spacing)
    if (!(s > 0))
      throw std::invalid_argument(path + ": spacing must be positive, got " + std::to_string(s));

  auto io = make_io(path, /*for_writing=*/true);
  torch::Tensor t = data.to(torch::kCPU);
  if (t.scalar_type() == torch::kBool) t = t.to(torch::kUInt8);
  const Component comp = component_of(t.scalar_type());
  if (comp == Component::UNKNOWNCOMPONENTTYPE)
    throw std::invalid_argument(path + ": cannot write dtype " + c10::toString(t.scalar_type()));
  t = t.contiguous();

  const unsigned n = static_cast<unsigned>(rank);
  io->SetNumberOfDimensions(n);
  io->SetPixelType(itk::IOPixelEnum::SCALAR);
  io->SetNumberOfComponents(1);
  io->SetComponentType(comp);
  itk::ImageIORegion region(n);
  for (unsigned i = 0; i < n; ++i) {
    const unsigned a = n - 1 - i;  // torch axis of ITK axis i
    io->SetDimensions(i, static_cast<unsigned>(t.size(a)));
    io->SetSpacing(i, spacing.empty() ? 1.0 : spacing[a]);
    io->SetOrigin(i, origin.empty() ? 0.0 : origin[a]);
    std::vector<double> column(n);
    for (unsigned j = 0; j < n; ++j) {
      const unsigned b = n - 1 - j;
      column[j] = direction.empty() ? (i == j ? 1.0 : 0.0) : direction[b * n + a];
    }
    io->SetDirection(i, column);
    region.SetIndex(i, 0);
    region.SetSize(i, t.size(a));
  }
  io->SetIORegion(region);
  const std::string ext = volume_extension(path);
  io->SetUseCompression(util::lower(ext) == ".nii.gz");

  // Same folder (rename stays atomic), same extension (the IO picks the format from it).
  static std::atomic<unsigned> counter{0};
  const fs::path target(path);
  const std::string stem = target.filename().string();
  const fs::path tmp =
      target.parent_path() / ("." + stem.substr(0, stem.size() - ext.size()) + ".tmp" +
                              std::to_string(::getpid()) + "_" + std::to_string(counter++) + ext);
  io->SetFileName(tmp.string());
  try {
    io->Write(t.data_ptr());
  } catch (const itk::ExceptionObject& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw std::runtime_error(path + ": cannot write: " + one_line(e.GetDescription()));
  }
  try {
    fsync_path(tmp.string());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  commit_temp_file(tmp.string(), path);  // rename, then fsync of the folder
}

}  // namespace bcp::io
