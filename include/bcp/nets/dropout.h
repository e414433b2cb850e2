// Element-wise dropout (torch.nn.Dropout's semantics: zero with probability p in train mode, scale
// the rest by 1 / (1 - p), identity in eval mode) with a mask drawn in parallel. LibTorch 1.13
// built without MKL draws nn::Dropout's mask serially, one 64-bit number per element under the
// generator's lock; for the UNet's encoder that is about a fifth of an ACDC training step.
//
// The mask comes from a counter-based hash (SplitMix64) keyed by 64 bits drawn from the global
// CPU generator, so it is reproducible from torch::manual_seed, restored with the generator state
// on resume, and independent of the thread count. It is not the same stream as nn::Dropout's.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace bcp::nets {

/// Keep-mask of `like`'s shape, dtype and device: 1 / (1 - p) with probability 1 - p, else 0.
/// Resolution 2^-16 in the keep probability. Requires 0 <= p < 1.
torch::Tensor dropout_mask(const torch::Tensor& like, double p);

class ParallelDropoutImpl : public torch::nn::Cloneable<ParallelDropoutImpl> {
 public:
  explicit ParallelDropoutImpl(double p = 0.5);
  void reset() override {}
  /// x * dropout_mask(x, p) in train mode with p > 0; x itself otherwise.
  torch::Tensor forward(const torch::Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(ParallelDropout);

}  // namespace bcp::nets
