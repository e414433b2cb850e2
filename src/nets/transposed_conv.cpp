#include "bcp/nets/transposed_conv.h"

#include <ATen/ATen.h>

namespace bcp::nets {

torch::Tensor conv_transpose3d_stride_is_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                                const torch::Tensor& bias) {
  TORCH_CHECK(x.dim() == 5 && weight.dim() == 5,
              "conv_transpose3d: 5-D input and weight expected, got ", x.sizes(), " and ",
              weight.sizes());
  TORCH_CHECK(x.size(1) == weight.size(0), "conv_transpose3d: input has ", x.size(1),
              " channels, the weight expects ", weight.size(0));
  const int64_t n = x.size(0), in = x.size(1), d = x.size(2), h = x.size(3), w = x.size(4);
  const int64_t out = weight.size(1), kd = weight.size(2), kh = weight.size(3), kw = weight.size(4);
  // Rows: input voxels in channels-last order (a view when x is channels-last); columns: the
  // output block (kd, kh, kw) with the output channel fastest.
  const auto rows = x.permute({0, 2, 3, 4, 1}).reshape({n * d * h * w, in});
  const auto cols =
      weight.to(x.scalar_type()).permute({0, 2, 3, 4, 1}).reshape({in, kd * kh * kw * out});
  const auto blocks = bias.defined()
                          ? at::addmm(bias.to(x.scalar_type()).repeat({kd * kh * kw}), rows, cols)
                          : at::mm(rows, cols);
  const auto placed = blocks.view({n, d, h, w, kd, kh, kw, out});
  // The output in x's layout: the ops that follow (BatchNorm above all) can be several times
  // slower on another (LibTorch 1.13 runs 3-D convolutions, so VNet, in NCDHW).
  if (x.suggest_memory_format() == torch::MemoryFormat::ChannelsLast3d)
    return placed.permute({0, 1, 4, 2, 5, 3, 6, 7})
        .reshape({n, d * kd, h * kh, w * kw, out})
        .permute({0, 4, 1, 2, 3});
  return placed.permute({0, 7, 1, 4, 2, 5, 3, 6}).reshape({n, out, d * kd, h * kh, w * kw});
}

}  // namespace bcp::nets
