// glibc's malloc tuning (mallopt), which Swift's Glibc module does not export.
#ifndef FEATX_CMALLOC_SHIM_H
#define FEATX_CMALLOC_SHIM_H
#include <malloc.h>
#endif
