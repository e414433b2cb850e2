#include "bcp/train/steps.h"

#include <torch/torch.h>

#include "bcp/ssl/copy_paste.h"
#include "bcp/ssl/ema.h"
#include "bcp/ssl/pseudo_label.h"
#include "bcp/ssl/zero_box_mask.h"
#include "bcp/train/autocast.h"
#include "bcp/train/losses.h"

namespace bcp::train {
namespace {

torch::Tensor zero_box(const TrainConfig& c, std::mt19937_64& rng) {
  return ssl::zero_box_mask(c.data.patch, c.bcp.beta, rng);
}

/// Splits (N, ...) at n: the authors' `batch[:n]`, `batch[n:]`.
std::pair<torch::Tensor, torch::Tensor> halves(const torch::Tensor& t, int64_t n) {
  return {t.narrow(0, 0, n), t.narrow(0, n, t.size(0) - n)};
}

/// The network's logits, in fp32 either way; with precision bf16 the pass runs under CPU autocast.
torch::Tensor forward(const StageContext& s, nets::SegmentationNetImpl& net,
                      const torch::Tensor& x) {
  if (s.config.precision != "bf16") return net.forward(x);
  CpuBf16Autocast bf16;
  return net.forward(x).to(torch::kFloat32);
}

Batch batch_on(const StageContext& s, const std::vector<int64_t>& idx) {
  Batch b = make_batch(s.train_set, idx, s.config, s.rng);
  return {b.images.to(s.device), b.labels.to(s.device)};
}

torch::Tensor supervised_loss(const TrainConfig& c, const torch::Tensor& logits,
                              const torch::Tensor& labels) {
  if (c.dataset == "acdc")  // SSL4MIS train_fully_supervised_2D: 0.5 * (CE + Dice)
    return 0.5 *
           (mean_cross_entropy(logits, labels) + acdc_dice_loss(torch::softmax(logits, 1), labels));
  return la_pretrain_loss(logits, labels);  // (CE + Dice) / 2
}

StepStats optimizer_step(StageContext& s, const torch::Tensor& loss) {
  s.optimizer.zero_grad();
  loss.backward();
  s.optimizer.step();
  StepStats st;
  st.loss = loss.item<double>();
  return st;
}

}  // namespace

StepStats supervised_step(StageContext& s, const std::vector<int64_t>& li, int64_t) {
  Batch b = batch_on(s, li);
  s.student.train();
  return optimizer_step(s, supervised_loss(s.config, forward(s, s.student, b.images), b.labels));
}

StepStats mean_teacher_step(StageContext& s, const std::vector<int64_t>& li,
                            const std::vector<int64_t>& ui, int64_t iteration) {
  const auto& c = s.config;
  Batch bl = batch_on(s, li);
  Batch bu = batch_on(s, ui);
  s.student.train();
  s.teacher->train();  // SSL4MIS never puts the EMA model in eval mode
  torch::Tensor logits = forward(s, s.student, torch::cat({bl.images, bu.images}));
  auto [l_logits, u_logits] = halves(logits, bl.images.size(0));
  torch::Tensor sup = supervised_loss(c, l_logits, bl.labels);
  torch::Tensor teacher_logits;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor noise = torch::clamp(torch::randn_like(bu.images) * c.mt.noise_std,
                                       -2 * c.mt.noise_std, 2 * c.mt.noise_std);
    teacher_logits = forward(s, *s.teacher, bu.images + noise);
  }
  double w =
      consistency_weight(iteration, {c.mt.consistency, c.mt.rampup_epochs, c.mt.iters_per_epoch});
  torch::Tensor cons = softmax_mse_consistency(u_logits, teacher_logits);
  StepStats st = optimizer_step(s, sup + w * cons);
  // SSL4MIS update_ema_variables: alpha warms up as 1 - 1/(step+1); parameters only.
  double alpha = std::min(1.0 - 1.0 / static_cast<double>(iteration + 2), c.mt.ema_decay);
  ssl::ema_update(*s.teacher, s.student, alpha, false);
  st.parts = {{"supervised", sup.item<double>()},
              {"consistency", cons.item<double>()},
              {"consistency_weight", w}};
  return st;
}

StepStats bcp_pretrain_step(StageContext& s, const std::vector<int64_t>& li) {
  const auto& c = s.config;
  Batch bl = batch_on(s, li);
  int64_t half = bl.images.size(0) / 2;
  auto [img_a, img_b] = halves(bl.images, half);
  auto [lab_a, lab_b] = halves(bl.labels, half);
  torch::Tensor mask = zero_box(c, s.rng).to(s.device);
  ssl::MixedStream mixed = ssl::pretrain_mix(img_a, img_b, lab_a, lab_b, mask);
  s.student.train();
  torch::Tensor out = forward(s, s.student, mixed.image);
  if (c.dataset == "acdc") {
    MixLossResult r = acdc_mix_loss(out, lab_a, lab_b, mask, 1.0, 1.0, true);
    StepStats st = optimizer_step(s, (r.dice + r.ce) / 2);
    st.parts = {{"mix_dice", r.dice.item<double>()}, {"mix_ce", r.ce.item<double>()}};
    return st;
  }
  return optimizer_step(s, la_pretrain_loss(out, mixed.label));
}

StepStats bcp_selftrain_step(StageContext& s, const std::vector<int64_t>& li,
                             const std::vector<int64_t>& ui) {
  const auto& c = s.config;
  Batch bl = batch_on(s, li);
  Batch bu = batch_on(s, ui);
  ssl::BcpInputs in;
  std::tie(in.img_a, in.img_b) = halves(bl.images, bl.images.size(0) / 2);
  std::tie(in.lab_a, in.lab_b) = halves(bl.labels, bl.labels.size(0) / 2);
  std::tie(in.uimg_a, in.uimg_b) = halves(bu.images, bu.images.size(0) / 2);
  {
    // The teacher stays in train mode under no-grad (dropout on, BN on batch statistics).
    torch::NoGradGuard no_grad;
    s.teacher->train();
    torch::Tensor pa = forward(s, *s.teacher, in.uimg_a).cpu();
    torch::Tensor pb = forward(s, *s.teacher, in.uimg_b).cpu();
    bool acdc = c.dataset == "acdc";
    in.plab_a = (acdc ? ssl::acdc_pseudo_label(pa) : ssl::la_pseudo_label(pa)).to(s.device);
    in.plab_b = (acdc ? ssl::acdc_pseudo_label(pb) : ssl::la_pseudo_label(pb)).to(s.device);
  }
  torch::Tensor mask = zero_box(c, s.rng).to(s.device);
  ssl::MixWeights w{1.0, c.bcp.u_weight};
  s.student.train();
  StepStats st;
  torch::Tensor loss;
  bool inward = c.bcp.direction != "outward";  // labeled box pasted into an unlabeled image
  bool outward = c.bcp.direction != "inward";  // unlabeled box pasted into a labeled image
  if (c.dataset == "acdc") {
    ssl::BcpMix mix = ssl::acdc_bcp_mix(in, mask, w);
    torch::Tensor dice = torch::zeros({}, bl.images.options());
    torch::Tensor ce = torch::zeros({}, bl.images.options());
    for (const ssl::MixedStream* m : {&mix.mixed_u, &mix.mixed_l}) {
      if ((m == &mix.mixed_u && !inward) || (m == &mix.mixed_l && !outward)) continue;
      torch::Tensor out = forward(s, s.student, m->image);
      MixLossResult r =
          acdc_mix_loss(out, m->img_label, m->patch_label, mask, 1.0, c.bcp.u_weight, m->unlab);
      dice = dice + r.dice;
      ce = ce + r.ce;
    }
    loss = (dice + ce) / 2;
    st.parts = {{"mix_dice", dice.item<double>()}, {"mix_ce", ce.item<double>()}};
  } else {
    ssl::BcpMix mix = ssl::la_bcp_mix(in, mask, w);
    loss = torch::zeros({}, bl.images.options());
    for (const ssl::MixedStream* m : {&mix.mixed_l, &mix.mixed_u}) {
      if ((m == &mix.mixed_u && !inward) || (m == &mix.mixed_l && !outward)) continue;
      torch::Tensor out = forward(s, s.student, m->image);
      loss = loss +
             la_mix_loss(out, m->img_label, m->patch_label, mask, 1.0, c.bcp.u_weight, m->unlab);
    }
  }
  StepStats done = optimizer_step(s, loss);
  done.parts = st.parts;
  ssl::ema_update(*s.teacher, s.student, c.bcp.ema_decay, c.bcp.ema_buffers);
  return done;
}

}  // namespace bcp::train
