#include "bcp/nets/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <torch/torch.h>

#include <cstring>
#include <mutex>

#include "bcp/util/parallel.h"

namespace bcp::nets {
namespace {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t draw_key() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

}  // namespace

torch::Tensor dropout_mask(const torch::Tensor& like, double p) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout_mask: p must be in [0, 1), got ", p);
  TORCH_CHECK(like.device().is_cpu(), "dropout_mask: CPU tensors only, got ", like.device());
  const uint64_t key = draw_key();
  // Keep when a 16-bit draw is below round(keep * 65536).
  const uint32_t threshold = static_cast<uint32_t>((1.0 - p) * 65536.0 + 0.5);
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
            uint64_t h = splitmix64(key ^ (static_cast<uint64_t>(w) * 0xD6E8FEB86659FD93ULL));
            const int64_t base = 4 * w;
            const int64_t m = std::min<int64_t>(4, n - base);
            for (int64_t j = 0; j < m; ++j, h >>= 16)
              out[base + j] = (h & 0xFFFF) < threshold ? scale : zero;
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

}  // namespace bcp::nets
