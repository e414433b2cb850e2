#include "bcp/util/device.h"

#include <torch/cuda.h>

#include <stdexcept>

namespace bcp::util {

c10::Device parse_device(const std::string& name, const std::string& who) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument(who + ": unknown device \"" + name +
                                "\" (use cpu, cuda or cuda:N)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument(who + ": device \"" + name +
                                "\" requested but CUDA is not available");
  return device;
}

}  // namespace bcp::util
