// The arithmetic a network's passes run in (nets/compute_copy.h): training, evaluation, benchmarks.
#pragma once
#include "bcp/util/enum_names.h"

namespace bcp::nets {

/// fp32: the network itself; bf16: a bf16 compute copy (fp32 BatchNorm and master weights).
enum class Precision { kFp32, kBf16 };
BCP_ENUM_NAMES(Precision, {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"})

}  // namespace bcp::nets
