#include "ckernels.h"

// The streaming top-k of exact search: each query keeps its k best candidates in a binary heap whose root
// is the worst of them, so a block of similarities costs one comparison per candidate that cannot enter
// (nearly all of them once the heap is full) and log k moves for one that can. Written here because
// oneDNN has no top-k, and sorting each N-wide similarity row would cost N log N and N floats per query.

// Worse: a lower score, or an equal score with a higher index (the earlier row wins ties).
static inline int worse(float sa, int64_t ia, float sb, int64_t ib) { return sa < sb || (sa == sb && ia > ib); }

static void sift_down(float *s, int64_t *idx, size_t size, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < size && worse(s[l], idx[l], s[w], idx[w])) w = l;
    if (r < size && worse(s[r], idx[r], s[w], idx[w])) w = r;
    if (w == i) return;
    float ts = s[i]; s[i] = s[w]; s[w] = ts;
    int64_t ti = idx[i]; idx[i] = idx[w]; idx[w] = ti;
    i = w;
  }
}

static void sift_up(float *s, int64_t *idx, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!worse(s[i], idx[i], s[p], idx[p])) return;
    float ts = s[i]; s[i] = s[p]; s[p] = ts;
    int64_t ti = idx[i]; idx[i] = idx[p]; idx[p] = ti;
    i = p;
  }
}

void featx_topk_offer(const float *restrict scores, size_t count, int64_t first, float *restrict heap_scores,
                      int64_t *restrict heap_index, size_t k, size_t *restrict size) {
  size_t n = *size;
  size_t i = 0;
  for (; i < count && n < k; i++) {
    heap_scores[n] = scores[i];
    heap_index[n] = first + (int64_t)i;
    sift_up(heap_scores, heap_index, n);
    n++;
  }
  *size = n;
  if (n == 0) return;
  float threshold = heap_scores[0];
  for (; i < count; i++) {
    float s = scores[i];
    if (s < threshold) continue;
    if (!worse(heap_scores[0], heap_index[0], s, first + (int64_t)i)) continue;
    heap_scores[0] = s;
    heap_index[0] = first + (int64_t)i;
    sift_down(heap_scores, heap_index, n, 0);
    threshold = heap_scores[0];
  }
}

void featx_topk_sort(float *restrict heap_scores, int64_t *restrict heap_index, size_t size) {
  // Heap sort: moving the worst to the end each time leaves the best first.
  for (size_t end = size; end > 1; end--) {
    float ts = heap_scores[0]; heap_scores[0] = heap_scores[end - 1]; heap_scores[end - 1] = ts;
    int64_t ti = heap_index[0]; heap_index[0] = heap_index[end - 1]; heap_index[end - 1] = ti;
    sift_down(heap_scores, heap_index, end - 1, 0);
  }
}
