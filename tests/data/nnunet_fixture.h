// Tiny nnU-Net raw datasets written case by case, for tests that need one file wrong.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bcp/io/nifti.h"

namespace bcp::test {

struct NnunetFixture {
  std::filesystem::path dir;
  std::vector<double> spacing = {3.0, 1.5, 1.25};  // torch order (D, H, W)
  std::vector<double> origin = {10.0, -20.0, 5.0};

  explicit NnunetFixture(std::filesystem::path d,
                         const std::string& labels_json = R"({"background": 0, "a": 1, "b": 2})",
                         const std::string& channels_json = R"({"0": "MRI"})")
      : dir(std::move(d)) {
    std::filesystem::create_directories(dir / "imagesTr");
    std::filesystem::create_directories(dir / "labelsTr");
    std::ofstream(dir / "dataset.json")
        << R"({"name": "Fixture", "channel_names": )" << channels_json << R"(, "labels": )"
        << labels_json << R"(, "file_ending": ".nii.gz"})";
  }
  /// An image whose intensities grow with the label, and its label: a box of class 1 and one of
  /// class 2 (shape (D, H, W)).
  void add_case(const std::string& name, std::vector<int64_t> shape = {6, 24, 20},
                bool with_label = true) const {
    auto label = torch::zeros(shape, torch::kUInt8);
    using torch::indexing::Slice;
    label.index_put_({Slice(1, -1), Slice(4, 10), Slice(3, 9)}, 1);
    label.index_put_({Slice(1, -1), Slice(12, 20), Slice(10, 17)}, 2);
    auto image =
        (label.to(torch::kShort) * 400 + 100 + torch::randint(0, 50, shape, torch::kShort));
    io::write_volume((dir / "imagesTr" / (name + "_0000.nii.gz")).string(), image, spacing, origin);
    if (with_label) write_label(name, label);
  }
  void write_label(const std::string& name, const torch::Tensor& label,
                   std::vector<double> label_spacing = {}) const {
    io::write_volume((dir / "labelsTr" / (name + ".nii.gz")).string(), label,
                     label_spacing.empty() ? spacing : label_spacing, origin);
  }
};

}  // namespace bcp::test
