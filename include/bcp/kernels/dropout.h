// Element-wise dropout (torch.nn.Dropout's semantics: zero with probability p in train mode, scale
// the rest by 1 / (1 - p), identity in eval mode) with a mask drawn in parallel. LibTorch 1.13
// built without MKL draws nn::Dropout's mask serially, one 64-bit number per element under the
// generator's lock; for the UNet's encoder that is about a fifth of an ACDC training step.
//
// The mask comes from a counter-based hash (SplitMix64) keyed by 64 bits drawn from the global
// CPU generator, so it is reproducible from torch::manual_seed, restored with the generator state
// on resume, and independent of the thread count. It is not the same stream as nn::Dropout's.
// Still pays on LibTorch 2.13 (2026-12-06, BM_Kernel/dropout): 37 against 158 ms forward +
// backward at 24x16x256x256; retire when LibTorch draws dropout masks in parallel.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace bcp::kernels {

/// One mask's draw: element i of the mask (in memory order) is kept when the 16-bit draw
/// `(dropout_word(key, i / 4) >> (16 * (i % 4))) & 0xFFFF` is below `threshold`.
struct DropoutDraw {
  uint64_t key;        ///< 64 bits from the global CPU generator
  uint32_t threshold;  ///< round((1 - p) * 65536)
};

/// Draws a mask's key (advancing the global CPU generator by one 64-bit number). 0 <= p < 1.
DropoutDraw draw_dropout(double p);

/// Four 16-bit draws, for mask elements 4 * word .. 4 * word + 3 (low bits first).
inline uint64_t dropout_word(uint64_t key, int64_t word) {
  uint64_t x = key ^ (static_cast<uint64_t>(word) * 0xD6E8FEB86659FD93ULL);
  x += 0x9E3779B97F4A7C15ULL;  // SplitMix64
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// keep[i] = `kept` where mask element `first + i` is kept, else 0, for i in [0, count): e.g. the
/// bits of a bf16 1 / (1 - p), for a mask in bf16 bits.
void dropout_keep(const DropoutDraw& draw, int64_t first, int64_t count, uint16_t kept,
                  uint16_t* keep);

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

}  // namespace bcp::kernels
