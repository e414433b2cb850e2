#include "bcp/io/volume_format.h"

#include <filesystem>
#include <utility>

#include "bcp/util/text.h"

namespace bcp::io {
namespace {

// The one table of extensions.
const std::pair<const char*, VolumeFormat> kVolumeExtensions[] = {
    {".nii.gz", VolumeFormat::kNiftiGz}, {".nii", VolumeFormat::kNifti},
    {".nrrd", VolumeFormat::kNrrd},      {".nhdr", VolumeFormat::kNhdr},
    {".mha", VolumeFormat::kMha},        {".mhd", VolumeFormat::kMhd},
    {".hdf5", VolumeFormat::kHdf5},      {".h5", VolumeFormat::kHdf5}};

/// The matching entry's extension length, 0 when none matches.
size_t matched_extension(const std::string& name, VolumeFormat* format) {
  const std::string low = util::lower(name);
  for (const auto& [ext, f] : kVolumeExtensions) {
    const std::string e(ext);
    if (low.size() > e.size() && util::ends_with(low, e)) {
      if (format) *format = f;
      return e.size();
    }
  }
  if (format) *format = VolumeFormat::kUnknown;
  return 0;
}

std::string file_name_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

VolumeFormat volume_format(const std::string& path) {
  VolumeFormat f;
  matched_extension(file_name_of(path), &f);
  return f;
}

std::string volume_extension(const std::string& path) {
  const std::string name = file_name_of(path);
  return name.substr(name.size() - matched_extension(name, nullptr));
}

std::string volume_stem(const std::string& path) {
  const std::string name = file_name_of(path);
  return name.substr(0, name.size() - matched_extension(name, nullptr));
}

bool is_itk_format(VolumeFormat format) {
  return format != VolumeFormat::kUnknown && format != VolumeFormat::kHdf5;
}

}  // namespace bcp::io
