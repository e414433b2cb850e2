#include "bcp/nets/batch_norm.h"

#include <torch/torch.h>

#include "bcp/kernels/batch_norm_act.h"

namespace bcp::nets {
namespace {

template <typename BatchNorm>
torch::Tensor normalize_over_ranks(BatchNorm& bn, const torch::Tensor& input, const RankSum& sum) {
  const torch::Tensor x = input.to(torch::kFloat32);
  std::vector<int64_t> reduce{0}, shape(static_cast<size_t>(x.dim()), 1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
  const int64_t channels = x.size(1);
  shape[1] = channels;
  const double local_count = static_cast<double>(x.numel() / channels);
  // One collective for the sums and the element count, one for the centred squares: the two-pass
  // variance, free of E[x^2] - E[x]^2's cancellation.
  const torch::Tensor packed =
      sum(torch::cat({x.sum(reduce), torch::full({1}, local_count, x.options())}));
  const torch::Tensor count = packed.narrow(0, channels, 1).detach();
  const torch::Tensor mean = packed.narrow(0, 0, channels) / count;
  const torch::Tensor centered = x - mean.view(shape);
  const torch::Tensor var = sum(centered.square().sum(reduce)) / count;
  torch::Tensor y = centered * torch::rsqrt(var + bn.options.eps()).view(shape);
  if (bn.options.affine()) y = y * bn.weight.view(shape) + bn.bias.view(shape);
  if (bn.options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    const double n = count.item<double>();
    bn.num_batches_tracked.add_(1);
    // No momentum: the cumulative average, as BatchNorm's.
    const double m =
        bn.options.momentum().value_or(1.0 / bn.num_batches_tracked.template item<double>());
    bn.running_mean.mul_(1 - m).add_(mean.detach(), m);
    bn.running_var.mul_(1 - m).add_(var.detach() * (n / std::max(n - 1, 1.0)), m);
  }
  return y.to(input.scalar_type());
}

}  // namespace

template <size_t D>
void SyncBatchNormImpl<D>::_check_input_dim(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == static_cast<int64_t>(D) + 2, "expected ", D + 2, "D input (got ",
              input.dim(), "D input)");
}

template <size_t D>
double SyncBatchNormImpl<D>::count_batch() {
  double factor = this->options.momentum().value_or(0.0);
  if (this->is_training() && this->options.track_running_stats() &&
      this->num_batches_tracked.defined()) {
    this->num_batches_tracked += 1;
    if (!this->options.momentum()) factor = 1.0 / this->num_batches_tracked.template item<double>();
  }
  return factor;
}

// Without a reducer: BatchNormImplBase::forward, line for line.
template <size_t D>
torch::Tensor SyncBatchNormImpl<D>::forward(const torch::Tensor& input) {
  _check_input_dim(input);
  if (rank_sum && this->is_training()) return normalize_over_ranks(*this, input, rank_sum);
  const double factor = count_batch();
  return torch::nn::functional::detail::batch_norm(
      input, this->running_mean, this->running_var, this->weight, this->bias,
      this->is_training() || !this->options.track_running_stats(), factor, this->options.eps());
}

template <size_t D>
bool SyncBatchNormImpl<D>::fuses_leaky_relu(const torch::Tensor& input) const {
  if (!kernels::fuses_batch_norm_leaky_relu(input)) return false;
  if (this->is_training()) return !rank_sum;
  // Inference: the running statistics, under no-grad.
  return this->options.track_running_stats() && this->running_mean.defined() &&
         !torch::GradMode::is_enabled();
}

template <size_t D>
torch::Tensor SyncBatchNormImpl<D>::forward_leaky_relu(const torch::Tensor& input, double slope,
                                                       double dropout_p) {
  if (!fuses_leaky_relu(input)) {
    TORCH_CHECK(dropout_p == 0, "SyncBatchNorm::forward_leaky_relu: dropout only where it fuses");
    torch::Tensor y = forward(input);
    return torch::leaky_relu_(y, slope);
  }
  _check_input_dim(input);
  if (!this->is_training()) {
    TORCH_CHECK(dropout_p == 0, "SyncBatchNorm::forward_leaky_relu: dropout in eval mode");
    return kernels::batch_norm_leaky_relu_inference(input, this->weight, this->bias,
                                                    this->running_mean, this->running_var,
                                                    this->options.eps(), slope);
  }
  const bool track = this->options.track_running_stats() && this->num_batches_tracked.defined();
  const double factor = count_batch();
  return kernels::batch_norm_leaky_relu(
      input, this->weight, this->bias, track ? this->running_mean : torch::Tensor(),
      track ? this->running_var : torch::Tensor(), factor, this->options.eps(), slope, dropout_p);
}

template class SyncBatchNormImpl<2>;
template class SyncBatchNormImpl<3>;

int64_t synchronize_batch_norm(torch::nn::Module& module, const RankSum& sum) {
  int64_t n = 0;
  for (const auto& m : module.modules()) {
    if (auto* b2 = dynamic_cast<SyncBatchNorm2dImpl*>(m.get())) {
      b2->rank_sum = sum;
      ++n;
    } else if (auto* b3 = dynamic_cast<SyncBatchNorm3dImpl*>(m.get())) {
      b3->rank_sum = sum;
      ++n;
    }
  }
  return n;
}

}  // namespace bcp::nets
