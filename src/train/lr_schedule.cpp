#include "bcp/train/lr_schedule.h"

#include <cmath>

namespace bcp::train {

double learning_rate(const TrainConfig::Optim& o, int64_t iteration, int64_t max_iters) {
  if (o.schedule == LrSchedule::kStep)
    return o.lr * std::pow(o.gamma, static_cast<double>(iteration / o.step_size));
  if (o.schedule == LrSchedule::kPoly) {
    double t =
        max_iters > 0 ? static_cast<double>(iteration) / static_cast<double>(max_iters) : 0.0;
    return o.lr * std::pow(std::max(0.0, 1.0 - t), o.poly_power);
  }
  return o.lr;
}

}  // namespace bcp::train
