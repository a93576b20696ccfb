#include "ckernels.h"

// No fused multiply-adds, so every clone computes the same bits.
#pragma STDC FP_CONTRACT OFF

// exp(x) for x <= 0 (a logit minus its row's maximum) in plain arithmetic the compiler vectorises: the
// Cephes expf reduction x = n·ln2 + r, |r| <= ln2/2, a degree-6 polynomial for exp(r) (about 1 ulp), and
// 2^n built from its exponent bits. Below -87 (2^-126, smaller than float's normal range) it returns exp(-87).
static inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
double featx_softmax_residuals(const float *restrict base, const float *restrict direction, float step,
                               const float *restrict bias, const float *restrict bias_direction,
                               const int64_t *restrict labels, size_t rows, size_t classes, float divisor,
                               float *restrict residual, int64_t *restrict correct) {
  double total = 0;
  int64_t right = 0;
  for (size_t r = 0; r < rows; r++) {
    const float *b = base + r * classes;
    float *z = residual + r * classes;
    if (direction) {
      const float *d = direction + r * classes;
      for (size_t k = 0; k < classes; k++) z[k] = (b[k] + step * d[k]) + (bias[k] + step * bias_direction[k]);
    } else {
      for (size_t k = 0; k < classes; k++) z[k] = b[k] + bias[k];
    }
    size_t best = 0;
    for (size_t k = 1; k < classes; k++) best = z[k] > z[best] ? k : best;
    float maximum = z[best];
    int64_t y = labels[r];
    right += best == (size_t)y;
    float logit = z[y];
    // Exponentials in one loop (vectorised), their sum in another (a sequential sum would keep it scalar).
    for (size_t k = 0; k < classes; k++) z[k] = exp_nonpositive(z[k] - maximum);
    float sum = 0;
    for (size_t k = 0; k < classes; k++) sum += z[k];
    total += (double)maximum + __builtin_log((double)sum) - (double)logit;
    float scale = 1.0f / (sum * divisor);
    for (size_t k = 0; k < classes; k++) z[k] *= scale;
    z[y] -= 1.0f / divisor;
  }
  *correct = right;
  return total;
}
