// BatchNorm that can normalise with the statistics of the whole data-parallel batch (synchronised
// BatchNorm). Without a reducer attached, and in eval mode, it is exactly
// torch::nn::BatchNorm{2,3}d: the same base (NormImplBase: parameters, buffers, their order and
// names, initialisation) and the same forward, so the networks' parity with the authors' code does
// not depend on it.
#pragma once
#include <torch/nn/modules/batchnorm.h>

#include <functional>
#include <ostream>

namespace bcp::nets {

/// The sum of a tensor over all ranks, differentiable (its gradient is the sum of the ranks'
/// gradients), e.g. distributed::rank_sum. Every rank must call it in the same order.
using RankSum = std::function<torch::Tensor(const torch::Tensor&)>;

/// In train mode with a reducer attached: normalises with the mean and biased variance over every
/// rank's batch (two collectives of C values per layer, computed in fp32, output in the input's
/// dtype) and updates the running statistics with the unbiased variance, as BatchNorm does over
/// one batch.
template <size_t D>
class SyncBatchNormImpl
    : public torch::nn::NormImplBase<D, SyncBatchNormImpl<D>, torch::nn::BatchNormOptions> {
 public:
  using torch::nn::NormImplBase<D, SyncBatchNormImpl<D>, torch::nn::BatchNormOptions>::NormImplBase;
  torch::Tensor forward(const torch::Tensor& input);
  /// Whether forward_leaky_relu fuses for `input`: batch_norm_leaky_relu takes it (bf16
  /// channels-last on the CPU), and train mode without a reducer or eval mode with running
  /// statistics under no-grad (batch_norm_leaky_relu_inference).
  bool fuses_leaky_relu(const torch::Tensor& input) const;
  /// leaky_relu_(forward(input), slope), as one pass over memory where it fuses; there, in train
  /// mode, also dropout with probability `dropout_p` (see batch_norm_leaky_relu). Elsewhere
  /// `dropout_p` must be 0.
  torch::Tensor forward_leaky_relu(const torch::Tensor& input, double slope,
                                   double dropout_p = 0.0);
  void pretty_print(std::ostream& stream) const override {
    stream << "SyncBatchNorm" << D << "d(" << this->options.num_features() << ")";
  }
  RankSum rank_sum;  ///< empty: plain BatchNorm

 protected:
  void _check_input_dim(const torch::Tensor& input) override;

 private:
  /// In train mode with running statistics: counts this batch and returns the weight of its
  /// statistics in them (`momentum`, or 1 / batches without one). Else `momentum` or 0.
  double count_batch();
};

using SyncBatchNorm2dImpl = SyncBatchNormImpl<2>;
using SyncBatchNorm3dImpl = SyncBatchNormImpl<3>;
TORCH_MODULE(SyncBatchNorm2d);
TORCH_MODULE(SyncBatchNorm3d);

extern template class SyncBatchNormImpl<2>;
extern template class SyncBatchNormImpl<3>;

/// Attaches `sum` to every BatchNorm of `module` (an empty one detaches); returns how many.
int64_t synchronize_batch_norm(torch::nn::Module& module, const RankSum& sum);

}  // namespace bcp::nets
