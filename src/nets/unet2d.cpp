#include "bcp/nets/unet2d.h"

#include <cmath>
#include <stdexcept>

#include "bcp/kernels/bilinear_upsample.h"
#include "bcp/kernels/channel_concat.h"
#include "bcp/kernels/dropout.h"
#include "bcp/kernels/max_pool.h"
#include "bcp/nets/batch_norm.h"

namespace bcp::nets {
namespace nn = torch::nn;

UNetConvBlockImpl::UNetConvBlockImpl(int64_t in_channels, int64_t out_channels, double dropout_p) {
  // In-place LeakyReLU gives the same values and gradients as the reference's out-of-place one
  // (slope > 0) and saves one activation copy per block.
  conv_conv = register_module(
      "conv_conv",
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 3).padding(1)),
                     SyncBatchNorm2d(out_channels),
                     nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.01).inplace(true)),
                     kernels::ParallelDropout(dropout_p),
                     nn::Conv2d(nn::Conv2dOptions(out_channels, out_channels, 3).padding(1)),
                     SyncBatchNorm2d(out_channels),
                     nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.01).inplace(true))));
}

// The Sequential holds and names the layers as the authors' nn.Sequential does; the forward walks
// it by hand so that each batch norm runs with its activation, and the first with the dropout
// (one pass over memory in bf16).
torch::Tensor UNetConvBlockImpl::forward(torch::Tensor x) {
  const nn::Sequential& s = conv_conv;
  const double slope = s->ptr<nn::LeakyReLUImpl>(2)->options.negative_slope();
  const auto norm = s->ptr<SyncBatchNorm2dImpl>(1);
  const auto dropout = s->ptr<kernels::ParallelDropoutImpl>(3);
  x = s->ptr<nn::Conv2dImpl>(0)->forward(x);
  const double p = dropout->is_training() ? dropout->p() : 0.0;
  // The dropout fuses with a training batch norm (a batch norm in eval mode fuses without one).
  if (norm->fuses_leaky_relu(x) && (norm->is_training() || p == 0.0))
    x = norm->forward_leaky_relu(x, slope, p);
  else
    x = dropout->forward(norm->forward_leaky_relu(x, slope));
  x = s->ptr<nn::Conv2dImpl>(4)->forward(x);
  return s->ptr<SyncBatchNorm2dImpl>(5)->forward_leaky_relu(x, slope);
}

UNetDownBlockImpl::UNetDownBlockImpl(int64_t in_channels, int64_t out_channels, double dropout_p) {
  maxpool_conv = register_module(
      "maxpool_conv", nn::Sequential(nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                                     UNetConvBlock(in_channels, out_channels, dropout_p)));
}

torch::Tensor UNetDownBlockImpl::forward(torch::Tensor x) {
  const auto& pool = maxpool_conv->ptr<nn::MaxPool2dImpl>(0)->options;
  const bool two_by_two = *pool.kernel_size() == std::array<int64_t, 2>{2, 2} &&
                          *pool.stride() == std::array<int64_t, 2>{2, 2} &&
                          *pool.padding() == std::array<int64_t, 2>{0, 0} &&
                          *pool.dilation() == std::array<int64_t, 2>{1, 1} && !pool.ceil_mode();
  if (!two_by_two || !kernels::fuses_max_pool_2x2(x)) return maxpool_conv->forward(x);
  return maxpool_conv->ptr<UNetConvBlockImpl>(1)->forward(kernels::max_pool_2x2(x));
}

UNetUpBlockImpl::UNetUpBlockImpl(int64_t in_channels1, int64_t in_channels2, int64_t out_channels,
                                 double dropout_p) {
  conv1x1 =
      register_module("conv1x1", nn::Conv2d(nn::Conv2dOptions(in_channels1, in_channels2, 1)));
  up = register_module("up", nn::Upsample(nn::UpsampleOptions()
                                              .scale_factor(std::vector<double>{2.0, 2.0})
                                              .mode(torch::kBilinear)
                                              .align_corners(true)));
  conv = register_module("conv", UNetConvBlock(in_channels2 * 2, out_channels, dropout_p));
}

torch::Tensor UNetUpBlockImpl::forward(torch::Tensor x1, torch::Tensor x2) {
  x1 = conv1x1->forward(x1);
  // LibTorch 1.13's bf16 bilinear backward on the CPU is several times slower than its fp32 one:
  // a bf16 channels-last network upsamples with bcp's kernel, another bf16 one in fp32.
  const auto& o = up->options;
  const bool bilinear = torch::enumtype::get_enum_name(o.mode()) == "kBilinear" &&
                        o.align_corners().value_or(false) && o.scale_factor().has_value();
  if (bilinear && kernels::fuses_bilinear_upsample(x1)) {
    const std::vector<double>& scale = *o.scale_factor();
    x1 = kernels::bilinear_upsample(x1, static_cast<int64_t>(std::floor(x1.size(2) * scale[0])),
                                    static_cast<int64_t>(std::floor(x1.size(3) * scale[1])));
  } else if (x1.scalar_type() == torch::kBFloat16 && x1.is_cpu()) {
    x1 = up->forward(x1.to(torch::kFloat32)).to(torch::kBFloat16);
  } else {
    x1 = up->forward(x1);
  }
  return conv->forward(kernels::concat_channels(x2, x1));
}

UNetEncoderImpl::UNetEncoderImpl(const UNet2dOptions& o) {
  const auto& ch = o.feature_channels();
  const auto& p = o.encoder_dropout();
  in_conv = register_module("in_conv", UNetConvBlock(o.in_channels(), ch[0], p[0]));
  down1 = register_module("down1", UNetDownBlock(ch[0], ch[1], p[1]));
  down2 = register_module("down2", UNetDownBlock(ch[1], ch[2], p[2]));
  down3 = register_module("down3", UNetDownBlock(ch[2], ch[3], p[3]));
  down4 = register_module("down4", UNetDownBlock(ch[3], ch[4], p[4]));
}

std::vector<torch::Tensor> UNetEncoderImpl::forward(torch::Tensor x) {
  auto x0 = in_conv->forward(x);
  auto x1 = down1->forward(x0);
  auto x2 = down2->forward(x1);
  auto x3 = down3->forward(x2);
  auto x4 = down4->forward(x3);
  return {x0, x1, x2, x3, x4};
}

UNetDecoderImpl::UNetDecoderImpl(const UNet2dOptions& o) {
  const auto& ch = o.feature_channels();
  up1 = register_module("up1", UNetUpBlock(ch[4], ch[3], ch[3], 0.0));
  up2 = register_module("up2", UNetUpBlock(ch[3], ch[2], ch[2], 0.0));
  up3 = register_module("up3", UNetUpBlock(ch[2], ch[1], ch[1], 0.0));
  up4 = register_module("up4", UNetUpBlock(ch[1], ch[0], ch[0], 0.0));
  out_conv = register_module("out_conv",
                             nn::Conv2d(nn::Conv2dOptions(ch[0], o.num_classes(), 3).padding(1)));
}

std::pair<torch::Tensor, torch::Tensor> UNetDecoderImpl::forward(
    const std::vector<torch::Tensor>& f) {
  auto x = up1->forward(f[4], f[3]);
  x = up2->forward(x, f[2]);
  x = up3->forward(x, f[1]);
  auto last = up4->forward(x, f[0]);
  return {out_conv->forward(last), last};
}

UNet2dImpl::UNet2dImpl(const UNet2dOptions& options)
    : SegmentationNetImpl("UNet2d"), options_(options) {
  TORCH_CHECK(options_.feature_channels().size() == 5,
              "UNet2d: feature_channels needs 5 widths, got ", options_.feature_channels().size());
  TORCH_CHECK(options_.encoder_dropout().size() == 5,
              "UNet2d: encoder_dropout needs 5 probabilities, got ",
              options_.encoder_dropout().size());
  TORCH_CHECK(options_.in_channels() >= 1, "UNet2d: in_channels must be >= 1, got ",
              options_.in_channels());
  TORCH_CHECK(options_.num_classes() >= 1, "UNet2d: num_classes must be >= 1, got ",
              options_.num_classes());
  for (int64_t c : options_.feature_channels())
    TORCH_CHECK(c >= 1, "UNet2d: feature_channels must be positive, got ", c);
  for (double p : options_.encoder_dropout())
    TORCH_CHECK(p >= 0 && p < 1, "UNet2d: encoder_dropout must be in [0, 1), got ", p);
  encoder = register_module("encoder", UNetEncoder(options_));
  decoder = register_module("decoder", UNetDecoder(options_));
}

SegmentationOutput UNet2dImpl::forward_with_features(torch::Tensor x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(), "UNet2d: input must be (N, ",
              options_.in_channels(), ", H, W), got ", x.sizes());
  TORCH_CHECK(x.size(2) % 16 == 0 && x.size(3) % 16 == 0,
              "UNet2d: H and W must be divisible by 16 (four 2x poolings), got ", x.sizes());
  auto [logits, features] = decoder->forward(encoder->forward(x));
  return {logits, features};
}

ModelConfig UNet2dImpl::config() const {
  const auto& ch = options_.feature_channels();
  for (size_t i = 1; i < ch.size(); ++i)
    TORCH_CHECK(ch[i] == ch[0] << i, "UNet2d::config: widths ", c10::IntArrayRef(ch),
                " are not base*{1,2,4,8,16}; a ModelConfig cannot describe them");
  const auto& p = options_.encoder_dropout();
  bool any = false, bcp = true;
  const std::vector<double> ref = UNet2dOptions().encoder_dropout();
  for (size_t i = 0; i < p.size(); ++i) {
    any = any || p[i] > 0;
    bcp = bcp && p[i] == ref[i];
  }
  TORCH_CHECK(bcp || !any, "UNet2d::config: encoder_dropout ", c10::ArrayRef<double>(p),
              " is neither BCP's nor all zero; a ModelConfig cannot describe it");
  ModelConfig c;
  c.arch = Arch::kUNet2d;
  c.in_channels = options_.in_channels();
  c.num_classes = options_.num_classes();
  c.base_filters = ch[0];
  c.has_dropout = any;
  return c;
}

UNet2dOptions unet2d_options(const ModelConfig& config) {
  validate(config);
  if (config.arch != Arch::kUNet2d)
    throw std::invalid_argument("unet2d_options: config.arch is '" +
                                std::string(util::name_of(config.arch)) + "'");
  UNet2dOptions o(config.in_channels, config.num_classes);
  const int64_t b = config.base_filters;
  o.feature_channels({b, 2 * b, 4 * b, 8 * b, 16 * b});
  if (!config.has_dropout) o.encoder_dropout({0, 0, 0, 0, 0});
  return o;
}

}  // namespace bcp::nets
