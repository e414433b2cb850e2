#include "bcp/train/validation.h"

#include "bcp/data/recipe.h"
#include "bcp/eval/evaluate.h"

namespace bcp::train {

ValidationScores validate_model(nets::SegmentationNetImpl& net, const ValidationSet& set,
                                const TrainConfig& config) {
  eval::ModelEvaluateOptions o;
  o.dataset = config.dataset;
  o.precision = config.precision;
  o.channels_last = config.channels_last;
  if (data::recipe_of(config.dataset).eval == data::EvalKind::kSliceWise) {
    o.acdc.size = config.data.patch[0];
  } else {
    const auto& p = config.data.patch;
    const auto& s = config.eval.stride;
    o.la.window.patch = {p[0], p[1], p[2]};
    o.la.window.stride = {s[0], s[1], s[2]};
    o.la.window.window_batch = config.eval.window_batch;
  }
  eval::ScoreReport report = eval::evaluate_model(net, set, o);
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
