#include "bcp/nets/compute_copy.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/torch.h>

#include "bcp/nets/batch_norm.h"

namespace bcp::nets {
namespace {

/// Modules whose parameters stay fp32 in a low-precision copy: BatchNorm.
bool keeps_fp32(const torch::nn::Module& m) {
  return dynamic_cast<const SyncBatchNorm2dImpl*>(&m) ||
         dynamic_cast<const SyncBatchNorm3dImpl*>(&m) ||
         dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m) ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m) ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&m);
}

void copy_all(const std::vector<torch::Tensor>& from, const std::vector<torch::Tensor>& to) {
  TORCH_CHECK(from.size() == to.size(), "ComputeCopy: ", from.size(), " tensors against ",
              to.size());
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i].defined() && to[i].defined()) to[i].copy_(from[i]);
}

/// `t` laid out in `format`, with channels-last strides even where a dimension of size 1 makes
/// them ambiguous. LibTorch calls a one-channel tensor (the input image, the first convolution's
/// weight) contiguous in both layouts and keeps its NCHW strides, from which oneDNN's dispatch
/// picks its NCHW convolution: that convolution then returns NCHW activations, converted back
/// (blocked to plain to channels-last) in every pass and in its backward.
torch::Tensor in_format(const torch::Tensor& t, torch::MemoryFormat format) {
  auto out = t.contiguous(format);
  if (format == torch::MemoryFormat::Contiguous) return out;
  const auto strides = format == torch::MemoryFormat::ChannelsLast
                           ? c10::get_channels_last_strides_2d(out.sizes())
                           : c10::get_channels_last_strides_3d(out.sizes());
  if (out.strides() == c10::IntArrayRef(strides)) return out;
  return out.as_strided(out.sizes(), strides);
}

torch::Device device_of(const SegmentationNetImpl& net) {
  const auto params = net.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace

ComputeCopy::ComputeCopy(SegmentationNetImpl& master, torch::ScalarType dtype, bool channels_last)
    : master_(master),
      compute_(master.clone_net()),
      dtype_(dtype),
      format_(!channels_last               ? torch::MemoryFormat::Contiguous
              : master.spatial_dims() == 3 ? torch::MemoryFormat::ChannelsLast3d
                                           : torch::MemoryFormat::ChannelsLast),
      device_(device_of(master)) {
  TORCH_CHECK(dtype == torch::kBFloat16 || dtype == torch::kHalf || dtype == torch::kFloat32,
              "ComputeCopy: compute dtype must be bf16, fp16 or fp32, got ", dtype);
  torch::NoGradGuard no_grad;
  for (const auto& module : compute_->modules(/*include_self=*/false)) {
    const bool fp32 = keeps_fp32(*module);
    for (auto& p : module->parameters(/*recurse=*/false)) {
      if (fp32 && p.dim() != master.spatial_dims() + 2) continue;
      auto low = p.to(fp32 ? torch::kFloat32 : dtype);
      // clone, not contiguous(): the latter keeps a one-channel weight's NCHW strides.
      if (low.dim() == master.spatial_dims() + 2) low = low.clone(format_);
      p.set_data(low);
    }
  }
  compute_->train(master.is_training());
}

void ComputeCopy::pull() {
  torch::NoGradGuard no_grad;
  copy_all(master_.parameters(), compute_->parameters());
  copy_all(master_.buffers(), compute_->buffers());
  compute_->train(master_.is_training());
}

torch::Tensor ComputeCopy::forward(const torch::Tensor& x) {
  auto in = in_format(x.to(device_, dtype_), format_);
  return compute_->forward(in).to(torch::kFloat32).contiguous();
}

void ComputeCopy::push_grads() {
  auto master = master_.parameters();
  auto compute = compute_->parameters();
  TORCH_CHECK(master.size() == compute.size(), "ComputeCopy: ", master.size(),
              " parameters against ", compute.size());
  for (size_t i = 0; i < master.size(); ++i) {
    torch::Tensor& g = compute[i].mutable_grad();
    if (!g.defined()) continue;
    master[i].mutable_grad() = g.to(master[i].scalar_type()).contiguous();
    g.reset();
  }
}

void ComputeCopy::push_buffers() {
  torch::NoGradGuard no_grad;
  copy_all(compute_->buffers(), master_.buffers());
}

}  // namespace bcp::nets
