#include "bcp/eval/acdc_protocol.h"

#include <torch/torch.h>

#include "bcp/data/zoom.h"
#include "bcp/eval/channel_argmax.h"

namespace bcp::eval {

torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  const AcdcProtocolOptions& options,
                                  torch::Tensor* probabilities) {
  TORCH_CHECK(image.dim() == 3 || image.dim() == 4,
              "acdc_predict_volume: expected a (D, H, W) or (C, D, H, W) volume, got shape ",
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

  const bool channels = image.dim() == 4;
  const int64_t depth = image.size(-3), height = image.size(-2), width = image.size(-1);
  const int64_t s = options.size;
  // Zooming the volume with the depth kept is the per-slice zoom for every slice at once.
  torch::Tensor resized;  // (D, C, s, s)
  if (!channels) {
    resized = data::zoom_nearest(image.to(torch::kFloat), {depth, s, s}).unsqueeze(1);
  } else {
    std::vector<torch::Tensor> per_channel;
    for (int64_t c = 0; c < image.size(0); ++c)
      per_channel.push_back(data::zoom_nearest(image[c].to(torch::kFloat), {depth, s, s}));
    resized = torch::stack(per_channel, 1);
  }
  const int64_t chunk = options.slice_batch == 0 ? depth : options.slice_batch;
  std::vector<torch::Tensor> labels, probs;
  for (int64_t first = 0; first < depth; first += chunk) {
    const int64_t n = std::min(chunk, depth - first);
    auto input = resized.narrow(0, first, n);  // (n, C, s, s)
    auto logits = predictor(input);
    TORCH_CHECK(logits.dim() == 4 && logits.size(0) == n && logits.size(1) >= 2 &&
                    logits.size(2) == s && logits.size(3) == s,
                "acdc_predict_volume: the predictor returned shape ", logits.sizes(), " for input ",
                input.sizes(), "; expected (", n, ", C >= 2, ", s, ", ", s, ")");
    // argmax of the softmax, not of the logits, as the authors compute it (ties can differ).
    auto prob = torch::softmax(logits.to(torch::kFloat), 1);
    labels.push_back(channel_argmax(prob).to(torch::kUInt8).to(image.device()));
    if (probabilities) probs.push_back(prob.to(image.device()));
  }
  auto label_256 = torch::cat(labels, 0);  // (D, s, s)
  if (probabilities) {
    // Nearest zoom picks, for every voxel, the same source pixel as the label's zoom below.
    auto prob_256 = torch::cat(probs, 0).transpose(0, 1);  // (C, D, s, s)
    std::vector<torch::Tensor> per_class;
    for (int64_t c = 0; c < prob_256.size(0); ++c)
      per_class.push_back(data::zoom_nearest(prob_256[c].contiguous(), {depth, height, width}));
    *probabilities = torch::stack(per_class);
  }
  return data::zoom_nearest(label_256, {depth, height, width});
}

torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  int64_t size) {
  AcdcProtocolOptions options;
  options.size = size;
  return acdc_predict_volume(image, predictor, options);
}

}  // namespace bcp::eval
