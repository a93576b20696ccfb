#include "ckernels.h"


// __builtin_elementwise_sqrt is the IEEE square root without errno, which would keep the loop scalar.
// Plain IEEE operations in a fixed order (no fused multiply-add: -ffp-contract is off for this function),
// so every clone computes the same bits as PyTorch's unfused CPU Adam.
#pragma STDC FP_CONTRACT OFF
__attribute__((target_clones("avx512f", "avx2", "default")))
void featx_adam_step(float *restrict p, const float *restrict grad, float *restrict m, float *restrict v, size_t count,
                     float b1, float b2, float eps, float weight_decay, float step_size, float correction2) {
  for (size_t i = 0; i < count; i++) {
    float g = grad[i] + weight_decay * p[i];
    float mi = b1 * m[i] + (1 - b1) * g;
    float vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (__builtin_elementwise_sqrt(vi) / correction2 + eps);
  }
}
