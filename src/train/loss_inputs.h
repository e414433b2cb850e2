// The checks every loss makes of its inputs, shared by the LibTorch losses and the fused ones so
// that both refuse the same inputs with the same words.
#pragma once
#include <torch/types.h>

namespace bcp::train {

/// A soft target holds class probabilities (N, C, spatial...) instead of labels (N, spatial...).
bool is_soft(const torch::Tensor& target);

/// scores (N, C, spatial...) and target: integer (N, spatial...) with values in [0, C), or soft
/// (floating, the scores' shape); `who` names the loss in the error.
void check_pair(const torch::Tensor& scores, const torch::Tensor& target, const char* who);

/// The mask as float of the scores' dtype, expanded to the label shape (N, spatial...).
torch::Tensor expand_mask(const torch::Tensor& mask, const torch::Tensor& scores, const char* who);

}  // namespace bcp::train
