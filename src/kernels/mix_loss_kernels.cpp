// Every loop runs across the chunk's pixels, one class at a time, so that it vectorises: the
// sums are kept per lane (pixel position in the chunk) and the label tests are selects.
#include "mix_loss_kernels.h"

#include <cstring>

#include "bcp/util/vector_clones.h"

namespace bcp::kernels {
namespace {

#define BCP_INLINE inline __attribute__((always_inline))

BCP_INLINE float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

BCP_INLINE uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// exp(x) for x <= 0 (a logit minus its pixel's largest), within 2 units in the last place:
// Cephes' expf, whose rounding and polynomial vectorise where libm's expf does not. Below -87
// it returns exp(-87) (1.6e-38) instead of a subnormal or zero: a probability that small
// changes no sum.
BCP_INLINE float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float t = x * 1.44269504088896341f;
  const float n = (t - 12582912.0f) + 12582912.0f;  // rounded to an integer: |t| < 2^22
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  const auto e = static_cast<int32_t>(n);
  return y * from_bits(static_cast<uint32_t>(e + 127) << 23);
}

// log(x) for a positive normal x (a pixel's sum of exponentials, in [1, C]): Cephes' logf.
BCP_INLINE float log_positive(float x) {
  const uint32_t u = to_bits(x);
  int32_t e = static_cast<int32_t>(u >> 23) - 126;       // x = m 2^e, m in [0.5, 1)
  float m = from_bits((u & 0x007fffffu) | 0x3f000000u);  //
  const bool low = m < 0.707106781186547524f;            // then m in [sqrt(2) / 2, sqrt(2))
  e -= low ? 1 : 0;
  m = low ? m + m - 1.0f : m - 1.0f;
  const float fe = static_cast<float>(e);
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * fe;
  y += -0.5f * z;
  return (m + y) + 0.693359375f * fe;
}

// Class k's terms of one region, added to its per-lane sums. A function of its own so that
// each sum has its own __restrict__ pointer: as offsets into one array GCC would have to check
// them for overlap at run time, one check too many to vectorise the loop.
BCP_INLINE void add_class_sums(const float* __restrict__ zk, const float* __restrict__ pk,
                               const int32_t* __restrict__ label, int32_t k,
                               const float* __restrict__ w, int64_t n, float* __restrict__ z_label,
                               float* __restrict__ inter, float* __restrict__ target,
                               float* __restrict__ square, float* __restrict__ prob) {
  for (int64_t i = 0; i < n; ++i) {
    const bool hit = label[i] == k;
    const float t = hit ? w[i] : 0.0f;
    const float z = zk[i];  // loaded whatever the label: a select, not a conditional load
    z_label[i] += hit ? z : 0.0f;
    inter[i] += pk[i] * t;
    target[i] += t;
    square[i] += pk[i] * pk[i] * w[i];
    prob[i] += pk[i] * w[i];
  }
}

}  // namespace

BCP_VECTOR_CLONES void mix_loss_forward(const float* __restrict__ z, int64_t class_stride,
                                        int64_t classes, int64_t n,
                                        const int32_t* __restrict__ label0,
                                        const int32_t* __restrict__ label1,
                                        const float* __restrict__ mask, float* __restrict__ p,
                                        float* __restrict__ lanes) {
  float top[kLanes], total[kLanes], log_total[kLanes], w[kLanes], z_label[kLanes];
  for (int64_t i = 0; i < n; ++i) top[i] = z[i];
  for (int64_t k = 1; k < classes; ++k) {
    const float* zk = z + k * class_stride;
    for (int64_t i = 0; i < n; ++i) top[i] = zk[i] > top[i] ? zk[i] : top[i];
  }
  for (int64_t i = 0; i < n; ++i) total[i] = 0.0f;
  for (int64_t k = 0; k < classes; ++k) {
    const float* zk = z + k * class_stride;
    float* pk = p + k * class_stride;
    for (int64_t i = 0; i < n; ++i) {
      pk[i] = exp_nonpositive(zk[i] - top[i]);
      total[i] += pk[i];
    }
  }
  for (int64_t i = 0; i < n; ++i) log_total[i] = log_positive(total[i]);
  for (int64_t k = 0; k < classes; ++k) {
    float* pk = p + k * class_stride;
    for (int64_t i = 0; i < n; ++i) pk[i] = pk[i] / total[i];
  }
  const MixSums at{classes};
  for (int r = 0; r < 2; ++r) {
    const int32_t* label = r == 0 ? label0 : label1;
    for (int64_t i = 0; i < n; ++i) {
      w[i] = r == 0 ? mask[i] : 1.0f - mask[i];
      z_label[i] = 0.0f;
    }
    for (int64_t k = 0; k < classes; ++k)
      add_class_sums(z + k * class_stride, p + k * class_stride, label, static_cast<int32_t>(k), w,
                     n, z_label, lanes + at.inter(r, k) * kLanes, lanes + at.target(r, k) * kLanes,
                     lanes + at.square(r, k) * kLanes, lanes + at.prob(r, k) * kLanes);
    float* ce = lanes + at.ce(r) * kLanes;
    float* mass = lanes + at.mass(r) * kLanes;
    for (int64_t i = 0; i < n; ++i) {
      // -log_softmax as LibTorch forms it: log(sum) - (z - max).
      ce[i] += (log_total[i] - (z_label[i] - top[i])) * w[i];
      mass[i] += w[i];
    }
  }
}

BCP_VECTOR_CLONES void mix_loss_backward(const float* __restrict__ p, int64_t class_stride,
                                         int64_t classes, int64_t n,
                                         const int32_t* __restrict__ label0,
                                         const int32_t* __restrict__ label1,
                                         const float* __restrict__ mask,
                                         const MixGradCoefficients& coef, float* __restrict__ g) {
  float dot[kLanes];
  for (int64_t i = 0; i < n; ++i) dot[i] = 0.0f;
  // g first holds d loss / d p (the Dice terms), then d loss / d z through the softmax.
  for (int64_t k = 0; k < classes; ++k) {
    const float* pk = p + k * class_stride;
    float* gk = g + k * class_stride;
    const float a0 = coef.dice_label[k], a1 = coef.dice_label[classes + k];
    const float b0 = coef.dice_prob[k], b1 = coef.dice_prob[classes + k];
    const float c0 = coef.dice_const[k], c1 = coef.dice_const[classes + k];
    const auto label = static_cast<int32_t>(k);  // compared as the labels are: 32 bits a lane
    for (int64_t i = 0; i < n; ++i) {
      const float m = mask[i], m1 = 1.0f - mask[i];
      const float gp = (m * b0 + m1 * b1) * pk[i] + (m * c0 + m1 * c1) +
                       (label0[i] == label ? m * a0 : 0.0f) + (label1[i] == label ? m1 * a1 : 0.0f);
      gk[i] = gp;
      dot[i] += pk[i] * gp;
    }
  }
  const float ce0 = coef.ce[0], ce1 = coef.ce[1];
  for (int64_t k = 0; k < classes; ++k) {
    const float* pk = p + k * class_stride;
    float* gk = g + k * class_stride;
    const auto label = static_cast<int32_t>(k);
    for (int64_t i = 0; i < n; ++i) {
      const float m = mask[i], m1 = 1.0f - mask[i];
      const float t0 = label0[i] == label ? 1.0f : 0.0f, t1 = label1[i] == label ? 1.0f : 0.0f;
      gk[i] = pk[i] * (gk[i] - dot[i]) + ce0 * m * (pk[i] - t0) + ce1 * m1 * (pk[i] - t1);
    }
  }
}

}  // namespace bcp::kernels

#undef BCP_INLINE
