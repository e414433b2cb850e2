// Training-time augmentation of ACDC slices and LA volumes, as the released BCP code applies it
// (SSL4MIS RandomGenerator for ACDC; UA-MT RandomRotFlip + RandomCrop for LA). Image and label
// always receive the same geometric transform.
//
// Randomness: an explicit std::mt19937_64 (see bcp/ssl/zero_box_mask.h for why), never a global
// generator. Streaming it (`os << rng`) saves the augmentation stream for resume.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

namespace bcp::data {

/// The generator type of every random bcp::data function (same as bcp::ssl::Rng).
using Rng = std::mt19937_64;

/// An image and its label after the same transform.
struct AugmentedPair {
  torch::Tensor image;  ///< float32, the transformed image
  torch::Tensor label;  ///< the transformed label, with the input label's dtype
};

/// ACDC training transform (BCP dataloaders/dataset.py RandomGenerator).
struct AcdcAugmentOptions {
  std::vector<int64_t> patch_size{256, 256};  ///< output (H, W), reached by nearest zoom
  double rot_flip_prob = 0.5;  ///< probability of rot90 (k in 0..3) + flip (axis 0 or 1)
  double rotate_prob = 0.5;    ///< if no rot-flip: probability of a small rotation
  int64_t max_angle = 20;      ///< rotation angle drawn as an integer in [-max_angle, max_angle)
};

/// ACDC slice transform. image (H, W) float, label (H, W) integer. Draws u1 in [0, 1); if
/// u1 > 1 - rot_flip_prob: k = randint(0, 4), axis = randint(0, 2), rot90 then flip; else draws
/// u2, and if u2 > 1 - rotate_prob: angle = randint(-max_angle, max_angle) and rotate_nearest.
/// Finally zoom_nearest to patch_size (scipy zoom order 0). With the default probabilities the
/// branches are the authors' `random.random() > 0.5` tests. Returns (pH, pW) tensors.
AugmentedPair acdc_augment(const torch::Tensor& image, const torch::Tensor& label, Rng& rng,
                           const AcdcAugmentOptions& opt = {});

/// LA training transform (LA_BCP_train.py: RandomRotFlip, then RandomCrop).
struct LaAugmentOptions {
  std::vector<int64_t> patch_size{112, 112, 80};  ///< output (X, Y, Z) of the random crop
  /// >= 1: the crop is centred on a voxel of this label value (foreground_crop) instead of
  /// placed at random; -1: random_crop, the authors' transform.
  int64_t centre_on = -1;
};

/// LA volume transform. image (X, Y, Z) float, label (X, Y, Z) integer: k = randint(0, 4) and
/// rot90 in the x-y plane (axes 0, 1), axis = randint(0, 2) and flip, then random_crop (or
/// foreground_crop, see centre_on).
/// Returns (pX, pY, pZ) tensors.
AugmentedPair la_augment(const torch::Tensor& image, const torch::Tensor& label, Rng& rng,
                         const LaAugmentOptions& opt = {});

/// np.rot90(x, k) (axes 0, 1: counter-clockwise from axis 0 towards axis 1) followed by
/// np.flip(x, axis) with axis 0 or 1. x has 2 or more axes.
torch::Tensor rot90_flip(const torch::Tensor& x, int64_t k, int64_t axis);

/// scipy.ndimage.rotate(x, angle_deg, order=0, reshape=False, mode='constant', cval=0) of a 2D
/// (H, W) tensor of any dtype: rotation about the centre ((H-1)/2, (W-1)/2); output pixel o reads
/// input round-half-up(R (o - c) + c) with R = [[cos, sin], [-sin, cos]]; a source coordinate
/// outside [0, n - 1] on either axis gives 0. Angle 0 is the identity; multiples of 90 degrees
/// use exact cosines.
torch::Tensor rotate_nearest(const torch::Tensor& x, double angle_deg);

/// UA-MT/SSL4MIS RandomCrop for (X, Y, Z) volumes: when any axis is <= the patch, every axis is
/// zero-padded symmetrically by max((patch - size) // 2 + 3, 0) (Python floor division, so an
/// axis a little larger than the patch can still gain a few voxels); then the crop corner is
/// randint(0, size - patch) per axis (x, y, z in order), or 0 where size == patch.
AugmentedPair random_crop(const torch::Tensor& image, const torch::Tensor& label,
                          const std::vector<int64_t>& patch_size, Rng& rng);

/// nnU-Net's foreground oversampling for one crop: pads as random_crop does, draws a voxel
/// uniformly among those whose label is `value`, and places the crop so that voxel is its centre
/// (patch // 2 voxels after the corner), moved inwards where the volume ends. Without such a
/// voxel it is random_crop (the same draws).
AugmentedPair foreground_crop(const torch::Tensor& image, const torch::Tensor& label,
                              const std::vector<int64_t>& patch_size, int64_t value, Rng& rng);

}  // namespace bcp::data
