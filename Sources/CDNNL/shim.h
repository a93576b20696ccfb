// oneDNN 2.6 C API (Debian's libdnnl-dev has no pkg-config file). omp.h lives in gcc's private include
// directory, so the two OpenMP calls featx needs are declared here, and so is the affinity count (glibc's
// sched_getaffinity and CPU_COUNT need _GNU_SOURCE, which Swift's Glibc module does not define).
#ifndef FEATX_CDNNL_SHIM_H
#define FEATX_CDNNL_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
static inline void *featx_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
/// CPUs in the calling thread's affinity mask, or 0 if it cannot be read.
static inline int featx_affinity_count(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return CPU_COUNT(&set);
}
#endif
