// argmax over the class axis (dim 1) of (N, C, spatial...) scores. LibTorch reduces a strided
// inner axis slowly (about 7x slower than a contiguous one for 4 classes at 256x256); moving the
// classes last first gives the same indices (the first maximum, as torch.argmax) much faster.
#pragma once
#include <torch/types.h>

namespace bcp::eval {

/// Same values as x.argmax(1): int64 of shape (N, spatial...).
torch::Tensor channel_argmax(const torch::Tensor& x);

}  // namespace bcp::eval
