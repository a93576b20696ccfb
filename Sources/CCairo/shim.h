// cairo (PNG, SVG and PDF surfaces) and pango (text layout in any script, fonts through fontconfig),
// from Debian's libcairo2-dev and libpango1.0-dev.
#ifndef FEATX_CCAIRO_SHIM_H
#define FEATX_CCAIRO_SHIM_H
#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <pango/pangocairo.h>
#endif
