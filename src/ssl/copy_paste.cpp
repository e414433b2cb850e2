#include "bcp/ssl/copy_paste.h"

#include <torch/torch.h>

#include <sstream>
#include <string>

namespace bcp::ssl {
namespace {

bool is_floating(const torch::Tensor& t) {
  return at::isFloatingType(t.scalar_type());
}

// Labels mixed with the same rule; int64 is what the authors' .long() labels carry.
MixedStream make_stream(const torch::Tensor& background, const torch::Tensor& box,
                        const torch::Tensor& img_label, const torch::Tensor& patch_label,
                        const torch::Tensor& mask, bool unlab, const MixWeights& w) {
  MixedStream s;
  s.image = copy_paste(background, box, mask);
  // Labels stay int64; soft pseudo-labels (class probabilities) stay float32, and the mixed
  // `label` is then mixed as probabilities, the hard side one-hot.
  auto keep = [](const torch::Tensor& t) {
    return is_floating(t) ? t.to(torch::kFloat32) : t.to(torch::kInt64);
  };
  s.img_label = keep(img_label);
  s.patch_label = keep(patch_label);
  if (!is_floating(s.img_label) && !is_floating(s.patch_label)) {
    s.label = copy_paste(s.img_label, s.patch_label, mask);
  } else {
    const int64_t classes = (is_floating(s.img_label) ? s.img_label : s.patch_label).size(1);
    auto probs = [&](const torch::Tensor& t) {
      if (is_floating(t)) return t;
      return torch::nn::functional::one_hot(t, classes).movedim(-1, 1).to(torch::kFloat32);
    };
    s.label = copy_paste(probs(s.img_label), probs(s.patch_label), mask);
  }
  s.unlab = unlab;
  s.img_weight = unlab ? w.u_weight : w.l_weight;
  s.patch_weight = unlab ? w.l_weight : w.u_weight;
  return s;
}

void check_inputs(const BcpInputs& in, const char* who) {
  struct Named {
    const char* name;
    const torch::Tensor& t;
  };
  const Named images[] = {
      {"img_a", in.img_a}, {"img_b", in.img_b}, {"uimg_a", in.uimg_a}, {"uimg_b", in.uimg_b}};
  const Named labels[] = {
      {"lab_a", in.lab_a}, {"lab_b", in.lab_b}, {"plab_a", in.plab_a}, {"plab_b", in.plab_b}};
  for (const auto& x : images) TORCH_CHECK(x.t.defined(), who, ": ", x.name, " is undefined");
  for (const auto& x : labels) TORCH_CHECK(x.t.defined(), who, ": ", x.name, " is undefined");
  TORCH_CHECK(in.img_a.dim() >= 3, who, ": images must be (N, C, spatial...), got ",
              c10::str(in.img_a.sizes()));
  for (const auto& x : images)
    TORCH_CHECK(x.t.sizes() == in.img_a.sizes(), who, ": ", x.name, " has shape ",
                c10::str(x.t.sizes()), " but img_a has ", c10::str(in.img_a.sizes()),
                "; all four image sub-batches must match");
  std::vector<int64_t> lab_shape{in.img_a.size(0)};
  for (int64_t d = 2; d < in.img_a.dim(); ++d) lab_shape.push_back(in.img_a.size(d));
  for (const auto& x : labels) {
    // Pseudo-labels may be soft: class probabilities (n, C, spatial...), C >= 2.
    const bool pseudo = &x.t == &in.plab_a || &x.t == &in.plab_b;
    if (pseudo && is_floating(x.t)) {
      TORCH_CHECK(x.t.dim() == static_cast<int64_t>(lab_shape.size()) + 1 &&
                      x.t.size(0) == lab_shape[0] && x.t.size(1) >= 2 &&
                      x.t.sizes().slice(2) == c10::IntArrayRef(lab_shape).slice(1),
                  who, ": soft ", x.name, " has shape ", c10::str(x.t.sizes()),
                  ", expected (n, C, spatial...) for labels of shape ",
                  c10::str(c10::IntArrayRef(lab_shape)));
      continue;
    }
    TORCH_CHECK(!is_floating(x.t), who, ": ", x.name, " must be an integer label tensor, got ",
                x.t.scalar_type());
    TORCH_CHECK(x.t.sizes() == c10::IntArrayRef(lab_shape), who, ": ", x.name, " has shape ",
                c10::str(x.t.sizes()), ", expected ", c10::str(c10::IntArrayRef(lab_shape)),
                " (the images' shape without the channel axis)");
  }
}

}  // namespace

torch::Tensor copy_paste(const torch::Tensor& a, const torch::Tensor& b,
                         const torch::Tensor& mask) {
  TORCH_CHECK(a.defined() && b.defined() && mask.defined(),
              "copy_paste: a, b and mask must be defined");
  TORCH_CHECK(a.sizes() == b.sizes(), "copy_paste: a has shape ", c10::str(a.sizes()),
              " but b has ", c10::str(b.sizes()));
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "copy_paste: a is ", a.scalar_type(),
              " but b is ", b.scalar_type());
  TORCH_CHECK(mask.dim() <= a.dim(), "copy_paste: mask of shape ", c10::str(mask.sizes()),
              " has more axes than the tensors, ", c10::str(a.sizes()));
  for (int64_t i = 1; i <= mask.dim(); ++i) {
    const int64_t m = mask.size(-i);
    TORCH_CHECK(m == 1 || m == a.size(-i), "copy_paste: mask of shape ", c10::str(mask.sizes()),
                " does not broadcast to ", c10::str(a.sizes()),
                " (masks align with the trailing, spatial axes)");
  }
  if (is_floating(a)) {
    const auto m = mask.to(a.scalar_type());
    return a * m + b * (1 - m);
  }
  return torch::where(mask != 0, a, b);
}

BcpMix acdc_bcp_mix(const BcpInputs& in, const torch::Tensor& mask, const MixWeights& w) {
  check_inputs(in, "acdc_bcp_mix");
  BcpMix out;
  out.mixed_u = make_stream(in.uimg_a, in.img_a, in.plab_a, in.lab_a, mask, true, w);
  out.mixed_l = make_stream(in.img_b, in.uimg_b, in.lab_b, in.plab_b, mask, false, w);
  return out;
}

BcpMix la_bcp_mix(const BcpInputs& in, const torch::Tensor& mask, const MixWeights& w) {
  check_inputs(in, "la_bcp_mix");
  BcpMix out;
  out.mixed_l = make_stream(in.img_a, in.uimg_a, in.lab_a, in.plab_a, mask, false, w);
  out.mixed_u = make_stream(in.uimg_b, in.img_b, in.plab_b, in.lab_b, mask, true, w);
  return out;
}

MixedStream pretrain_mix(const torch::Tensor& img_a, const torch::Tensor& img_b,
                         const torch::Tensor& lab_a, const torch::Tensor& lab_b,
                         const torch::Tensor& mask) {
  TORCH_CHECK(lab_a.defined() && lab_b.defined() && !is_floating(lab_a) && !is_floating(lab_b),
              "pretrain_mix: lab_a and lab_b must be integer label tensors");
  TORCH_CHECK(img_a.dim() == lab_a.dim() + 1 && img_a.size(0) == lab_a.size(0),
              "pretrain_mix: images ", c10::str(img_a.sizes()), " and labels ",
              c10::str(lab_a.sizes()), " do not pair as (N, C, ...) and (N, ...)");
  return make_stream(img_a, img_b, lab_a, lab_b, mask, true, MixWeights{1.0, 1.0});
}

}  // namespace bcp::ssl
