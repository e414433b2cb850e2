#include "bcp/eval/channel_argmax.h"

#include <torch/torch.h>

namespace bcp::eval {

torch::Tensor channel_argmax(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2, "channel_argmax: expected (N, C, ...), got shape ", x.sizes());
  if (!x.device().is_cpu()) return x.argmax(1);
  std::vector<int64_t> order{0};
  for (int64_t d = 2; d < x.dim(); ++d) order.push_back(d);
  order.push_back(1);
  return x.permute(order).contiguous().argmax(-1);
}

}  // namespace bcp::eval
