// Where a step's time goes: LibTorch's own profiler around one call, its operators ranked by
// self time (time inside the operator, not in the operators it called).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bcp::bench {

struct OpTime {
  std::string name;  ///< LibTorch's name: aten::mkldnn_convolution, ConvolutionBackward0, ...
  double self_seconds = 0;
  int64_t calls = 0;
};

struct OpProfile {
  double seconds = 0;       ///< wall time of the profiled call (the profiler's overhead included)
  std::vector<OpTime> ops;  ///< every operator, largest self time first
};

/// Runs `fn` once under LibTorch's CPU profiler; with `shapes`, an operator's calls are told apart
/// by their input shapes ("aten::max_pool2d [6, 16, 256, 256]").
OpProfile profile_ops(const std::function<void()>& fn, bool shapes = false);

/// The `top` largest operators and one "(other operators)" and one "(outside operators)" entry
/// (the call's time in no operator: bcp's own code between them), each with its share of the
/// call's wall time.
nlohmann::json profile_json(const OpProfile& profile, int top);

}  // namespace bcp::bench
