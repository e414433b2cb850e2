#include "bcp/data/la.h"

#include <filesystem>
#include <stdexcept>

#include "bcp/data/case_list.h"
#include "bcp/io/input_path.h"

namespace bcp::data {

namespace fs = std::filesystem;

std::string LaRoot::list_path(const std::string& list_name) const {
  return io::file_in_root(root, list_name);
}
std::string LaRoot::volume_path(const std::string& id) const {
  check_case_name(id);
  return io::inside_root(
      root, (fs::path(root) / "2018LA_Seg_Training Set" / id / "mri_norm2.h5").string());
}
std::vector<std::string> LaRoot::read_list(const std::string& list_name) const {
  return read_case_list(list_path(list_name));
}

Sample load_la_volume(const LaRoot& root, const std::string& id, const LabelValues& labels,
                      int64_t channels) {
  return load_h5_sample(root.volume_path(id), 3, labels, id, channels);
}

SampleDataset load_la_volumes(const LaRoot& root, const std::vector<std::string>& ids) {
  std::vector<Sample> samples;
  samples.reserve(ids.size());
  for (const auto& id : ids) samples.push_back(load_la_volume(root, id));
  return SampleDataset(std::move(samples));
}

}  // namespace bcp::data
