// What every loss shares, the LibTorch losses (train/losses.h) and the fused ones: the checks of
// their inputs, so that both refuse the same inputs with the same words, and the parts they return.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// The two parts of a mixed loss, each already weighted and summed over both regions.
struct MixLossResult {
  torch::Tensor dice;  ///< w_img * Dice(on M) + w_patch * Dice(on 1 - M)
  torch::Tensor ce;    ///< w_img * CE(on M) + w_patch * CE(on 1 - M), masked means
};

/// A soft target holds class probabilities (N, C, spatial...) instead of labels (N, spatial...).
bool is_soft(const torch::Tensor& target);

/// scores (N, C, spatial...) and target: integer (N, spatial...) with values in [0, C), or soft
/// (floating, the scores' shape); `who` names the loss in the error.
void check_pair(const torch::Tensor& scores, const torch::Tensor& target, const char* who);

/// The mask as float of the scores' dtype, expanded to the label shape (N, spatial...).
torch::Tensor expand_mask(const torch::Tensor& mask, const torch::Tensor& scores, const char* who);

}  // namespace bcp::kernels
