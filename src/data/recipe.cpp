#include "bcp/data/recipe.h"

#include "bcp/data/acdc.h"
#include "bcp/data/la.h"

namespace bcp::data {

const Recipe& recipe_of(Dataset name) {
  static const Recipe kAcdc{Dataset::kAcdc,
                            2,
                            FileLayout::kSlices,
                            LossFamily::kSsl4mis,
                            PseudoLabelRule::kArgmax,
                            /*unlabeled_pass_first=*/true,
                            /*pretrain_mixed_loss=*/true,
                            EvalKind::kSliceWise,
                            4,
                            IntensityKind::kMinmax,
                            "slice-wise 2D"};
  static const Recipe kLa{Dataset::kLa,
                          3,
                          FileLayout::kVolumes,
                          LossFamily::kUamt,
                          PseudoLabelRule::kForegroundHalf,
                          /*unlabeled_pass_first=*/false,
                          /*pretrain_mixed_loss=*/false,
                          EvalKind::kSlidingWindow,
                          2,
                          IntensityKind::kZscore,
                          "sliding window 3D"};
  return name == Dataset::kAcdc ? kAcdc : kLa;
}

Dataset reference_dataset(int64_t spatial_dims) {
  return recipe_of(Dataset::kAcdc).spatial_dims == spatial_dims ? Dataset::kAcdc : Dataset::kLa;
}

std::string volume_path(Dataset recipe, const std::string& root, const std::string& name) {
  return recipe_of(recipe).layout == FileLayout::kSlices ? AcdcRoot(root).volume_path(name)
                                                         : LaRoot(root).volume_path(name);
}

Sample load_volume(Dataset recipe, const std::string& root, const std::string& name,
                   const LabelValues& labels, int64_t channels) {
  return recipe_of(recipe).layout == FileLayout::kSlices
             ? load_acdc_volume(AcdcRoot(root), name, labels, channels)
             : load_la_volume(LaRoot(root), name, labels, channels);
}

Sample load_training_item(Dataset recipe, const std::string& root, const std::string& name,
                          const LabelValues& labels, int64_t channels) {
  return recipe_of(recipe).layout == FileLayout::kSlices
             ? load_acdc_slice(AcdcRoot(root), name, labels, channels)
             : load_la_volume(LaRoot(root), name, labels, channels);
}

}  // namespace bcp::data
