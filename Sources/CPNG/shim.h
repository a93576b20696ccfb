// libpng's simplified API; PNG_IMAGE_SIZE and friends are function-like macros Swift cannot import.
#ifndef FEATX_CPNG_SHIM_H
#define FEATX_CPNG_SHIM_H
#include <png.h>
static inline unsigned int featx_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline unsigned int featx_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline unsigned int featx_png_format_ga(void) { return PNG_FORMAT_GA; }
static inline unsigned int featx_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline int featx_png_image_failed(png_imagep image) { return PNG_IMAGE_FAILED(*image); }
#endif
