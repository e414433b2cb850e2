// Comparing where two volumes lie in space: an image and its label map, or the channels of one
// scan, must share a grid before they can be stacked or scored together.
#pragma once
#include <string>

#include "bcp/io/nifti.h"

namespace bcp::io {

/// True when spacing, origin and direction agree to `tolerance`, relative to each value (at
/// least 1): header round trips (float32 NIfTI fields) change the last digits. Ignores the data.
bool same_geometry(const Volume& a, const Volume& b, double tolerance = 1e-4);

/// "spacing [..], origin [..], direction [..]", for error messages.
std::string geometry_text(const Volume& v);

}  // namespace bcp::io
