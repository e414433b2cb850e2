#include "bcp/nets/vnet.h"

#include <stdexcept>

#include "bcp/kernels/conv3d_channels_last.h"
#include "bcp/kernels/transposed_conv.h"
#include "bcp/nets/batch_norm.h"

namespace bcp::nets {
namespace nn = torch::nn;
namespace {

/// conv(x), channels-last where conv3d_channels_last takes x. `padding`: the module's (its options
/// hold it as a variant whose API differs between LibTorch versions; the blocks below set it).
torch::Tensor convolve(nn::Conv3dImpl& conv, const torch::Tensor& x, int64_t padding) {
  if (!kernels::conv3d_channels_last_takes(x, conv.weight) || !conv.bias.defined())
    return conv.forward(x);
  const std::array<int64_t, 3>& stride = *conv.options.stride();
  return kernels::conv3d_channels_last(x, conv.weight, conv.bias, stride,
                                       {padding, padding, padding});
}

/// seq[at] (BatchNorm) then seq[at + 1] (ReLU): as the modules run them, or as one pass over
/// memory (leaky ReLU of slope 0: ReLU, but for -0 where ReLU gives +0) where the batch norm
/// fuses.
torch::Tensor norm_relu(const nn::Sequential& seq, size_t at, const torch::Tensor& x) {
  auto* norm = seq->ptr(at)->as<SyncBatchNorm3dImpl>();
  if (norm->fuses_leaky_relu(x)) return norm->forward_leaky_relu(x, /*slope=*/0.0);
  return seq->ptr(at + 1)->as<nn::ReLUImpl>()->forward(norm->forward(x));
}

}  // namespace

VNetConvBlockImpl::VNetConvBlockImpl(int64_t n_stages, int64_t in_channels, int64_t out_channels) {
  nn::Sequential seq;
  for (int64_t i = 0; i < n_stages; ++i) {
    seq->push_back(nn::Conv3d(
        nn::Conv3dOptions(i == 0 ? in_channels : out_channels, out_channels, 3).padding(1)));
    seq->push_back(SyncBatchNorm3d(out_channels));
    seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  }
  conv = register_module("conv", seq);
}

torch::Tensor VNetConvBlockImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < conv->size(); i += 3)
    x = norm_relu(conv, i + 1, convolve(*conv->ptr(i)->as<nn::Conv3dImpl>(), x, /*padding=*/1));
  return x;
}

VNetDownBlockImpl::VNetDownBlockImpl(int64_t in_channels, int64_t out_channels,
                                     std::array<int64_t, 3> stride) {
  conv = register_module(
      "conv", nn::Sequential(
                  nn::Conv3d(nn::Conv3dOptions(in_channels, out_channels, stride).stride(stride)),
                  SyncBatchNorm3d(out_channels), nn::ReLU(nn::ReLUOptions().inplace(true))));
}

torch::Tensor VNetDownBlockImpl::forward(torch::Tensor x) {
  return norm_relu(conv, 1, convolve(*conv->ptr(0)->as<nn::Conv3dImpl>(), x, /*padding=*/0));
}

VNetUpBlockImpl::VNetUpBlockImpl(int64_t in_channels, int64_t out_channels,
                                 std::array<int64_t, 3> stride) {
  conv = register_module(
      "conv", nn::Sequential(
                  nn::ConvTranspose3d(
                      nn::ConvTranspose3dOptions(in_channels, out_channels, stride).stride(stride)),
                  SyncBatchNorm3d(out_channels), nn::ReLU(nn::ReLUOptions().inplace(true))));
}

torch::Tensor VNetUpBlockImpl::forward(torch::Tensor x) {
  auto* deconv = conv->ptr(0)->as<nn::ConvTranspose3dImpl>();
  if (x.device().is_cpu()) {
    x = kernels::conv_transpose3d_stride_is_kernel(x, deconv->weight, deconv->bias);
  } else {
    const auto weight_type = deconv->weight.scalar_type();
    x = deconv->forward(x.to(weight_type)).to(x.scalar_type());
  }
  return norm_relu(conv, 1, x);
}

VNetEncoderImpl::VNetEncoderImpl(const VNetOptions& o) : has_dropout(o.has_dropout()) {
  const int64_t f = o.n_filters();
  const Strides& st = o.strides();
  block_one = register_module("block_one", VNetConvBlock(1, o.in_channels(), f));
  block_one_dw = register_module("block_one_dw", VNetDownBlock(f, 2 * f, st[0]));
  block_two = register_module("block_two", VNetConvBlock(2, 2 * f, 2 * f));
  block_two_dw = register_module("block_two_dw", VNetDownBlock(2 * f, 4 * f, st[1]));
  block_three = register_module("block_three", VNetConvBlock(3, 4 * f, 4 * f));
  block_three_dw = register_module("block_three_dw", VNetDownBlock(4 * f, 8 * f, st[2]));
  block_four = register_module("block_four", VNetConvBlock(3, 8 * f, 8 * f));
  block_four_dw = register_module("block_four_dw", VNetDownBlock(8 * f, 16 * f, st[3]));
  block_five = register_module("block_five", VNetConvBlock(3, 16 * f, 16 * f));
  dropout = register_module("dropout", nn::Dropout3d(nn::Dropout3dOptions(o.dropout_p())));
}

std::vector<torch::Tensor> VNetEncoderImpl::forward(torch::Tensor x) {
  auto x1 = block_one->forward(x);
  auto x2 = block_two->forward(block_one_dw->forward(x1));
  auto x3 = block_three->forward(block_two_dw->forward(x2));
  auto x4 = block_four->forward(block_three_dw->forward(x3));
  auto x5 = block_five->forward(block_four_dw->forward(x4));
  if (has_dropout) x5 = dropout->forward(x5);  // a no-op in eval mode
  return {x1, x2, x3, x4, x5};
}

VNetDecoderImpl::VNetDecoderImpl(const VNetOptions& o) : has_dropout(o.has_dropout()) {
  const int64_t f = o.n_filters();
  const Strides& st = o.strides();
  block_five_up = register_module("block_five_up", VNetUpBlock(16 * f, 8 * f, st[3]));
  block_six = register_module("block_six", VNetConvBlock(3, 8 * f, 8 * f));
  block_six_up = register_module("block_six_up", VNetUpBlock(8 * f, 4 * f, st[2]));
  block_seven = register_module("block_seven", VNetConvBlock(3, 4 * f, 4 * f));
  block_seven_up = register_module("block_seven_up", VNetUpBlock(4 * f, 2 * f, st[1]));
  block_eight = register_module("block_eight", VNetConvBlock(2, 2 * f, 2 * f));
  block_eight_up = register_module("block_eight_up", VNetUpBlock(2 * f, f, st[0]));
  block_nine = register_module("block_nine", VNetConvBlock(1, f, f));
  out_conv = register_module("out_conv", nn::Conv3d(nn::Conv3dOptions(f, o.num_classes(), 1)));
  dropout = register_module("dropout", nn::Dropout3d(nn::Dropout3dOptions(o.dropout_p())));
}

std::pair<torch::Tensor, torch::Tensor> VNetDecoderImpl::forward(
    const std::vector<torch::Tensor>& f) {
  auto x = block_six->forward(block_five_up->forward(f[4]) + f[3]);
  x = block_seven->forward(block_six_up->forward(x) + f[2]);
  x = block_eight->forward(block_seven_up->forward(x) + f[1]);
  auto x9 = block_nine->forward(block_eight_up->forward(x) + f[0]);
  auto y = has_dropout ? dropout->forward(x9) : x9;
  return {convolve(*out_conv, y, /*padding=*/0), x9};
}

VNetImpl::VNetImpl(const VNetOptions& options) : SegmentationNetImpl("VNet"), options_(options) {
  TORCH_CHECK(options_.in_channels() >= 1, "VNet: in_channels must be >= 1, got ",
              options_.in_channels());
  TORCH_CHECK(options_.num_classes() >= 1, "VNet: num_classes must be >= 1, got ",
              options_.num_classes());
  TORCH_CHECK(options_.n_filters() >= 1, "VNet: n_filters must be >= 1, got ",
              options_.n_filters());
  TORCH_CHECK(options_.dropout_p() >= 0 && options_.dropout_p() < 1,
              "VNet: dropout_p must be in [0, 1), got ", options_.dropout_p());
  TORCH_CHECK(options_.strides().size() == 4, "VNet: strides must list 4 down-samplings, got ",
              options_.strides().size());
  factor_ = {1, 1, 1};
  for (const auto& stage : options_.strides())
    for (size_t a = 0; a < 3; ++a) {
      TORCH_CHECK(stage[a] == 1 || stage[a] == 2, "VNet: strides must be 1 or 2, got ", stage[a]);
      factor_[a] *= stage[a];
    }
  encoder = register_module("encoder", VNetEncoder(options_));
  decoder = register_module("decoder", VNetDecoder(options_));
}

SegmentationOutput VNetImpl::forward_with_features(torch::Tensor x) {
  TORCH_CHECK(x.dim() == 5 && x.size(1) == options_.in_channels(), "VNet: input must be (N, ",
              options_.in_channels(), ", H, W, D), got ", x.sizes());
  for (size_t a = 0; a < 3; ++a)
    TORCH_CHECK(x.size(2 + a) % factor_[a] == 0, "VNet: spatial size ", a, " must be divisible by ",
                factor_[a], " (the product of its down-sampling strides), got ", x.sizes());
  auto [logits, features] = decoder->forward(encoder->forward(x));
  return {logits, features};
}

ModelConfig VNetImpl::config() const {
  TORCH_CHECK(options_.dropout_p() == 0.5, "VNet::config: dropout_p ", options_.dropout_p(),
              " is not BCP's 0.5; a ModelConfig cannot describe it");
  ModelConfig c;
  c.arch = Arch::kVNet;
  c.in_channels = options_.in_channels();
  c.num_classes = options_.num_classes();
  c.base_filters = options_.n_filters();
  c.has_dropout = options_.has_dropout();
  if (options_.strides() != Strides(4, {2, 2, 2})) c.strides = options_.strides();
  return c;
}

VNetOptions vnet_options(const ModelConfig& config) {
  validate(config);
  if (config.arch != Arch::kVNet)
    throw std::invalid_argument("vnet_options: config.arch is '" +
                                std::string(util::name_of(config.arch)) + "'");
  return VNetOptions(config.in_channels, config.num_classes)
      .n_filters(config.base_filters)
      .has_dropout(config.has_dropout)
      .strides(config.strides.empty() ? Strides(4, {2, 2, 2}) : config.strides);
}

}  // namespace bcp::nets
