// bf16 mixed precision on the CPU (oneDNN runs bf16 convolutions several times faster than fp32
// on CPUs with AMX/AVX-512-BF16). Under the guard, autocast casts the inputs and weights of
// convolutions to bf16 per op; parameters, gradients, the optimizer and the EMA stay fp32.
#pragma once
#include <c10/core/ScalarType.h>

namespace bcp::train {

/// Turns CPU autocast to bf16 on for its lifetime and restores the previous state after
/// (LibTorch 1.13 and 2.x name these switches differently; this hides which one is used).
class CpuBf16Autocast {
 public:
  CpuBf16Autocast();
  ~CpuBf16Autocast();
  CpuBf16Autocast(const CpuBf16Autocast&) = delete;
  CpuBf16Autocast& operator=(const CpuBf16Autocast&) = delete;

 private:
  bool was_enabled_;
  c10::ScalarType previous_dtype_;
};

/// Whether CPU autocast is on (for tests and assertions).
bool cpu_autocast_enabled();

}  // namespace bcp::train
