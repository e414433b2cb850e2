// End-to-end evaluation with tiny randomly initialised networks on real validation volumes
// (ACDC: two whole volumes; LA: one volume cropped so a few windows cover it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/label_values.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/nets/compute_copy.h"
#include "bcp/nets/model_archive.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_evaluate {

namespace fs = std::filesystem;
using bcp::eval::evaluate;
using bcp::eval::EvaluateOptions;

namespace {

/// A fresh folder under the system temp dir, removed at the end of the test.
using bcp::test::TempDir;

void write_list(const fs::path& p, const std::vector<std::string>& names) {
  std::ofstream out(p);
  for (const auto& n : names) out << n << "\n";
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::shared_ptr<bcp::nets::SegmentationNetImpl> tiny_model(const std::string& arch,
                                                           int64_t classes) {
  torch::manual_seed(7);
  bcp::nets::ModelConfig c;
  c.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  c.num_classes = classes;
  c.base_filters = 4;
  return bcp::nets::make_model(c);
}

/// ACDC root in `dir` with two real validation volumes linked in, list "two.list".
std::vector<std::string> make_acdc_root(const fs::path& dir) {
  const auto src = bcp::test::data_dir("ACDC");
  const std::vector<std::string> names = {"patient028_frame01", "patient028_frame02"};
  fs::create_directories(dir / "data");
  for (const auto& n : names)
    fs::create_symlink(src / "data" / (n + ".h5"), dir / "data" / (n + ".h5"));
  write_list(dir / "two.list", names);
  return names;
}

// Partial annotations: a reference voxel marked "not annotated" counts for no class, whatever
// the network predicts there.
TEST(Evaluate, UnannotatedReferenceVoxelsAreScoredByNoClass) {
  auto model = tiny_model("unet2d", 2);
  model->eval();
  bcp::eval::ModelEvaluateOptions options;
  options.dataset = bcp::data::Dataset::kAcdc;
  options.acdc.size = 32;
  // An untrained network predicts both classes only where the image varies enough: the first
  // of a few seeded images on which it does (deterministic).
  torch::Tensor image, pred;
  for (int seed = 0; seed < 20; ++seed) {
    torch::manual_seed(seed);
    image = torch::randn({2, 32, 32}) * (1 + seed);
    torch::NoGradGuard no_grad;
    pred = bcp::eval::predict_case(*model, bcp::eval::model_predictor(*model), image, options);
    if ((pred.narrow(1, 0, 16) == 1).any().item<bool>() &&
        (pred.narrow(1, 16, 16) == 1).any().item<bool>())
      break;
  }
  // The reference agrees with the prediction where annotated; the top half is not annotated.
  torch::Tensor label = pred.clone();
  label.narrow(1, 0, 16).fill_(bcp::data::kIgnoreLabel);
  const torch::Tensor top = pred.narrow(1, 0, 16), bottom = pred.narrow(1, 16, 16);
  ASSERT_TRUE((bottom == 1).any().item<bool>());
  ASSERT_TRUE((top == 1).any().item<bool>());
  const std::vector<bcp::data::Sample> cases = {{image, label, "half_annotated"}};
  options.ignore_label = true;
  const auto partial = bcp::eval::evaluate_model(*model, cases, options);
  ASSERT_EQ(partial.cases.size(), 1u);
  EXPECT_DOUBLE_EQ(partial.cases[0].scores.dice, 1.0);
  // Told nothing, the value is no class: refused, not scored as wrong predictions.
  options.ignore_label = false;
  EXPECT_THROW(bcp::eval::evaluate_model(*model, cases, options), c10::Error);
}

TEST(Evaluate, AcdcEndToEnd) {
  BCP_REQUIRE_SHARED(bcp::test::data_dir("ACDC") / "data" / "patient028_frame01.h5");
  TempDir tmp("bcp_test_evaluate_acdc");
  bcp::test::FollowLinksOutOfRoot follow;
  const auto names = make_acdc_root(tmp.path / "root");
  auto net = tiny_model("unet2d", 4);
  net->train();  // evaluate must switch to eval mode itself
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config(), {{"dataset", "acdc"}});

  EvaluateOptions opt;
  opt.model_path = ckpt.string();
  opt.data_root = (tmp.path / "root").string();
  opt.list_name = "two.list";
  opt.out_dir = (tmp.path / "out").string();
  std::vector<std::string> progress;
  opt.progress = [&](const std::string& name, size_t, size_t) { progress.push_back(name); };
  const auto report = evaluate(opt);

  EXPECT_EQ(progress, names);
  EXPECT_EQ(report.unit, "voxels");
  ASSERT_EQ(report.cases.size(), 6u);  // 2 cases x classes 1..3
  for (size_t i = 0; i < report.cases.size(); ++i) {
    EXPECT_EQ(report.cases[i].case_name, names[i / 3]);
    EXPECT_EQ(report.cases[i].cls, static_cast<int>(i % 3) + 1);
  }
  const auto json = read_json(tmp.path / "out" / "metrics.json");
  for (const char* key : {"unit", "cases", "per_class", "mean"})
    EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_EQ(json["cases"].size(), 6u);
  for (const char* key : {"1", "2", "3"}) EXPECT_TRUE(json["per_class"].contains(key)) << key;
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "metrics.csv"));

  // Each saved prediction is what the protocol gives for that case, and the report scores it.
  bcp::eval::ModelEvaluateOptions mopt;
  mopt.dataset = bcp::data::Dataset::kAcdc;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto file = tmp.path / "out" / "predictions" / (names[i] + ".h5");
    ASSERT_TRUE(fs::exists(file)) << file;
    auto pred = bcp::io::read_h5(file.string(), "pred");
    auto sample =
        bcp::data::load_acdc_volume(bcp::data::AcdcRoot((tmp.path / "root").string()), names[i]);
    EXPECT_EQ(pred.dtype(), torch::kUInt8);
    EXPECT_EQ(pred.sizes(), sample.label.sizes());
    EXPECT_TRUE(torch::equal(pred, bcp::eval::predict_case(*net, sample.image, mopt)));
    auto scores = bcp::eval::per_class_scores(pred, sample.label, 4);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_DOUBLE_EQ(report.cases[i * 3 + k].scores.dice, scores[k].dice);
      EXPECT_DOUBLE_EQ(report.cases[i * 3 + k].scores.hd95, scores[k].hd95);
    }
  }
  EXPECT_TRUE(net->is_training());  // predict_case restores the mode it found

  // Without predictions, nothing but the report is written.
  opt.out_dir = (tmp.path / "out2").string();
  opt.save_predictions = false;
  opt.progress = nullptr;
  const auto again = evaluate(opt);
  EXPECT_FALSE(fs::exists(tmp.path / "out2" / "predictions"));
  ASSERT_EQ(again.cases.size(), report.cases.size());
  EXPECT_DOUBLE_EQ(bcp::eval::overall_mean(again).dice, bcp::eval::overall_mean(report).dice);
}

TEST(Evaluate, LaEndToEndWindowBatchAndNifti) {
  const auto la = bcp::test::data_dir("LA");
  BCP_REQUIRE_SHARED(la / "val.list");
  TempDir tmp("bcp_test_evaluate_la");
  // One real validation volume cropped to 120 x 116 x 84: 2 x 2 x 2 windows of 112 x 112 x 80.
  std::ifstream list(la / "val.list");
  std::string id;
  std::getline(list, id);
  const auto src = la / "2018LA_Seg_Training Set" / id / "mri_norm2.h5";
  BCP_REQUIRE_SHARED(src);
  bcp::io::H5File in(src.string());
  using torch::indexing::Slice;
  auto crop = [](const torch::Tensor& t) {
    const int64_t x0 = (t.size(0) - 120) / 2, y0 = (t.size(1) - 116) / 2, z0 = (t.size(2) - 84) / 2;
    return t.index({Slice(x0, x0 + 120), Slice(y0, y0 + 116), Slice(z0, z0 + 84)}).contiguous();
  };
  auto image = crop(in.read("image"));
  auto label = crop(in.read("label"));
  const auto root = tmp.path / "root";
  fs::create_directories(root / "2018LA_Seg_Training Set" / id);
  {
    bcp::io::H5File out((root / "2018LA_Seg_Training Set" / id / "mri_norm2.h5").string(),
                        bcp::io::H5File::Mode::kTruncate);
    out.write("image", image);
    out.write("label", label);
  }
  write_list(root / "one.list", {id});
  auto net = tiny_model("vnet", 2);
  const auto ckpt = tmp.path / "vnet.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config());  // no meta: dataset from the arch

  EvaluateOptions opt;
  opt.model_path = ckpt.string();
  opt.data_root = root.string();
  opt.list_name = "one.list";
  opt.out_dir = (tmp.path / "out1").string();
  opt.prediction_format = bcp::eval::MaskFormat::kNiiGz;
  const auto r1 = evaluate(opt);
  ASSERT_EQ(r1.cases.size(), 1u);
  EXPECT_EQ(r1.cases[0].cls, 1);
  const auto nii = tmp.path / "out1" / "predictions" / (id + ".nii.gz");
  ASSERT_TRUE(fs::exists(nii));
  auto vol = bcp::io::read_volume(nii.string());
  // NIfTI i, j, k = X, Y, Z as the authors' nibabel files; torch order reads them reversed.
  EXPECT_EQ(vol.data.sizes(), (std::vector<int64_t>{84, 116, 120}));

  opt.out_dir = (tmp.path / "out4").string();
  opt.prediction_format = bcp::eval::MaskFormat::kH5;
  opt.window_batch = 4;
  const auto r4 = evaluate(opt);
  auto pred4 =
      bcp::io::read_h5((tmp.path / "out4" / "predictions" / (id + ".h5")).string(), "pred");
  EXPECT_EQ(pred4.sizes(), label.sizes());
  EXPECT_TRUE(torch::equal(pred4, vol.data.permute({2, 1, 0}).to(torch::kUInt8)))
      << "window batch 4 changed the prediction";
  EXPECT_DOUBLE_EQ(r4.cases[0].scores.dice, r1.cases[0].scores.dice);
}

TEST(Evaluate, RejectsMissingInputsAndMismatches) {
  TempDir tmp("bcp_test_evaluate_errors");
  auto net = tiny_model("unet2d", 4);
  const auto ckpt = tmp.path / "model.h5";
  bcp::nets::save_model(ckpt.string(), *net, net->config());
  fs::create_directories(tmp.path / "root" / "data");
  write_list(tmp.path / "root" / "a.list", {"nobody_frame01"});

  EvaluateOptions opt;
  opt.model_path = (tmp.path / "missing.h5").string();
  opt.data_root = (tmp.path / "root").string();
  opt.list_name = "a.list";
  opt.out_dir = (tmp.path / "out").string();
  auto message = [&](const EvaluateOptions& o) -> std::string {
    try {
      evaluate(o);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message(opt).find("checkpoint not found: " + opt.model_path), std::string::npos)
      << message(opt);
  opt.model_path = ckpt.string();
  EXPECT_NE(message(opt).find("nobody_frame01.h5"), std::string::npos) << message(opt);
  opt.list_name = "b.list";
  EXPECT_NE(message(opt).find("b.list"), std::string::npos) << message(opt);
  opt.list_name = "a.list";
  opt.data_root = (tmp.path / "nowhere").string();
  EXPECT_NE(message(opt).find("data root not found"), std::string::npos) << message(opt);
  opt.data_root = (tmp.path / "root").string();
  opt.dataset = bcp::data::Dataset::kLa;  // a 2D network cannot run the LA protocol
  EXPECT_NE(message(opt).find("needs a 3D network"), std::string::npos) << message(opt);
  opt.dataset.reset();
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "metrics.json"));
}

}  // namespace

// fp32 inference of a 2-D network runs a channels-last copy of it: other kernels, the same
// logits to fp32's rounding, plain fp32 out, and the model itself untouched. A 3-D network and
// channels_last=false run the network as it is, bit for bit.
TEST(Evaluate, Fp32PredictorRunsAChannelsLastCopyOfA2dNetwork) {
  torch::NoGradGuard no_grad;
  auto net = tiny_model("unet2d", 4);
  net->eval();
  torch::manual_seed(11);
  const auto x = torch::randn({3, 1, 64, 48});
  const auto plain = net->forward(x);
  const auto copy = bcp::eval::model_predictor(*net, bcp::nets::Precision::kFp32)(x);
  EXPECT_EQ(copy.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(copy.is_contiguous());
  ASSERT_EQ(copy.sizes(), plain.sizes());
  bcp::nets::ComputeCopy channels_last(*net, torch::kFloat32);
  channels_last.pull();
  EXPECT_TRUE(torch::equal(copy, channels_last.forward(x)));
  EXPECT_TRUE(torch::allclose(copy, plain, 1e-4, 1e-5))
      << (copy - plain).abs().max().item<double>();
  EXPECT_TRUE(
      torch::equal(bcp::eval::model_predictor(*net, bcp::nets::Precision::kFp32, false)(x), plain));
  for (const auto& p : net->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);

  auto vnet = tiny_model("vnet", 2);
  vnet->eval();
  const auto v = torch::randn({1, 1, 32, 32, 16});
  EXPECT_TRUE(torch::equal(bcp::eval::model_predictor(*vnet, bcp::nets::Precision::kFp32)(v),
                           vnet->forward(v)));
}

}  // namespace bcp_test_evaluate
