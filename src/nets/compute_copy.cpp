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
      const bool conv = p.dim() == master.spatial_dims() + 2;
      if (fp32 && !conv) continue;
      p.set_data(p.to(fp32 ? torch::kFloat32 : dtype, /*non_blocking=*/false, /*copy=*/false,
                      conv ? format_ : torch::MemoryFormat::Preserve));
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
  // to(format), not contiguous(format): a one-channel tensor (the image, the first weight) is
  // "contiguous" in both layouts, so contiguous() keeps its NCHW strides and oneDNN then runs the
  // first convolution in NCHW, converting its output back in every pass and its backward.
  auto in = x.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/false, format_);
  // One copy to fp32 in the plain layout (to() then contiguous() would be two).
  return compute_->forward(in).to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/false,
                                  torch::MemoryFormat::Contiguous);
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
