// Small numeric kernels that no chosen library provides, in C so that the compiler vectorises them
// (Swift's SIMD square root is lane by lane) and builds one clone per instruction set.
#ifndef FEATX_CKERNELS_H
#define FEATX_CKERNELS_H

#include <stddef.h>

/// One torch.optim.Adam step over `count` parameters, PyTorch's formulation:
/// g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g;
/// p -= step_size * m / (sqrt(v) / correction2 + eps), with step_size = lr / (1 - b1^t) and
/// correction2 = sqrt(1 - b2^t). The four arrays must not overlap.
void featx_adam_step(float *restrict p, const float *restrict grad, float *restrict m, float *restrict v, size_t count,
                     float b1, float b2, float eps, float weight_decay, float step_size, float correction2);

#endif
