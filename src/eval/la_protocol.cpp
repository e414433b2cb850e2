#include "bcp/eval/la_protocol.h"

#include <torch/torch.h>

#include "bcp/eval/channel_argmax.h"
#include "bcp/eval/largest_component.h"

namespace bcp::eval {

torch::Tensor la_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                const LaProtocolOptions& options, torch::Tensor* probabilities) {
  TORCH_CHECK(options.num_classes >= 2, "la_predict_volume: num_classes must be >= 2, got ",
              options.num_classes);
  auto prob = sliding_window_probability(image, predictor, options.num_classes, options.window);
  if (probabilities) *probabilities = prob;
  if (options.num_classes == 2) {
    auto mask = prob[1].gt(options.threshold).to(torch::kUInt8);
    if (options.largest_component) mask = largest_component(mask);
    return mask;
  }
  // More classes (a `bcp prepare`d 3D dataset): the usual argmax, and the authors' largest
  // component applied to each class on its own.
  auto labels = channel_argmax(prob.unsqueeze(0)).squeeze(0);
  if (options.largest_component) labels = largest_component_per_class(labels, 3);
  return labels.to(torch::kUInt8);
}

}  // namespace bcp::eval
