// The two datasets' protocols bcp knows: which network, which evaluation, which file layout.
#pragma once
#include "bcp/util/enum_names.h"

namespace bcp::data {

/// ACDC: 2D slices, UNet, slice-wise evaluation. LA: 3D volumes, VNet, sliding window.
enum class Dataset { kAcdc, kLa };
BCP_ENUM_NAMES(Dataset, {Dataset::kAcdc, "acdc"}, {Dataset::kLa, "la"})

}  // namespace bcp::data
