#include "bcp/kernels/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <torch/torch.h>

#include <cstring>
#include <mutex>

#include "bcp/util/parallel.h"
#include "bcp/util/vector_clones.h"

namespace bcp::kernels {
namespace {

uint64_t draw_key() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

// Whether 16-bit draw `lane` of `word` keeps its element.
inline bool keeps(uint64_t word, int lane, uint32_t threshold) {
  return ((word >> (16 * lane)) & 0xFFFF) < threshold;
}

// The keep values of whole words w0 .. w0 + n - 1, four per word: a loop GCC vectorises, the
// 64-bit hash included.
BCP_VECTOR_CLONES_16BIT void keep_words(uint64_t key, uint32_t threshold, uint16_t kept, int64_t w0,
                                        int64_t n, uint16_t* __restrict__ keep) {
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t h = dropout_word(key, w0 + i);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t packed = 0;  // value j (in memory order) is lane j
    for (int lane = 0; lane < 4; ++lane)
      packed |= static_cast<uint64_t>(keeps(h, lane, threshold) ? kept : 0) << (16 * lane);
    std::memcpy(keep + 4 * i, &packed, sizeof packed);
#else
    for (int lane = 0; lane < 4; ++lane) keep[4 * i + lane] = keeps(h, lane, threshold) ? kept : 0;
#endif
  }
}

}  // namespace

void dropout_keep(const DropoutDraw& draw, int64_t first, int64_t count, uint16_t kept,
                  uint16_t* keep) {
  int64_t i = first;
  const int64_t end = first + count;
  const auto one = [&] {
    const bool k = keeps(dropout_word(draw.key, i / 4), static_cast<int>(i % 4), draw.threshold);
    keep[i - first] = k ? kept : 0;
    ++i;
  };
  while (i < end && i % 4 != 0) one();
  const int64_t words = (end - i) / 4;
  keep_words(draw.key, draw.threshold, kept, i / 4, words, keep + (i - first));
  i += 4 * words;
  while (i < end) one();
}

DropoutDraw draw_dropout(double p) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
  // Keep when a 16-bit draw is below round(keep * 65536).
  return {draw_key(), static_cast<uint32_t>((1.0 - p) * 65536.0 + 0.5)};
}

torch::Tensor dropout_mask(const torch::Tensor& like, double p) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout_mask: p must be in [0, 1), got ", p);
  TORCH_CHECK(like.device().is_cpu(), "dropout_mask: CPU tensors only, got ", like.device());
  const DropoutDraw draw = draw_dropout(p);
  // Same layout as `like` (channels-last stays channels-last); filled in memory order.
  auto mask = torch::empty_like(like, like.options(), like.suggest_memory_format());
  TORCH_CHECK(mask.is_non_overlapping_and_dense(), "dropout_mask: cannot lay out ", like.sizes());
  const int64_t n = mask.numel();
  const int64_t words = (n + 3) / 4;  // four 16-bit draws per hash
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kBFloat16, at::kHalf, mask.scalar_type(), "dropout_mask", [&] {
        scalar_t* out = mask.data_ptr<scalar_t>();
        const scalar_t scale = static_cast<scalar_t>(1.0 / (1.0 - p));
        const scalar_t zero = static_cast<scalar_t>(0);
        util::parallel_for(0, words, 1 << 14, [&](int64_t begin, int64_t end) {
          for (int64_t w = begin; w < end; ++w) {
            const uint64_t h = dropout_word(draw.key, w);
            const int64_t base = 4 * w;
            const int64_t m = std::min<int64_t>(4, n - base);
            for (int lane = 0; lane < m; ++lane)
              out[base + lane] = keeps(h, lane, draw.threshold) ? scale : zero;
          }
        });
      });
  return mask;
}

ParallelDropoutImpl::ParallelDropoutImpl(double p) : p_(p) {
  TORCH_CHECK(p >= 0 && p < 1, "ParallelDropout: p must be in [0, 1), got ", p);
}

torch::Tensor ParallelDropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0 || x.numel() == 0) return x;
  if (!x.device().is_cpu()) return torch::dropout(x, p_, /*train=*/true);  // GPUs draw in parallel
  return x * dropout_mask(x, p_);
}

}  // namespace bcp::kernels
