// zlib for featx's PNG reader. PIL does not use libpng: it walks the chunks in Python
// (PngImagePlugin.py) and inflates and unfilters the image data itself (ZipDecode.c), and what it
// accepts or refuses follows from that code (an IDAT CRC is never checked, a zlib stream that ends on a
// row boundary leaves the other rows black, a missing IEND is fine). featx ports that code and calls
// zlib, the library both use; these wrappers exist because inflateInit is a macro Swift cannot import.
#ifndef FEATX_CZLIB_SHIM_H
#define FEATX_CZLIB_SHIM_H
#include <stdlib.h>
#include <zlib.h>

/// A fresh inflate stream (zlib wrapper, 32 KiB window), or NULL when zlib cannot allocate one.
static inline z_stream *featx_inflate_new(void) {
  z_stream *z = (z_stream *)calloc(1, sizeof(z_stream));
  if (z && inflateInit(z) != Z_OK) {
    free(z);
    z = NULL;
  }
  return z;
}

static inline void featx_inflate_free(z_stream *z) {
  if (z) {
    inflateEnd(z);
    free(z);
  }
}

/// One inflate(Z_NO_FLUSH) call, as PIL's ZipDecode makes it: returns zlib's status and advances
/// `*in`/`*in_left` and `*out`/`*out_left` by what was consumed and produced.
static inline int featx_inflate_step(z_stream *z, const unsigned char **in, size_t *in_left, unsigned char **out,
                                     size_t *out_left) {
  z->next_in = (Bytef *)*in;
  z->avail_in = (uInt)*in_left;
  z->next_out = *out;
  z->avail_out = (uInt)*out_left;
  int err = inflate(z, Z_NO_FLUSH);
  *in = z->next_in;
  *in_left = z->avail_in;
  *out = z->next_out;
  *out_left = z->avail_out;
  return err;
}

/// Python's `zlib.decompressobj().decompress(data, cap)` followed by PIL's `unconsumed_tail` test
/// (PngImagePlugin._safe_zlib_decompress): 0 when the text fits (the stream ended, or the input ran out
/// first: Python returns what it has), 1 when `cap` bytes came out and input is left over (PIL's
/// "Decompressed data too large"), -1 on a zlib error (Python's zlib.error). `*produced` is the length.
static inline int featx_inflate_bounded(const unsigned char *in, size_t in_len, unsigned char *out, size_t cap,
                                        size_t *produced) {
  z_stream z = {0};
  *produced = 0;
  if (inflateInit(&z) != Z_OK) return -1;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)in_len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int err = inflate(&z, Z_SYNC_FLUSH);
  *produced = cap - z.avail_out;
  int result = 0;
  if (err != Z_OK && err != Z_BUF_ERROR && err != Z_STREAM_END) {
    result = -1;
  } else if (err != Z_STREAM_END && z.avail_in > 0) {
    result = 1;
  }
  inflateEnd(&z);
  return result;
}
#endif
