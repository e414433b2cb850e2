// A network laid out for fast compute, beside the fp32 master that training updates and saves.
// The copy holds the convolutions' weights channels-last (the layout oneDNN's and cuDNN's fastest
// kernels want), in bf16 or fp32, and keeps BatchNorm in fp32: LibTorch normalises bf16
// activations with fp32 statistics, so the running statistics, the optimizer and the EMA never
// see rounded values. Unlike autocast, nothing is cast per operation: activations keep the
// compute dtype and layout from the input to the logits.
#pragma once
#include <torch/types.h>

#include <memory>

#include "bcp/nets/segmentation_net.h"

namespace bcp::nets {

/// A network's master (owned by the caller) and its compute copy.
///
/// In training: `pull()` before the step's passes, `forward()` for each pass, `backward()` on the
/// loss, then `push_grads()` (the master's `.grad` becomes the copy's gradient in fp32) and
/// `push_buffers()` (BatchNorm running statistics back to the master), and the optimizer steps
/// the master. In inference, `pull()` once and `forward()` under no-grad.
class ComputeCopy {
 public:
  /// Builds the copy on the master's device. `dtype`: kBFloat16, kHalf or kFloat32 (fp32
  /// channels-last: other kernels, so results differ from the master's in the last bits).
  explicit ComputeCopy(SegmentationNetImpl& master, torch::ScalarType dtype = torch::kBFloat16,
                       bool channels_last = true);

  SegmentationNetImpl& master() { return master_; }
  SegmentationNetImpl& compute() { return *compute_; }
  torch::ScalarType dtype() const { return dtype_; }

  /// Copies the master's parameters, buffers and train/eval mode into the compute copy.
  void pull();
  /// The compute copy's logits for `x` (any float dtype, any layout), as contiguous fp32.
  torch::Tensor forward(const torch::Tensor& x);
  /// Sets each master parameter's gradient to the compute copy's (in fp32) and clears the copy's.
  void push_grads();
  /// Copies the compute copy's buffers (BatchNorm statistics, updated by train-mode passes) back.
  void push_buffers();

 private:
  SegmentationNetImpl& master_;
  std::shared_ptr<SegmentationNetImpl> compute_;
  torch::ScalarType dtype_;
  torch::MemoryFormat format_;
  torch::Device device_;
};

}  // namespace bcp::nets
