#include "ckernels.h"

// Round to nearest even, as oneDNN and PyTorch do (the features are finite: the probe refuses NaN/Inf rows).
static inline uint16_t bf16_bits(float x) {
  uint32_t u;
  __builtin_memcpy(&u, &x, sizeof u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void featx_pack_bf16(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                     const float *restrict mean, const float *restrict std, uint16_t *restrict target) {
  for (size_t r = 0; r < rows; r++) {
    const float *s = source + r * source_stride;
    uint16_t *t = target + r * width;
    if (mean) {
      for (size_t j = 0; j < width; j++) t[j] = bf16_bits((s[j] - mean[j]) / std[j]);
    } else {
      for (size_t j = 0; j < width; j++) t[j] = bf16_bits(s[j]);
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void featx_pack_f32(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                    const float *restrict mean, const float *restrict std, int round_to_bf16, float *restrict target) {
  for (size_t r = 0; r < rows; r++) {
    const float *s = source + r * source_stride;
    float *t = target + r * width;
    if (mean) {
      for (size_t j = 0; j < width; j++) t[j] = (s[j] - mean[j]) / std[j];
    } else {
      for (size_t j = 0; j < width; j++) t[j] = s[j];
    }
    if (round_to_bf16) {
      for (size_t j = 0; j < width; j++) {
        uint32_t u = (uint32_t)bf16_bits(t[j]) << 16;
        __builtin_memcpy(&t[j], &u, sizeof u);
      }
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void featx_pack_transposed_f32(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                               float *restrict target) {
  for (size_t r0 = 0; r0 < rows; r0 += 8) {
    size_t r1 = r0 + 8 < rows ? r0 + 8 : rows;
    for (size_t c0 = 0; c0 < width; c0 += 8) {
      size_t c1 = c0 + 8 < width ? c0 + 8 : width;
      for (size_t r = r0; r < r1; r++) {
        for (size_t c = c0; c < c1; c++) target[c * rows + r] = source[r * source_stride + c];
      }
    }
  }
}
