#include "bcp/train/validation.h"

#include "bcp/data/recipe.h"

namespace bcp::train {

eval::EvalProtocol eval_protocol_of(const TrainConfig& c) {
  eval::EvalProtocol p;
  p.dataset = c.dataset;
  const bool window = data::recipe_of(c.dataset).eval == data::EvalKind::kSlidingWindow;
  if (!window && !c.data.patch.empty()) p.acdc_slice = c.data.patch[0];
  if (window && c.data.patch.size() == 3)
    p.la_patch = {c.data.patch[0], c.data.patch[1], c.data.patch[2]};
  if (c.eval.stride.size() == 3)
    p.la_stride = {c.eval.stride[0], c.eval.stride[1], c.eval.stride[2]};
  p.ignore_label = c.data.ignore_label;
  p.intensity.kind = c.data.intensity;
  if (c.data.ct_window.size() == 2) {
    p.intensity.ct_low = c.data.ct_window[0];
    p.intensity.ct_high = c.data.ct_window[1];
  }
  return p;
}

eval::ModelEvaluateOptions validation_options(const TrainConfig& config) {
  eval::ModelEvaluateOptions o = eval::evaluate_options(eval_protocol_of(config));
  o.precision = config.precision;
  o.channels_last = config.channels_last;
  o.la.window.window_batch = config.eval.window_batch;
  return o;
}

ValidationScores validate_model(nets::SegmentationNetImpl& net, const ValidationSet& set,
                                const TrainConfig& config) {
  eval::ScoreReport report = eval::evaluate_model(net, set, validation_options(config));
  ValidationScores v;
  for (const auto& [cls, scores] : eval::per_class_mean(report)) {
    v.dice.push_back(scores.dice);
    v.hd95.push_back(scores.hd95);
  }
  eval::BinaryScores mean = eval::overall_mean(report);
  v.mean_dice = mean.dice;
  v.mean_hd95 = mean.hd95;
  return v;
}

}  // namespace bcp::train
