// The BCP copy-paste mask: ones everywhere except one axis-aligned zero box.
//
// Randomness: every random function in bcp's ssl/data building blocks takes an explicit
// `std::mt19937_64&` (never a global generator). Its output sequence is fixed by the C++
// standard, and its full state streams with `os << rng` / `is >> rng`, so a trainer can save and
// restore it for resume. Integers are drawn with bcp's own unbiased rejection sampling rather
// than std::uniform_int_distribution, whose output differs between standard libraries.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

namespace bcp::ssl {

/// The generator type of every random bcp::ssl / bcp::data function.
using Rng = std::mt19937_64;

/// Side of the zero box along an axis of length `n` for ratio `beta`: int(n * beta) as the
/// authors compute it (int(256 * 2/3) = 170, int(112 * 2/3) = 74, int(80 * 2/3) = 53). A 1e-9
/// guard keeps exact products such as 96 * 2/3 = 64 from flooring to 63 through float error.
int64_t zero_box_side(int64_t n, double beta);

/// A float32 tensor of `shape` (one entry per spatial axis, e.g. (H, W) or (X, Y, Z)) holding 1
/// everywhere except one box of zero_box_side(shape[d], beta) along each axis d. The box's
/// low corner on axis d is drawn uniformly from [0, shape[d] - side) (np.random.randint, axes
/// in order), or is 0 when the box spans the whole axis (where the authors' randint would
/// raise). beta must lie in [0, 1]; beta = 0 gives an all-ones mask and draws nothing.
torch::Tensor zero_box_mask(const std::vector<int64_t>& shape, double beta, Rng& rng);

/// (h, w) float32 mask of the ACDC recipe (generate_mask): box int(h*beta) x int(w*beta),
/// offsets drawn for h then w. The spec's setting is 256 x 256, beta = 2/3 (box 170 x 170).
torch::Tensor zero_box_mask_2d(int64_t h, int64_t w, double beta, Rng& rng);

/// (x, y, z) float32 mask of the LA recipe (context_mask): box int(x*beta) x int(y*beta) x
/// int(z*beta), offsets drawn for x, y, z. The spec's setting is 112 x 112 x 80, beta = 2/3
/// (box 74 x 74 x 53).
torch::Tensor zero_box_mask_3d(int64_t x, int64_t y, int64_t z, double beta, Rng& rng);

/// The authors' loss_mask: `mask` (spatial) repeated over a batch of n, (n, *mask.shape), same
/// dtype. bcp's losses broadcast a spatial mask themselves; this is for callers that want the
/// explicit (N, ...) tensor.
torch::Tensor batch_mask(const torch::Tensor& mask, int64_t n);

}  // namespace bcp::ssl
