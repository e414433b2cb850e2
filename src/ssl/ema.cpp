#include "bcp/ssl/ema.h"

#include <torch/torch.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace bcp::ssl {
namespace {

void blend(const torch::OrderedDict<std::string, torch::Tensor>& teacher,
           const torch::OrderedDict<std::string, torch::Tensor>& student, double decay,
           const char* kind) {
  if (teacher.size() != student.size())
    throw std::invalid_argument("ema_update: teacher has " + std::to_string(teacher.size()) + " " +
                                kind + " but student has " + std::to_string(student.size()));
  for (const auto& item : teacher) {
    const torch::Tensor* s = student.find(item.key());
    if (s == nullptr)
      throw std::invalid_argument("ema_update: student has no " + std::string(kind) + " named '" +
                                  item.key() + "'");
    torch::Tensor t = item.value();
    if (!t.defined() || !s->defined()) continue;  // e.g. an absent optional BN buffer
    if (t.sizes() != s->sizes())
      throw std::invalid_argument("ema_update: '" + item.key() + "' has shape " +
                                  c10::str(t.sizes()) + " in the teacher but " +
                                  c10::str(s->sizes()) + " in the student");
    const auto src = s->to(t.device());
    if (at::isFloatingType(t.scalar_type())) {
      t.mul_(decay).add_(src.to(t.scalar_type()) * (1.0 - decay));
    } else {
      // Integer state (num_batches_tracked): the authors' float blend, truncated on copy back.
      t.copy_(t.to(torch::kFloat32) * decay + src.to(torch::kFloat32) * (1.0 - decay));
    }
  }
}

}  // namespace

void ema_update(torch::nn::Module& teacher, const torch::nn::Module& student, double decay,
                bool include_buffers) {
  if (!(decay >= 0.0 && decay <= 1.0))
    throw std::invalid_argument("ema_update: decay must be in [0, 1], got " +
                                std::to_string(decay));
  torch::NoGradGuard no_grad;
  blend(teacher.named_parameters(), student.named_parameters(), decay, "parameters");
  if (include_buffers) blend(teacher.named_buffers(), student.named_buffers(), decay, "buffers");
}

}  // namespace bcp::ssl
