#include "bcp/train/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace bcp::train {
namespace {

// 2.4 replaced the per-device functions by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool enabled() {
  return at::autocast::is_autocast_enabled(at::kCPU);
}
void set_enabled(bool on) {
  at::autocast::set_autocast_enabled(at::kCPU, on);
}
c10::ScalarType dtype() {
  return at::autocast::get_autocast_dtype(at::kCPU);
}
void set_dtype(c10::ScalarType t) {
  at::autocast::set_autocast_dtype(at::kCPU, t);
}
#else
bool enabled() {
  return at::autocast::is_cpu_enabled();
}
void set_enabled(bool on) {
  at::autocast::set_cpu_enabled(on);
}
c10::ScalarType dtype() {
  return at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(c10::ScalarType t) {
  at::autocast::set_autocast_cpu_dtype(t);
}
#endif

}  // namespace

CpuBf16Autocast::CpuBf16Autocast() : was_enabled_(enabled()), previous_dtype_(dtype()) {
  set_enabled(true);
  set_dtype(c10::ScalarType::BFloat16);
  at::autocast::increment_nesting();
}

CpuBf16Autocast::~CpuBf16Autocast() {
  // As torch.autocast's __exit__: the cast-weight cache lives for the outermost region only.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(was_enabled_);
  set_dtype(previous_dtype_);
}

bool cpu_autocast_enabled() {
  return enabled();
}

}  // namespace bcp::train
