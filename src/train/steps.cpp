#include "bcp/train/steps.h"

#include <torch/torch.h>

#include <array>

#include "bcp/data/recipe.h"
#include "bcp/distributed/distributed.h"
#include "bcp/ssl/copy_paste.h"
#include "bcp/ssl/ema.h"
#include "bcp/ssl/mask_shapes.h"
#include "bcp/ssl/pseudo_label.h"
#include "bcp/train/step_losses.h"

namespace bcp::train {
namespace {

/// Splits (N, ...) at n: the authors' `batch[:n]`, `batch[n:]`.
std::pair<torch::Tensor, torch::Tensor> halves(const torch::Tensor& t, int64_t n) {
  return {t.narrow(0, 0, n), t.narrow(0, n, t.size(0) - n)};
}

enum class Role { kStudent, kTeacher };

/// A network's logits in fp32; its compute copy runs the pass when there is one.
torch::Tensor forward(const StageContext& s, Role role, const torch::Tensor& x) {
  nets::ComputeCopy* low = role == Role::kStudent ? s.student_compute : s.teacher_compute;
  if (low) return low->forward(x);
  return (role == Role::kStudent ? s.student : *s.teacher).forward(x);
}

/// Brings the compute copies up to the fp32 networks (after last step's SGD and EMA).
void pull(const StageContext& s) {
  if (s.student_compute) s.student_compute->pull();
  if (s.teacher_compute) s.teacher_compute->pull();
}

Batch on_device(const StageContext& s, const Batch& b) {
  return {b.images.to(s.device), b.labels.to(s.device)};
}

StepStats optimizer_step(StageContext& s, const torch::Tensor& loss) {
  s.optimizer.zero_grad();
  loss.backward();
  if (s.student_compute) {
    s.student_compute->push_grads();
    s.student_compute->push_buffers();
  }
  if (s.group) distributed::average_gradients(*s.group, s.student);
  s.optimizer.step();
  StepStats st;
  st.loss = loss.item<double>();
  return st;
}

// The four steps. take_step puts both networks in train mode (SSL4MIS never puts the EMA
// teacher in eval mode) and brings the compute copies up to them before calling one.

/// Labeled cases only: Dice + CE (ACDC 0.5 (CE + Dice), LA (CE + Dice) / 2).
StepStats supervised_step(StageContext& s, const StepInputs& in) {
  Batch b = on_device(s, in.labeled);
  return optimizer_step(
      s, step_supervised_loss(s.config, forward(s, Role::kStudent, b.images), b.labels));
}

/// SSL4MIS Mean Teacher: supervised loss + ramped consistency to the EMA teacher, whose input
/// gets clamped Gaussian noise; EMA over parameters with the 1 - 1/(step+1) warm-up.
StepStats mean_teacher_step(StageContext& s, const StepInputs& in, int64_t iteration) {
  const auto& c = s.config;
  Batch bl = on_device(s, in.labeled);
  Batch bu = on_device(s, in.unlabeled);
  torch::Tensor logits = forward(s, Role::kStudent, torch::cat({bl.images, bu.images}));
  auto [l_logits, u_logits] = halves(logits, bl.images.size(0));
  torch::Tensor sup = step_supervised_loss(c, l_logits, bl.labels);
  torch::Tensor teacher_logits;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor noise = torch::clamp(torch::randn_like(bu.images) * c.mt.noise_std,
                                       -2 * c.mt.noise_std, 2 * c.mt.noise_std);
    teacher_logits = forward(s, Role::kTeacher, bu.images + noise);
    if (s.teacher_compute) s.teacher_compute->push_buffers();
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

/// LA's mixed loss, (dice + ce) / 2.
torch::Tensor la_mix(const TrainConfig& c, const torch::Tensor& logits,
                     const torch::Tensor& img_label, const torch::Tensor& patch_label,
                     const torch::Tensor& mask, double l_weight, double u_weight, bool unlab) {
  const MixLossResult r =
      step_mix_loss(c, logits, img_label, patch_label, mask, l_weight, u_weight, unlab);
  return (r.dice + r.ce) / 2;
}

/// (l_weight, u_weight) for acdc_mix_loss / la_mix_loss. With bcp.mix "blend" every pixel holds
/// both images, and (mixup) each target's loss is weighed by its image's share: 2w for the
/// background target, 2(1 - w) for the other, so w = 0.5 keeps the paste's scale. (A constant mask
/// alone would not do it: the masked losses normalise by the mask's sum.)
std::pair<double, double> mix_loss_weights(const TrainConfig& c, double l, double u, bool unlab) {
  if (c.bcp.mix != MixMode::kBlend) return {l, u};
  const double img = 2 * c.bcp.blend_weight, patch = 2 * (1 - c.bcp.blend_weight);
  return unlab ? std::pair{l * patch, u * img} : std::pair{l * img, u * patch};
}

/// BCP stage 1: copy-paste between the two halves of the labeled batch.
StepStats bcp_pretrain_step(StageContext& s, const StepInputs& inputs) {
  const auto& c = s.config;
  Batch bl = on_device(s, inputs.labeled);
  int64_t half = bl.images.size(0) / 2;
  auto [img_a, img_b] = halves(bl.images, half);
  auto [lab_a, lab_b] = halves(bl.labels, half);
  torch::Tensor mask = inputs.mask.to(s.device);
  ssl::MixedStream mixed = ssl::pretrain_mix(img_a, img_b, lab_a, lab_b, mask);
  torch::Tensor out = forward(s, Role::kStudent, mixed.image);
  if (data::recipe_of(c.dataset).pretrain_mixed_loss) {
    const auto [l, u] = mix_loss_weights(c, 1.0, 1.0, true);
    MixLossResult r = step_mix_loss(c, out, lab_a, lab_b, mask, l, u, true);
    StepStats st = optimizer_step(s, (r.dice + r.ce) / 2);
    st.parts = {{"mix_dice", r.dice.item<double>()}, {"mix_ce", r.ce.item<double>()}};
    return st;
  }
  // The pasted label has no blended counterpart; a blend weighs the two labels' losses instead.
  if (c.bcp.mix == MixMode::kBlend) {
    const auto [l, u] = mix_loss_weights(c, 1.0, 1.0, false);
    return optimizer_step(s, la_mix(c, out, lab_a, lab_b, mask, l, u, false));
  }
  return optimizer_step(s, step_supervised_loss(c, out, mixed.label));
}

/// BCP stage 2: teacher pseudo-labels (train mode, no-grad, largest component), one zero-box
/// mask, two mixed batches through the student in separate passes, SGD, then EMA.
StepStats bcp_selftrain_step(StageContext& s, const StepInputs& inputs) {
  const auto& c = s.config;
  Batch bl = on_device(s, inputs.labeled);
  Batch bu = on_device(s, inputs.unlabeled);
  ssl::BcpInputs in;
  std::tie(in.img_a, in.img_b) = halves(bl.images, bl.images.size(0) / 2);
  std::tie(in.lab_a, in.lab_b) = halves(bl.labels, bl.labels.size(0) / 2);
  std::tie(in.uimg_a, in.uimg_b) = halves(bu.images, bu.images.size(0) / 2);
  const data::Recipe& recipe = data::recipe_of(c.dataset);
  {
    // The teacher stays in train mode under no-grad (dropout on, BN on batch statistics).
    torch::NoGradGuard no_grad;
    torch::Tensor pa = forward(s, Role::kTeacher, in.uimg_a).cpu();
    torch::Tensor pb = forward(s, Role::kTeacher, in.uimg_b).cpu();
    if (s.teacher_compute) s.teacher_compute->push_buffers();
    auto pseudo = [&](const torch::Tensor& logits) {
      if (c.bcp.pseudo_label == PseudoLabel::kSoft)
        return ssl::soft_pseudo_label(logits, c.bcp.temperature);
      return ssl::hard_pseudo_label(logits, recipe.pseudo_label);
    };
    in.plab_a = pseudo(pa).to(s.device);
    in.plab_b = pseudo(pb).to(s.device);
  }
  torch::Tensor mask = inputs.mask.to(s.device);
  ssl::MixWeights w{1.0, c.bcp.u_weight};
  StepStats st;
  torch::Tensor loss;
  bool inward =
      c.bcp.direction != PasteDirection::kOutward;  // labeled box pasted into an unlabeled image
  bool outward =
      c.bcp.direction != PasteDirection::kInward;  // unlabeled box pasted into a labeled image
  // The two mixed batches in the recipe's order (each its own pass: BatchNorm sees them apart).
  const auto in_order = [&](const ssl::BcpMix& mix) {
    return recipe.unlabeled_pass_first ? std::array{&mix.mixed_u, &mix.mixed_l}
                                       : std::array{&mix.mixed_l, &mix.mixed_u};
  };
  if (recipe.loss == data::LossFamily::kSsl4mis) {
    ssl::BcpMix mix = ssl::acdc_bcp_mix(in, mask, w);
    torch::Tensor dice = torch::zeros({}, bl.images.options());
    torch::Tensor ce = torch::zeros({}, bl.images.options());
    for (const ssl::MixedStream* m : in_order(mix)) {
      if ((m == &mix.mixed_u && !inward) || (m == &mix.mixed_l && !outward)) continue;
      torch::Tensor out = forward(s, Role::kStudent, m->image);
      const auto [l, u] = mix_loss_weights(c, 1.0, c.bcp.u_weight, m->unlab);
      MixLossResult r = step_mix_loss(c, out, m->img_label, m->patch_label, mask, l, u, m->unlab);
      dice = dice + r.dice;
      ce = ce + r.ce;
    }
    loss = (dice + ce) / 2;
    st.parts = {{"mix_dice", dice.item<double>()}, {"mix_ce", ce.item<double>()}};
  } else {
    ssl::BcpMix mix = ssl::la_bcp_mix(in, mask, w);
    loss = torch::zeros({}, bl.images.options());
    for (const ssl::MixedStream* m : in_order(mix)) {
      if ((m == &mix.mixed_u && !inward) || (m == &mix.mixed_l && !outward)) continue;
      torch::Tensor out = forward(s, Role::kStudent, m->image);
      const auto [l, u] = mix_loss_weights(c, 1.0, c.bcp.u_weight, m->unlab);
      loss = loss + la_mix(c, out, m->img_label, m->patch_label, mask, l, u, m->unlab);
    }
  }
  StepStats done = optimizer_step(s, loss);
  done.parts = st.parts;
  ssl::ema_update(*s.teacher, s.student, c.bcp.ema_decay, c.bcp.ema_buffers);
  return done;
}

}  // namespace

torch::optim::SGD make_optimizer(nets::SegmentationNetImpl& net, const TrainConfig& c) {
  return torch::optim::SGD(net.parameters(), torch::optim::SGDOptions(c.optim.lr)
                                                 .momentum(c.optim.momentum)
                                                 .weight_decay(c.optim.weight_decay));
}

ComputeCopies make_compute_copies(const TrainConfig& config, nets::SegmentationNetImpl& student,
                                  nets::SegmentationNetImpl* teacher) {
  ComputeCopies copies;
  const bool bf16 = config.precision == Precision::kBf16;
  if (!bf16 && !config.channels_last) return copies;
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  copies.student = std::make_unique<nets::ComputeCopy>(student, dtype, config.channels_last);
  if (teacher)
    copies.teacher = std::make_unique<nets::ComputeCopy>(*teacher, dtype, config.channels_last);
  return copies;
}

StepInputs prepare_step_inputs(const TrainConfig& config, const TrainingSet& set, StepKind kind,
                               const std::vector<int64_t>& li, const std::vector<int64_t>& ui,
                               std::mt19937_64& rng) {
  StepInputs in;
  in.labeled = make_batch(set, li, config, rng);
  if (kind == StepKind::kMeanTeacher || kind == StepKind::kBcpSelftrain)
    in.unlabeled = make_batch(set, ui, config, rng);
  if (kind == StepKind::kBcpPretrain || kind == StepKind::kBcpSelftrain) {
    if (config.bcp.mix == MixMode::kBlend)
      // A constant mask turns every copy_paste into a * w + b * (1 - w) and every masked loss
      // into the same mix of its two targets' losses: mixup with a fixed weight.
      in.mask = torch::full(config.data.patch, config.bcp.blend_weight, torch::kFloat32);
    else
      in.mask = ssl::copy_paste_mask(config.bcp.mask, config.data.patch, config.bcp.beta, rng);
  }
  return in;
}

namespace {

StepStats run_step_of_kind(StageContext& s, StepKind kind, const StepInputs& inputs,
                           int64_t iteration) {
  switch (kind) {
    case StepKind::kSupervised:
      return supervised_step(s, inputs);
    case StepKind::kMeanTeacher:
      return mean_teacher_step(s, inputs, iteration);
    case StepKind::kBcpPretrain:
      return bcp_pretrain_step(s, inputs);
    case StepKind::kBcpSelftrain:
      break;
  }
  return bcp_selftrain_step(s, inputs);
}

/// This rank's share of every batch; the mask is the whole step's.
StepInputs share_of_rank(const StepInputs& in, const distributed::ProcessGroup& group) {
  StepInputs out = in;
  for (Batch* b : {&out.labeled, &out.unlabeled}) {
    b->images = distributed::rank_share(b->images, group.rank(), group.size());
    b->labels = distributed::rank_share(b->labels, group.rank(), group.size());
  }
  return out;
}

/// The loss and every numeric part, averaged over the ranks.
void average_stats(distributed::ProcessGroup& group, StepStats& st) {
  std::vector<double> values{st.loss};
  for (const auto& [key, value] : st.parts.items())
    if (value.is_number()) values.push_back(value.get<double>());
  values = distributed::average_values(group, values);
  st.loss = values[0];
  size_t i = 1;
  for (auto& item : st.parts.items())
    if (item.value().is_number()) item.value() = values[i++];
}

}  // namespace

StepStats take_step(StageContext& s, StepKind kind, const StepInputs& inputs, int64_t iteration) {
  s.student.train();
  if (s.teacher) s.teacher->train();
  if (!s.group) {
    pull(s);
    return run_step_of_kind(s, kind, inputs, iteration);
  }
  // DDP's broadcast_buffers: every rank starts the step from rank 0's BatchNorm statistics, so
  // the teacher's EMA of them stays the same everywhere too.
  distributed::broadcast_buffers(*s.group, s.student);
  if (s.teacher) distributed::broadcast_buffers(*s.group, *s.teacher);
  pull(s);
  StepStats st = run_step_of_kind(s, kind, share_of_rank(inputs, *s.group), iteration);
  average_stats(*s.group, st);
  return st;
}

StepStats take_step(StageContext& s, StepKind kind, const std::vector<int64_t>& li,
                    const std::vector<int64_t>& ui, int64_t iteration) {
  return take_step(s, kind, prepare_step_inputs(s.config, s.train_set, kind, li, ui, s.rng),
                   iteration);
}

}  // namespace bcp::train
