// A device named by the user ("cpu", "cuda", "cuda:1"), checked before any work starts.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace bcp::util {

/// The device `name` names. Throws std::invalid_argument, one line starting with `who` (the
/// command), for a name LibTorch does not know or a CUDA device on a machine without CUDA.
c10::Device parse_device(const std::string& name, const std::string& who);

}  // namespace bcp::util
