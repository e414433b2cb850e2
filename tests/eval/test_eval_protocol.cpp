// Evaluation owns its protocol: the record every training checkpoint carries, and what files
// without one (imported, older) fall back to.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/train_state.h"
#include "bcp/train/validation.h"

using bcp::eval::EvalProtocol;
using nlohmann::json;

TEST(EvalProtocol, JsonRoundTripsAndRefusesWhatItDoesNotKnow) {
  EvalProtocol p;
  p.dataset = bcp::data::Dataset::kLa;
  p.la_patch = {96, 96, 64};
  p.la_stride = {8, 8, 4};
  p.intensity = {bcp::data::IntensityKind::kCt, -200, 300};
  const json j = p;
  const auto back = j.get<EvalProtocol>();
  EXPECT_EQ(back.dataset, bcp::data::Dataset::kLa);
  EXPECT_EQ(back.la_patch, p.la_patch);
  EXPECT_EQ(back.la_stride, p.la_stride);
  EXPECT_EQ(back.intensity.kind, bcp::data::IntensityKind::kCt);
  EXPECT_EQ(back.intensity.ct_high, 300);
  EXPECT_EQ(json::object().get<EvalProtocol>().acdc_slice, 256);  // defaults
  json unknown = j;
  unknown["patch"] = 5;
  EXPECT_THROW(unknown.get<EvalProtocol>(), std::invalid_argument);
  json wide = j;
  wide["la_stride"] = {8, 8, 65};  // beyond the patch
  EXPECT_THROW(wide.get<EvalProtocol>(), std::invalid_argument);
  json other = j;
  other["dataset"] = "brats";
  EXPECT_THROW(other.get<EvalProtocol>(), std::invalid_argument);
  json huge = j;
  huge["acdc_slice"] = 100000;  // a damaged record must not ask for a 400 GB allocation
  EXPECT_THROW(huge.get<EvalProtocol>(), std::invalid_argument);
}

TEST(EvalProtocol, TheRecordWinsOverTheTrainingConfigAndOlderFilesFallBack) {
  const bcp::nets::ModelConfig unet{bcp::nets::Arch::kUNet2d, 1, 4};
  const bcp::nets::ModelConfig vnet{bcp::nets::Arch::kVNet, 1, 2};
  // A record: its numbers, whatever the training config beside it says.
  EvalProtocol rec;
  rec.acdc_slice = 128;
  json meta = {{"eval_protocol", rec},
               {"config", {{"dataset", "acdc"}, {"data", {{"patch", {64, 64}}}}}}};
  EXPECT_EQ(bcp::eval::checkpoint_eval_protocol(meta, unet).acdc_slice, 128);
  EXPECT_EQ(bcp::eval::checkpoint_protocol(meta, unet).acdc.size, 128);
  // An older training checkpoint: read from its config, once, in legacy_protocol.
  json old = {{"config",
               {{"dataset", "la"},
                {"data", {{"patch", {96, 96, 64}}, {"intensity", "zscore"}}},
                {"eval", {{"stride", {8, 8, 4}}}}}}};
  const auto lp = bcp::eval::checkpoint_eval_protocol(old, vnet);
  EXPECT_EQ(lp.dataset, bcp::data::Dataset::kLa);
  EXPECT_EQ(lp.la_patch, (std::array<int64_t, 3>{96, 96, 64}));
  EXPECT_EQ(lp.la_stride, (std::array<int64_t, 3>{8, 8, 4}));
  EXPECT_EQ(lp.intensity.kind, bcp::data::IntensityKind::kZscore);
  // An imported file: the dataset it names, else the architecture's, with the defaults.
  EXPECT_EQ(bcp::eval::checkpoint_eval_protocol({{"extra", {{"dataset", "acdc"}}}}, unet).dataset,
            bcp::data::Dataset::kAcdc);
  const auto bare = bcp::eval::checkpoint_eval_protocol(json(), vnet);
  EXPECT_EQ(bare.dataset, bcp::data::Dataset::kLa);
  EXPECT_EQ(bare.la_patch, (std::array<int64_t, 3>{112, 112, 80}));
  // A malformed record is an error, not a silent default.
  json broken = {{"eval_protocol", {{"acdc_slice", "big"}}}};
  EXPECT_NE(bcp::test::error_of([&] {
              bcp::eval::checkpoint_eval_protocol(broken, unet);
            }).find("eval_protocol is malformed"),
            std::string::npos);
}

TEST(EvalProtocol, EveryTrainingCheckpointCarriesItsProtocol) {
  bcp::train::TrainConfig c = bcp::train::preset("la", 10, "bcp");
  c.data.patch = {64, 64, 48};
  c.eval.stride = {16, 16, 8};
  const EvalProtocol p = bcp::train::eval_protocol_of(c);
  EXPECT_EQ(p.dataset, bcp::data::Dataset::kLa);
  EXPECT_EQ(p.la_patch, (std::array<int64_t, 3>{64, 64, 48}));
  EXPECT_EQ(p.la_stride, (std::array<int64_t, 3>{16, 16, 8}));

  bcp::test::TempDir dir("eval_protocol");
  torch::manual_seed(0);
  auto net = bcp::nets::make_model({bcp::nets::Arch::kVNet, 1, 2});
  bcp::train::LoopState loop;
  const std::string path = dir / "last.h5";
  bcp::train::save_train_state(path, *net, nullptr, nullptr, loop, bcp::train::config_to_json(c));
  const json meta = bcp::io::load_tensor_archive_meta(path);
  ASSERT_TRUE(meta.contains("eval_protocol"));
  const auto read = bcp::eval::checkpoint_eval_protocol(meta, net->config());
  EXPECT_EQ(read.la_patch, p.la_patch);
  EXPECT_EQ(read.la_stride, p.la_stride);
  const auto options = bcp::eval::checkpoint_protocol(meta, net->config());
  EXPECT_EQ(options.la.window.patch, p.la_patch);
  EXPECT_EQ(options.la.window.stride, p.la_stride);
}

TEST(EvalProtocol, DefaultsAreTheProtocolsOwn) {
  const auto recorded = bcp::eval::evaluate_options(EvalProtocol{});
  const bcp::eval::ModelEvaluateOptions plain;
  EXPECT_EQ(recorded.acdc.size, plain.acdc.size);
  EXPECT_EQ(recorded.la.window.patch, plain.la.window.patch);
  EXPECT_EQ(recorded.la.window.stride, plain.la.window.stride);
  EXPECT_EQ(recorded.la.largest_component, plain.la.largest_component);
}

// Validation during training scores a model as `bcp evaluate` scores its checkpoint.
TEST(EvalProtocol, ValidationRunsTheCheckpointsProtocol) {
  for (const char* dataset : {"acdc", "la"}) {
    SCOPED_TRACE(dataset);
    bcp::train::TrainConfig c = bcp::train::preset(dataset, 5, "bcp");
    const bool la = std::string(dataset) == "la";
    c.data.patch = la ? std::vector<int64_t>{64, 64, 48} : std::vector<int64_t>{128, 128};
    if (la) c.eval.stride = {16, 16, 8};
    c.eval.window_batch = 3;
    bcp::test::TempDir dir("validation_protocol");
    torch::manual_seed(0);
    auto net = bcp::nets::make_model(bcp::train::model_config_for(c));
    const std::string path = dir / "last.h5";
    bcp::train::save_train_state(path, *net, nullptr, nullptr, bcp::train::LoopState{},
                                 bcp::train::config_to_json(c));
    const auto evaluated =
        bcp::eval::checkpoint_protocol(bcp::io::load_tensor_archive_meta(path), net->config());
    const auto validated = bcp::train::validation_options(c);
    EXPECT_EQ(validated.dataset, evaluated.dataset);
    EXPECT_EQ(validated.acdc.size, evaluated.acdc.size);
    EXPECT_EQ(validated.la.window.patch, evaluated.la.window.patch);
    EXPECT_EQ(validated.la.window.stride, evaluated.la.window.stride);
    EXPECT_EQ(validated.la.largest_component, evaluated.la.largest_component);
    EXPECT_EQ(validated.la.window.window_batch, 3);
    EXPECT_EQ(validated.precision, c.precision);
    EXPECT_EQ(validated.channels_last, c.channels_last);
  }
}
