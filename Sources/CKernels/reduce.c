#include "ckernels.h"

// Sixteen float lanes per block of 256, combined in a fixed tree and added into a double: every clone
// (and the scalar fallback) performs the same operations in the same order, so the bits do not depend on
// the instruction set, and the compiler can keep the lanes in vector registers (a single running sum is a
// dependency chain it may not reorder).
#pragma STDC FP_CONTRACT OFF
__attribute__((target_clones("avx512f", "avx2", "default")))
double featx_dot(const float *restrict a, const float *restrict b, size_t count) {
  double total = 0;
  size_t i = 0;
  for (; i < count; i += 256) {
    size_t end = count - i < 256 ? count - i : 256;
    float lanes[16] = {0};
    size_t j = 0;
    for (; j + 16 <= end; j += 16) {
      for (int k = 0; k < 16; k++) lanes[k] += a[i + j + k] * b[i + j + k];
    }
    for (; j < end; j++) lanes[j % 16] += a[i + j] * b[i + j];
    for (int width = 8; width > 0; width /= 2) {
      for (int k = 0; k < width; k++) lanes[k] += lanes[k + width];
    }
    total += lanes[0];
  }
  return total;
}
