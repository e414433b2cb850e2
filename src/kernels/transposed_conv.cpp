#include "bcp/kernels/transposed_conv.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bcp/util/parallel.h"

namespace bcp::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The product's shape: one row per input voxel (n, d, h, w), each row one output block
/// (kd, kh, kw, out) with the output channel fastest.
struct BlockGrid {
  int64_t n, d, h, w, kd, kh, kw, out;

  explicit BlockGrid(const std::vector<int64_t>& v)
      : n(v.at(0)),
        d(v.at(1)),
        h(v.at(2)),
        w(v.at(3)),
        kd(v.at(4)),
        kh(v.at(5)),
        kw(v.at(6)),
        out(v.at(7)) {}
  int64_t row_size() const { return kd * kh * kw * out; }
  int64_t rows() const { return n * d * h * w; }
  std::vector<int64_t> image_sizes() const { return {n, out, d * kd, h * kh, w * kw}; }
};

// Block rows <-> the image, both ways (kToImage: put in place; else gather back, the backward).
// Pure copies, so results are bit for bit those of LibTorch's permute + reshape, which ran an
// 8-dimensional strided copy at about 2 ns per value (a tenth of VNet's bf16 step).

/// Channels-last image (n, D, H, W, out): the kw blocks of one input voxel in one image row are
/// kw * out adjacent values in both, so each is one memcpy.
template <bool kToImage>
void move_channels_last(char* rows, char* image, const BlockGrid& g, size_t elem) {
  const int64_t zs = g.d * g.kd, ys = g.h * g.kh, xs = g.w * g.kw;
  const size_t chunk = static_cast<size_t>(g.kw * g.out) * elem;
  const int64_t image_rows = g.n * zs * ys;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, xs * g.out));
  util::parallel_for(0, image_rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t y = r % ys, z = (r / ys) % zs, b = r / (ys * zs);
      const int64_t voxel0 = ((b * g.d + z / g.kd) * g.h + y / g.kh) * g.w;
      const int64_t offset = ((z % g.kd) * g.kh + y % g.kh) * g.kw * g.out;
      char* img = image + static_cast<size_t>(r * xs * g.out) * elem;
      for (int64_t x = 0; x < g.w; ++x) {
        char* row = rows + static_cast<size_t>((voxel0 + x) * g.row_size() + offset) * elem;
        char* pixel = img + static_cast<size_t>(x) * chunk;
        if (kToImage)
          std::memcpy(pixel, row, chunk);
        else
          std::memcpy(row, pixel, chunk);
      }
    }
  });
}

/// Contiguous image (n, out, D, H, W): one value at a time. One task is one (n, z, y) of the image:
/// its source, the rows of W adjacent input voxels, is one stretch of memory, read once for every
/// output channel's image row from the cache.
template <bool kToImage, typename T>
void move_contiguous(T* rows, T* image, const BlockGrid& g) {
  const int64_t zs = g.d * g.kd, ys = g.h * g.kh, xs = g.w * g.kw;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, xs * g.out));
  util::parallel_for(0, g.n * zs * ys, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t y = r % ys, z = (r / ys) % zs, b = r / (ys * zs);
      T* source = rows + ((b * g.d + z / g.kd) * g.h + y / g.kh) * g.w * g.row_size() +
                  ((z % g.kd) * g.kh + y % g.kh) * g.kw * g.out;
      for (int64_t o = 0; o < g.out; ++o) {
        T* img = image + (((b * g.out + o) * zs + z) * ys + y) * xs;
        for (int64_t x = 0; x < g.w; ++x) {
          T* row = source + x * g.row_size() + o;
          for (int64_t c = 0; c < g.kw; ++c) {
            if (kToImage)
              img[x * g.kw + c] = row[c * g.out];
            else
              row[c * g.out] = img[x * g.kw + c];
          }
        }
      }
    }
  });
}

template <bool kToImage>
void move_blocks(const torch::Tensor& rows, const torch::Tensor& image, const BlockGrid& g,
                 bool channels_last) {
  char* r = static_cast<char*>(rows.data_ptr());
  char* i = static_cast<char*>(image.data_ptr());
  const size_t elem = rows.element_size();
  if (channels_last) return move_channels_last<kToImage>(r, i, g, elem);
  switch (elem) {  // values as raw bits of their size
    case 1:
      return move_contiguous<kToImage>(reinterpret_cast<uint8_t*>(r), reinterpret_cast<uint8_t*>(i),
                                       g);
    case 2:
      return move_contiguous<kToImage>(reinterpret_cast<uint16_t*>(r),
                                       reinterpret_cast<uint16_t*>(i), g);
    case 4:
      return move_contiguous<kToImage>(reinterpret_cast<uint32_t*>(r),
                                       reinterpret_cast<uint32_t*>(i), g);
    case 8:
      return move_contiguous<kToImage>(reinterpret_cast<uint64_t*>(r),
                                       reinterpret_cast<uint64_t*>(i), g);
    default:
      TORCH_CHECK(false, "conv_transpose3d: values of ", elem, " bytes");
  }
}

torch::MemoryFormat format_of(bool channels_last) {
  return channels_last ? torch::MemoryFormat::ChannelsLast3d : torch::MemoryFormat::Contiguous;
}

/// The product's rows (rows x row_size, contiguous, on the CPU) put in place as the image.
class PlaceBlocks : public torch::autograd::Function<PlaceBlocks> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& rows,
                               const std::vector<int64_t>& grid, bool channels_last) {
    const BlockGrid g(grid);
    TORCH_CHECK(rows.is_contiguous() && rows.dim() == 2 && rows.size(0) == g.rows() &&
                    rows.size(1) == g.row_size(),
                "conv_transpose3d: block rows of shape ", rows.sizes());
    auto image =
        torch::empty(g.image_sizes(), rows.options().memory_format(format_of(channels_last)));
    move_blocks<true>(rows, image, g, channels_last);
    ctx->saved_data["grid"] = grid;
    ctx->saved_data["channels_last"] = channels_last;
    return image;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const BlockGrid g(ctx->saved_data["grid"].toIntVector());
    const bool channels_last = ctx->saved_data["channels_last"].toBool();
    const auto grad = grads[0].contiguous(format_of(channels_last));
    auto rows = torch::empty({g.rows(), g.row_size()}, grad.options());
    move_blocks<false>(rows, grad, g, channels_last);
    return {rows, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

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
  // The output in x's layout: the ops that follow (BatchNorm above all) can be several times
  // slower on another (LibTorch 1.13 runs 3-D convolutions, so VNet, in NCDHW).
  const bool channels_last = x.suggest_memory_format() == torch::MemoryFormat::ChannelsLast3d;
  if (blocks.device().is_cpu())
    return PlaceBlocks::apply(blocks.contiguous(),
                              std::vector<int64_t>{n, d, h, w, kd, kh, kw, out}, channels_last);
  const auto placed = blocks.view({n, d, h, w, kd, kh, kw, out});
  if (channels_last)
    return placed.permute({0, 1, 4, 2, 5, 3, 6, 7})
        .reshape({n, d * kd, h * kh, w * kw, out})
        .permute({0, 4, 1, 2, 3});
  return placed.permute({0, 7, 1, 4, 2, 5, 3, 6}).reshape({n, out, d * kd, h * kh, w * kw});
}

}  // namespace bcp::kernels
