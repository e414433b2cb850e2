#include "bcp/eval/la_protocol.h"

#include <torch/torch.h>

#include "bcp/eval/largest_component.h"

namespace bcp::eval {

torch::Tensor la_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                const LaProtocolOptions& options) {
  TORCH_CHECK(options.num_classes >= 2, "la_predict_volume: num_classes must be >= 2, got ",
              options.num_classes);
  auto prob = sliding_window_probability(image, predictor, options.num_classes, options.window);
  auto mask = prob[1].gt(options.threshold).to(torch::kUInt8);
  if (options.largest_component) mask = largest_component(mask);
  return mask;
}

}  // namespace bcp::eval
