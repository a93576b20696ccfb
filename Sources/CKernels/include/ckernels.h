// Small numeric kernels that no chosen library provides, in C so that the compiler vectorises them
// (Swift's SIMD square root is lane by lane) and builds one clone per instruction set.
//
// Hand-written on purpose: oneDNN has no optimiser step and no row-wise softmax/cross-entropy with
// residuals, and BLAS has neither; the Adam step must also reproduce PyTorch's unfused operation order
// so that the seed recipe's printed numbers follow PyTorch's, which a fused library kernel would not.
#ifndef FEATX_CKERNELS_H
#define FEATX_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// One torch.optim.Adam step over `count` parameters, PyTorch's formulation:
/// g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g;
/// p -= step_size * m / (sqrt(v) / correction2 + eps), with step_size = lr / (1 - b1^t) and
/// correction2 = sqrt(1 - b2^t). The four arrays must not overlap.
void featx_adam_step(float *restrict p, const float *restrict grad, float *restrict m, float *restrict v, size_t count,
                     float b1, float b2, float eps, float weight_decay, float step_size, float correction2);

/// Copies `rows` rows of `width` floats (row stride `source_stride`) into a dense row-major block, optionally
/// standardised as (x - mean[j]) / std[j] (both null for a plain copy), rounded to bfloat16 (nearest
/// even). The packed blocks feed oneDNN's matmul in the Gram matrix of the row-space probe.
void featx_pack_bf16(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                     const float *restrict mean, const float *restrict std, uint16_t *restrict target);

/// Copies `rows` rows of `width` floats (row stride `source_stride`) transposed into a dense `[width, rows]`
/// block, in 8 x 8 tiles. The seed recipe's gradient product reads its batch's columns this way: a GEMM
/// that packs a transposed, strided operand itself ran 1.46x slower over a whole step (measured with Adam's
/// streams beside it, one thread).
void featx_pack_transposed_f32(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                               float *restrict target);

/// The same packing in float32; with `round_to_bf16`, each value is rounded to bfloat16's precision (and kept
/// in float32), so products with it reproduce those of the bfloat16 packing.
void featx_pack_f32(const float *restrict source, size_t source_stride, size_t rows, size_t width,
                    const float *restrict mean, const float *restrict std, int round_to_bf16, float *restrict target);

/// Σ a[i]·b[i], in float over blocks of 256 and in double across blocks (the line searches and L-BFGS
/// inner products of the probe); the same bits on every instruction set.
double featx_dot(const float *restrict a, const float *restrict b, size_t count);

/// The softmax cross-entropy of the row-space solver's line search in one pass: rows of logits
/// z = base + step·direction + bias + step·bias_direction (direction and bias_direction null: z = base + bias)
/// become (softmax(z) - onehot(label)) / divisor in `residual`. Returns the summed cross-entropy; `correct`
/// counts rows whose first largest logit is the label.
double featx_softmax_residuals(const float *restrict base, const float *restrict direction, float step,
                               const float *restrict bias, const float *restrict bias_direction,
                               const int64_t *restrict labels, size_t rows, size_t classes, float divisor,
                               float *restrict residual, int64_t *restrict correct);

/// Offers candidates `scores[0..<count]`, with indices `first`, `first + 1`, ..., to the k best kept in
/// `heap_scores`/`heap_index` (a heap of `*size` <= k entries whose root is the worst: the lowest score,
/// and among equal scores the highest index). A candidate enters when the heap has room or it beats the
/// root; equal scores keep the lower index.
void featx_topk_offer(const float *restrict scores, size_t count, int64_t first, float *restrict heap_scores,
                      int64_t *restrict heap_index, size_t k, size_t *restrict size);

/// Turns such a heap into a list, best first: scores descending, equal scores by ascending index.
void featx_topk_sort(float *restrict heap_scores, int64_t *restrict heap_index, size_t size);

#endif
