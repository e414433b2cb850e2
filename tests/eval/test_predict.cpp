// `bcp predict` as a library: masks in the input's format and geometry, equal to what the
// evaluation protocol predicts for the same normalised image; bad inputs named before any output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/intensity.h"
#include "bcp/eval/evaluate.h"
#include "bcp/eval/predict.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"

namespace fs = std::filesystem;
using bcp::eval::predict;
using bcp::eval::PredictOptions;
using bcp::test::error_of;

namespace {

std::shared_ptr<bcp::nets::SegmentationNetImpl> tiny_model(const std::string& arch, int64_t classes,
                                                           int64_t channels = 1) {
  torch::manual_seed(11);
  bcp::nets::ModelConfig c;
  c.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  c.num_classes = classes;
  c.in_channels = channels;
  c.base_filters = 4;
  return bcp::nets::make_model(c);
}

/// An oblique rotation about the slice axis, row-major 3x3.
std::vector<double> oblique() {
  const double c = std::cos(0.3), s = std::sin(0.3);
  return {1, 0, 0, 0, c, -s, 0, s, c};
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
}

/// What the evaluation protocol of the checkpoint predicts for an already-normalised array.
torch::Tensor protocol_labels(const fs::path& ckpt, const torch::Tensor& image) {
  const auto archive = bcp::io::load_tensor_archive(ckpt.string());
  auto model = bcp::nets::model_from_archive(archive, "", ckpt.string());
  const auto protocol = bcp::eval::checkpoint_protocol(archive.meta, model->config());
  return bcp::eval::predict_case(*model, image, protocol);
}

}  // namespace

#ifdef BCP_WITH_ITK
TEST(Predict, TwoDimensionalModelKeepsGeometryAndMatchesTheProtocol) {
  bcp::test::TempDir tmp("predict_2d");
  auto net = tiny_model("unet2d", 4);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config(), {{"dataset", "acdc"}});

  fs::create_directories(tmp.path / "in");
  torch::manual_seed(3);
  auto raw = (torch::rand({4, 40, 36}) * 900 + 30).round().to(torch::kShort);
  raw.index_put_(
      {torch::indexing::Slice(), torch::indexing::Slice(10, 25), torch::indexing::Slice(8, 20)},
      1500);
  const std::vector<double> spacing = {7.5, 1.3, 1.2}, origin = {-12.0, 40.5, 3.25};
  bcp::io::write_volume((tmp.path / "in" / "a.nii.gz").string(), raw, spacing, origin, oblique());
  bcp::io::write_volume((tmp.path / "in" / "b.nrrd").string(), raw, spacing, origin, oblique());
  bcp::io::write_volume((tmp.path / "in" / "c.mha").string(), raw[1].contiguous(), {1.3, 1.2},
                        {40.5, 3.25});
  std::ofstream(tmp.path / "in" / "notes.txt") << "not an image";

  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  o.save_probabilities = true;
  size_t calls = 0;
  o.progress = [&](const bcp::eval::PredictedCase&, size_t, size_t n) {
    ++calls;
    EXPECT_EQ(n, 3u);
  };
  const auto done = predict(o);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(calls, 3u);

  bcp::data::IntensityNorm mm;
  mm.kind = bcp::data::IntensityKind::kMinmax;  // ACDC's rule, the default for a checkpoint without
                                                // a recorded one
  const auto expect = protocol_labels(ckpt, bcp::data::normalize_intensity(raw, mm));
  for (const char* name : {"a.nii.gz", "b.nrrd"}) {
    const auto out = bcp::io::read_volume((tmp.path / "out" / name).string());
    EXPECT_EQ(out.data.scalar_type(), torch::kUInt8) << name;
    ASSERT_EQ(out.data.sizes(), raw.sizes()) << name;
    expect_near(out.spacing, spacing);
    expect_near(out.origin, origin);
    expect_near(out.direction, oblique());
    EXPECT_TRUE(torch::equal(out.data, expect)) << name;
  }
  const auto slice = bcp::io::read_volume((tmp.path / "out" / "c.mha").string());
  ASSERT_EQ(slice.data.dim(), 2);  // a 2D image stays 2D
  expect_near(slice.spacing, {1.3, 1.2});
  const auto slice_expect =
      protocol_labels(ckpt, bcp::data::normalize_intensity(raw[1], mm).unsqueeze(0)).squeeze(0);
  EXPECT_TRUE(torch::equal(slice.data, slice_expect));

  // Probabilities: a distribution per voxel whose argmax is the mask (ACDC's nearest zooms).
  const auto prob =
      bcp::io::read_h5((tmp.path / "out" / "probabilities" / "a.h5").string(), "probabilities");
  ASSERT_EQ(prob.sizes(), (std::vector<int64_t>{4, 4, 40, 36}));
  EXPECT_TRUE(torch::allclose(prob.sum(0), torch::ones({4, 40, 36}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(prob.argmax(0).to(torch::kUInt8), expect));
  EXPECT_EQ(
      bcp::io::read_h5((tmp.path / "out" / "probabilities" / "c.h5").string(), "probabilities")
          .sizes(),
      (std::vector<int64_t>{4, 40, 36}));
  EXPECT_EQ(
      bcp::io::read_h5((tmp.path / "out" / "probabilities" / "b.h5").string(), "direction").size(0),
      9);

  std::ifstream in(tmp.path / "out" / "predictions.json");
  const auto summary = nlohmann::json::parse(in);
  EXPECT_EQ(summary["cases"].size(), 3u);
  EXPECT_EQ(summary["intensity"], "minmax");
}

TEST(Predict, ThreeDimensionalModelUsesItkIndexOrderAndTheRecordedIntensity) {
  bcp::test::TempDir tmp("predict_3d");
  auto net = tiny_model("vnet", 2);
  const auto ckpt = tmp.path / "model.h5";
  // A trainer-like meta: the config says the patch, the stride and the intensity rule.
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta;
  bcp::nets::add_model_to_archive(tensors, meta, "", *net);
  meta["config"] = {
      {"dataset", "la"},
      {"data", {{"patch", {32, 32, 16}}, {"intensity", "ct"}, {"ct_window", {0, 400}}}},
      {"eval", {{"stride", {16, 16, 8}}}}};
  bcp::io::save_tensor_archive(ckpt.string(), tensors, meta);

  torch::manual_seed(4);
  auto raw = (torch::rand({20, 36, 40}) * 800 - 200).round().to(torch::kShort);  // (D, H, W)
  const std::vector<double> spacing = {2.5, 0.8, 0.7}, origin = {1.0, 2.0, 3.0};
  fs::create_directories(tmp.path / "in");
  const auto input = tmp.path / "in" / "scan.nii";
  bcp::io::write_volume(input.string(), raw, spacing, origin, oblique());
  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = input.string();  // one file
  o.out_dir = (tmp.path / "out").string();
  o.largest_component = bcp::eval::LargestComponent::kOff;
  o.save_probabilities = true;
  predict(o);
  const auto out = bcp::io::read_volume((tmp.path / "out" / "scan.nii").string());
  ASSERT_EQ(out.data.sizes(), raw.sizes());
  expect_near(out.spacing, spacing);
  expect_near(out.direction, oblique());

  bcp::data::IntensityNorm ct;
  ct.kind = bcp::data::IntensityKind::kCt;
  ct.ct_low = 0;
  ct.ct_high = 400;
  const auto xyz = bcp::data::normalize_intensity(raw, ct).permute({2, 1, 0}).contiguous();
  auto archive = bcp::io::load_tensor_archive(ckpt.string());
  auto model = bcp::nets::model_from_archive(archive, "", ckpt.string());
  auto protocol = bcp::eval::checkpoint_protocol(archive.meta, model->config());
  EXPECT_EQ(protocol.la.window.patch, (std::array<int64_t, 3>{32, 32, 16}));
  protocol.la.largest_component = false;
  const auto expect = bcp::eval::predict_case(*model, xyz, protocol).permute({2, 1, 0});
  EXPECT_TRUE(torch::equal(out.data, expect));
  // Back in the scan's (D, H, W) order; with two classes the mask is class 1 above 0.5.
  const auto prob =
      bcp::io::read_h5((tmp.path / "out" / "probabilities" / "scan.h5").string(), "probabilities");
  ASSERT_EQ(prob.sizes(), (std::vector<int64_t>{2, 20, 36, 40}));
  EXPECT_TRUE(torch::equal(prob[1].gt(0.5).to(torch::kUInt8), out.data));
}

TEST(Predict, BadInputsAreNamedBeforeAnyOutput) {
  bcp::test::TempDir tmp("predict_bad");
  auto net = tiny_model("unet2d", 2);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config());
  fs::create_directories(tmp.path / "in");
  bcp::io::write_h5_atomically((tmp.path / "in" / "x.hdf5").string(),
                               {{"image", torch::rand({2, 16, 16})}});
  bcp::io::write_h5_atomically((tmp.path / "in" / "x.h5").string(),
                               {{"image", torch::rand({2, 16, 16})}});
  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  std::string msg = error_of([&] { predict(o); });
  EXPECT_NE(msg.find("x.hdf5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("both"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.path / "out"));

  fs::remove(tmp.path / "in" / "x.hdf5");
  o.out_dir = o.input;
  msg = error_of([&] { predict(o); });
  EXPECT_NE(msg.find("input's folder"), std::string::npos) << msg;

  auto nan = torch::rand({2, 16, 16});
  nan[1][2][3] = NAN;
  // MetaImage: ITK's NIfTI reader (niftilib) already turns NaN voxels into zeros.
  bcp::io::write_volume((tmp.path / "in" / "y.mha").string(), nan);
  o.out_dir = (tmp.path / "out").string();
  msg = error_of([&] { predict(o); });
  EXPECT_NE(msg.find("y.mha"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "predictions.json"));

  o.input = (tmp.path / "in" / "missing.nii.gz").string();
  EXPECT_NE(error_of([&] { predict(o); }).find("missing.nii.gz"), std::string::npos);
}

TEST(Predict, MultiChannelModelReadsOneFilePerChannel) {
  bcp::test::TempDir tmp("predict_channels");
  auto net = tiny_model("unet2d", 3, 2);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config(), {{"dataset", "acdc"}});
  fs::create_directories(tmp.path / "in");
  torch::manual_seed(8);
  std::vector<torch::Tensor> raw;
  for (int k = 0; k < 2; ++k)
    raw.push_back((torch::rand({3, 32, 28}) * 500).round().to(torch::kShort));
  const std::vector<double> spacing = {5, 1.1, 1.1};
  for (const char* c : {"a", "b"})
    for (int k = 0; k < 2; ++k)
      bcp::io::write_volume(
          (tmp.path / "in" / (std::string(c) + "_000" + std::to_string(k) + ".nii.gz")).string(),
          raw[k], spacing, {}, oblique());
  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  ASSERT_EQ(predict(o).size(), 2u);
  bcp::data::IntensityNorm mm;
  mm.kind = bcp::data::IntensityKind::kMinmax;
  const auto image = torch::stack(
      {bcp::data::normalize_intensity(raw[0], mm), bcp::data::normalize_intensity(raw[1], mm)});
  const auto expect = protocol_labels(ckpt, image);
  for (const char* c : {"a.nii.gz", "b.nii.gz"}) {
    const auto out = bcp::io::read_volume((tmp.path / "out" / c).string());
    EXPECT_TRUE(torch::equal(out.data, expect)) << c;
    expect_near(out.direction, oblique());
  }
  // One file given: its other channel is found beside it.
  o.input = (tmp.path / "in" / "a_0001.nii.gz").string();
  o.out_dir = (tmp.path / "out_one").string();
  ASSERT_EQ(predict(o).size(), 1u);
  EXPECT_TRUE(torch::equal(bcp::io::read_volume((tmp.path / "out_one" / "a.nii.gz").string()).data,
                           expect));
  // A missing channel is named before anything is written.
  fs::remove(tmp.path / "in" / "b_0001.nii.gz");
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out_missing").string();
  const std::string msg = error_of([&] { predict(o); });
  EXPECT_NE(msg.find("b_0001.nii.gz"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.path / "out_missing"));
  // An HDF5 image must carry the channels first.
  bcp::io::write_h5_atomically((tmp.path / "one.h5").string(),
                               {{"image", torch::rand({3, 32, 28})}});
  o.input = (tmp.path / "one.h5").string();
  EXPECT_NE(error_of([&] { predict(o); }).find("channels first"), std::string::npos);
}

// A one-channel model given CASE_0000 and CASE_0001: plain numbering or two channels of one scan;
// either way each file is its own scan, its mask keeps the whole name, and the user is told.
TEST(Predict, OneChannelModelKeepsNamesThatLookLikeChannelsAndSaysSo) {
  bcp::test::TempDir tmp("predict_one_channel_names");
  auto net = tiny_model("unet2d", 2);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config(), {{"dataset", "acdc"}});
  fs::create_directories(tmp.path / "in");
  for (const char* name : {"y_0000.nii.gz", "y_0001.nii.gz", "z_0000.nii.gz"})
    bcp::io::write_volume((tmp.path / "in" / name).string(),
                          (torch::rand({2, 16, 16}) * 100).round().to(torch::kShort));
  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  std::vector<std::string> notes;
  o.note = [&](const std::string& n) { notes.push_back(n); };
  ASSERT_EQ(predict(o).size(), 3u);
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "y_0000.nii.gz"));
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "y_0001.nii.gz"));
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "y.nii.gz"));
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "z.nii.gz"));  // alone: nnU-Net's single channel
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("y_0000.nii.gz .. y_0001.nii.gz"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("1 channel"), std::string::npos) << notes[0];
}

TEST(Predict, AcdcVolumeGivesTheLabelsOfEvaluate) {
  const auto volume = bcp::test::data_dir("ACDC") / "data" / "patient028_frame01.h5";
  BCP_REQUIRE_SHARED(volume);
  bcp::test::TempDir tmp("predict_acdc");
  bcp::test::FollowLinksOutOfRoot follow;  // the root and input folder link into ../shared
  auto net = tiny_model("unet2d", 4);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config(), {{"dataset", "acdc"}});

  // `bcp evaluate` on a root holding that one validation volume.
  fs::create_directories(tmp.path / "root" / "data");
  fs::create_symlink(volume, tmp.path / "root" / "data" / "patient028_frame01.h5");
  std::ofstream(tmp.path / "root" / "one.list") << "patient028_frame01\n";
  bcp::eval::EvaluateOptions e;
  e.model_path = ckpt.string();
  e.data_root = (tmp.path / "root").string();
  e.list_name = "one.list";
  e.out_dir = (tmp.path / "eval").string();
  bcp::eval::evaluate(e);
  const auto evaluated = bcp::io::read_h5(
      (tmp.path / "eval" / "predictions" / "patient028_frame01.h5").string(), "pred");

  // `bcp predict` on the h5 file as it is, and on its (already min-max normalised) image written
  // as a NIfTI scan with ACDC-like geometry.
  bcp::data::AcdcRoot root(bcp::test::data_dir("ACDC").string());
  const auto sample = bcp::data::load_acdc_volume(root, "patient028_frame01");
  fs::create_directories(tmp.path / "in");
  fs::create_symlink(volume, tmp.path / "in" / "p28.h5");
  bcp::io::write_volume((tmp.path / "in" / "p28.nii.gz").string(), sample.image, {10, 1.5, 1.5},
                        {0, 0, 0}, oblique());
  PredictOptions o;
  o.model_path = ckpt.string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  predict(o);
  EXPECT_GT(evaluated.gt(0).sum().item<int64_t>(), 0);  // a mask worth comparing
  EXPECT_TRUE(
      torch::equal(bcp::io::read_h5((tmp.path / "out" / "p28.h5").string(), "pred"), evaluated));
  EXPECT_TRUE(torch::equal(bcp::io::read_volume((tmp.path / "out" / "p28.nii.gz").string()).data,
                           evaluated));
}
#else
TEST(Predict, NeedsItk) {
  GTEST_SKIP() << "SKIPPED: built without ITK";
}
#endif
