// libjpeg (libjpeg-turbo's libjpeg API) driven the way PIL's JpegDecode.c and ImageFile.load drive it,
// so that featx accepts and refuses what PIL does:
// - warnings are ignored ("Corrupt JPEG data: N extraneous bytes before marker", "premature end of data
//   segment": the image is complete), errors refuse the file;
// - the data arrives in PIL's blocks of 64 KiB (ImageFile.MAXBLOCK), and the source suspends at the end
//   of each instead of inventing an EOI marker the way jpeg_mem_src and TurboJPEG do. Huffman decoding
//   resumes with the next block, so the pixels do not depend on it; the arithmetic decoder cannot
//   suspend, so PIL refuses arithmetic-coded scans that cross a block boundary, and so does featx;
// - after the last block, a suspension is PIL's "image file is truncated", unless every scanline is
//   already out (a missing EOI alone is fine).
// error_exit must longjmp, which Swift cannot do, hence the setjmp in featx_jpeg_decode.
#ifndef FEATX_CJPEG_SHIM_H
#define FEATX_CJPEG_SHIM_H
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct featx_jpeg {
  struct jpeg_decompress_struct cinfo; /* first: libjpeg's callbacks get it and find the rest */
  struct jpeg_error_mgr err;
  struct jpeg_source_mgr src;
  jmp_buf jump;
  const unsigned char *data;        /* the whole file */
  size_t size;
  size_t fed;                       /* bytes handed to libjpeg so far (PIL's reads of 64 KiB) */
  size_t skip;                      /* bytes libjpeg skipped past the current block (JpegDecode.c's skip) */
  int ran_out;                      /* libjpeg asked for more after the last block */
  char message[JMSG_LENGTH_MAX];    /* the error that stopped libjpeg */
  char warning[JMSG_LENGTH_MAX];    /* the first warning (ignored, as PIL does) */
} featx_jpeg;

static void featx_jpeg_error_exit(j_common_ptr cinfo) {
  featx_jpeg *j = (featx_jpeg *)cinfo;
  (*cinfo->err->format_message)(cinfo, j->message);
  longjmp(j->jump, 1);
}

/* libjpeg calls this for the first warning only (trace_level 0). */
static void featx_jpeg_output_message(j_common_ptr cinfo) {
  featx_jpeg *j = (featx_jpeg *)cinfo;
  (*cinfo->err->format_message)(cinfo, j->warning);
}

static void featx_jpeg_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void featx_jpeg_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* The end of the current block: suspend (JpegDecode.c's fill_input_buffer). */
static boolean featx_jpeg_fill_input_buffer(j_decompress_ptr cinfo) {
  featx_jpeg *j = (featx_jpeg *)cinfo;
  if (j->fed == j->size) j->ran_out = 1;
  return FALSE;
}

static void featx_jpeg_skip_input_data(j_decompress_ptr cinfo, long n) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (n <= 0) return;
  if ((size_t)n > src->bytes_in_buffer) {
    /* Past the block: the rest is skipped in the next one (libjpeg suspends at its next read). */
    ((featx_jpeg *)cinfo)->skip = (size_t)n - src->bytes_in_buffer;
    src->next_input_byte += src->bytes_in_buffer;
    src->bytes_in_buffer = 0;
  } else {
    src->next_input_byte += n;
    src->bytes_in_buffer -= (size_t)n;
  }
}

/// A decompressor, or NULL when libjpeg cannot allocate one.
static inline featx_jpeg *featx_jpeg_new(void) {
  featx_jpeg *j = (featx_jpeg *)calloc(1, sizeof(featx_jpeg));
  if (!j) return NULL;
  j->cinfo.err = jpeg_std_error(&j->err);
  j->err.error_exit = featx_jpeg_error_exit;
  j->err.output_message = featx_jpeg_output_message;
  if (setjmp(j->jump)) {
    free(j);
    return NULL;
  }
  jpeg_create_decompress(&j->cinfo);
  j->src.init_source = featx_jpeg_init_source;
  j->src.fill_input_buffer = featx_jpeg_fill_input_buffer;
  j->src.skip_input_data = featx_jpeg_skip_input_data;
  j->src.resync_to_restart = jpeg_resync_to_restart;
  j->src.term_source = featx_jpeg_term_source;
  j->cinfo.src = &j->src;
  return j;
}

static inline void featx_jpeg_free(featx_jpeg *j) {
  if (!j) return;
  jpeg_destroy_decompress(&j->cinfo);
  free(j);
}

/// Decodes `data` into `out` (`height` rows of `row_bytes`) in `out_space` (JCS_GRAYSCALE, JCS_RGB or
/// JCS_CMYK: PIL's rawmodes L, RGB and CMYK;I), following JpegDecode.c's states (header, start, scanlines,
/// finish) over PIL's 64 KiB blocks: 0 when every row is out, 1 when the data ran out first, -1 on a
/// libjpeg error (`message`), -2 when libjpeg's image is not `row_bytes` x `height`.
static inline int featx_jpeg_decode(featx_jpeg *j, const unsigned char *data, size_t size, int out_space,
                                    int scale, unsigned char *out, size_t row_bytes, int height) {
  j->data = data;
  j->size = size;
  j->fed = 0;
  j->skip = 0;
  j->ran_out = 0;
  j->message[0] = 0;
  j->warning[0] = 0;
  int state = 1;
  if (setjmp(j->jump)) return -1;
  jpeg_abort_decompress(&j->cinfo);
  j->err.num_warnings = 0;
  j->src.next_input_byte = data;
  j->src.bytes_in_buffer = 0;
  for (;;) {
    /* ImageFile.load: read the next block; nothing left is "image file is truncated". */
    if (j->fed == size) {
      j->ran_out = 1;
      return 1;
    }
    j->fed += size - j->fed < 65536 ? size - j->fed : 65536;
    j->src.bytes_in_buffer = (size_t)(data + j->fed - j->src.next_input_byte);
    if (j->skip > 0) {
      size_t n = j->skip < j->src.bytes_in_buffer ? j->skip : j->src.bytes_in_buffer;
      j->src.next_input_byte += n;
      j->src.bytes_in_buffer -= n;
      j->skip -= n;
      if (j->skip > 0) continue;
    }
    switch (state) {
    case 1: {
      int ok;
      do {
        ok = jpeg_read_header(&j->cinfo, FALSE);
      } while (ok == JPEG_HEADER_TABLES_ONLY);
      if (ok == JPEG_SUSPENDED) continue;
      j->cinfo.out_color_space = (J_COLOR_SPACE)out_space;
      /* JpegDecode.c with Image.draft's decoderconfig (scale, 0): libjpeg's scaled IDCT, still ISLOW
         with fancy upsampling. */
      j->cinfo.scale_num = 1;
      j->cinfo.scale_denom = (unsigned int)(scale > 1 ? scale : 1);
      state = 2;
    }
      /* fall through */
    case 2:
      if (!jpeg_start_decompress(&j->cinfo)) continue;
      if ((size_t)j->cinfo.output_width * (size_t)j->cinfo.output_components != row_bytes ||
          (int)j->cinfo.output_height != height) {
        snprintf(j->message, sizeof j->message, "libjpeg decodes %ux%u pixels of %d components",
                 j->cinfo.output_width, j->cinfo.output_height, j->cinfo.output_components);
        return -2;
      }
      state = 3;
      /* fall through */
    case 3:
      while ((int)j->cinfo.output_scanline < height) {
        JSAMPROW row = out + (size_t)j->cinfo.output_scanline * row_bytes;
        if (jpeg_read_scanlines(&j->cinfo, &row, 1) != 1) break;
      }
      if ((int)j->cinfo.output_scanline < height) continue;
      state = 4;
      /* fall through */
    default:
      /* FALSE (suspended before EOI) is fine once every row is out, as in PIL. */
      (void)jpeg_finish_decompress(&j->cinfo);
      return 0;
    }
  }
}

/// True when libjpeg stopped because it cannot suspend there (the arithmetic decoder at a block's end).
static inline int featx_jpeg_cant_suspend(const featx_jpeg *j) { return j->err.msg_code == JERR_CANT_SUSPEND; }

static inline const char *featx_jpeg_message(const featx_jpeg *j) { return j->message; }
static inline const char *featx_jpeg_warning(const featx_jpeg *j) { return j->warning; }
static inline int featx_jpeg_ran_out(const featx_jpeg *j) { return j->ran_out; }

static inline int featx_jcs_grayscale(void) { return JCS_GRAYSCALE; }
static inline int featx_jcs_rgb(void) { return JCS_RGB; }
static inline int featx_jcs_cmyk(void) { return JCS_CMYK; }
#endif
