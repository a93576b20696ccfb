// oneDNN 2.6 C API (Debian's libdnnl-dev has no pkg-config file). omp.h lives in gcc's private include
// directory, so the two OpenMP calls featx needs are declared here.
#ifndef FEATX_CDNNL_SHIM_H
#define FEATX_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
static inline void *featx_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
#endif
