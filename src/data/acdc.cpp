#include "bcp/data/acdc.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "bcp/data/case_list.h"
#include "bcp/io/input_path.h"

namespace bcp::data {
namespace fs = std::filesystem;

std::string AcdcRoot::list_path(const std::string& list_name) const {
  return io::file_in_root(root, list_name);
}
std::string AcdcRoot::slice_path(const std::string& name) const {
  check_case_name(name);
  return io::inside_root(root, (fs::path(root) / "data" / "slices" / (name + ".h5")).string());
}
std::string AcdcRoot::volume_path(const std::string& name) const {
  check_case_name(name);
  return io::inside_root(root, (fs::path(root) / "data" / (name + ".h5")).string());
}
std::vector<std::string> AcdcRoot::read_list(const std::string& list_name) const {
  return read_case_list(list_path(list_name));
}

Sample load_acdc_slice(const AcdcRoot& root, const std::string& name, const LabelValues& labels,
                       int64_t channels) {
  return load_h5_sample(root.slice_path(name), 2, labels, name, channels);
}

Sample load_acdc_volume(const AcdcRoot& root, const std::string& name, const LabelValues& labels,
                        int64_t channels) {
  return load_h5_sample(root.volume_path(name), 3, labels, name, channels);
}

SampleDataset load_acdc_slices(const AcdcRoot& root, const std::vector<std::string>& names) {
  std::vector<Sample> samples;
  samples.reserve(names.size());
  for (const auto& n : names) samples.push_back(load_acdc_slice(root, n));
  return SampleDataset(std::move(samples));
}

}  // namespace bcp::data
