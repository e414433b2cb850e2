#include "bcp/eval/acdc_protocol.h"

#include <torch/torch.h>

#include "bcp/data/zoom.h"
#include "bcp/eval/channel_argmax.h"

namespace bcp::eval {

torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  const AcdcProtocolOptions& options) {
  TORCH_CHECK(image.dim() == 3, "acdc_predict_volume: expected a (D, H, W) volume, got shape ",
              image.sizes());
  TORCH_CHECK(image.is_floating_point(),
              "acdc_predict_volume: expected a floating-point image, got ", image.dtype());
  TORCH_CHECK(image.numel() > 0, "acdc_predict_volume: empty image of shape ", image.sizes());
  TORCH_CHECK(options.size >= 1, "acdc_predict_volume: size must be >= 1, got ", options.size);
  TORCH_CHECK(options.slice_batch >= 0, "acdc_predict_volume: slice_batch must be >= 0, got ",
              options.slice_batch);
  TORCH_CHECK(static_cast<bool>(predictor), "acdc_predict_volume: empty predictor");
  TORCH_CHECK(torch::isfinite(image).all().item<bool>(),
              "acdc_predict_volume: the image holds NaN or infinite values");

  const int64_t depth = image.size(0), s = options.size;
  // Zooming the volume with the depth kept is the per-slice zoom for every slice at once.
  auto resized = data::zoom_nearest(image.to(torch::kFloat), {depth, s, s});
  const int64_t chunk = options.slice_batch == 0 ? depth : options.slice_batch;
  std::vector<torch::Tensor> labels;
  for (int64_t first = 0; first < depth; first += chunk) {
    const int64_t n = std::min(chunk, depth - first);
    auto input = resized.narrow(0, first, n).unsqueeze(1);  // (n, 1, s, s)
    auto logits = predictor(input);
    TORCH_CHECK(logits.dim() == 4 && logits.size(0) == n && logits.size(1) >= 2 &&
                    logits.size(2) == s && logits.size(3) == s,
                "acdc_predict_volume: the predictor returned shape ", logits.sizes(), " for input ",
                input.sizes(), "; expected (", n, ", C >= 2, ", s, ", ", s, ")");
    // argmax of the softmax, not of the logits, as the authors compute it (ties can differ).
    labels.push_back(channel_argmax(torch::softmax(logits.to(torch::kFloat), 1))
                         .to(torch::kUInt8)
                         .to(image.device()));
  }
  auto label_256 = torch::cat(labels, 0);  // (D, s, s)
  return data::zoom_nearest(label_256, {depth, image.size(1), image.size(2)});
}

torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  int64_t size) {
  AcdcProtocolOptions options;
  options.size = size;
  return acdc_predict_volume(image, predictor, options);
}

}  // namespace bcp::eval
