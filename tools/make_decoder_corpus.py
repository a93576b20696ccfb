#!/usr/bin/env python3
"""Builds the decoder corpus in Tests/Fixtures/images/corpus/ and PIL's verdict on every file.

    .cache/bench-venv/bin/python tools/make_decoder_corpus.py          # rewrite the corpus
    .cache/bench-venv/bin/python tools/make_decoder_corpus.py --check  # only compare disk with PIL

Every mode PIL reads from PNG and JPEG, as small images (17x13 unless a case needs another size), plus
broken variants made by cutting and patching the bytes of good files. PNGs come from Pillow's own writer
and, for what it cannot write (16-bit colour, Adam7 interlacing, every filter type, split IDAT chunks,
APNG control chunks, text chunks), from the small PNG writer below. JPEGs come from Pillow; arithmetic
coding and YCCK, which Pillow cannot write, from a 60-line helper compiled against Debian's libjpeg
(libjpeg-dev, which featx builds with anyway).

For each file, manifest.json records PIL's decision on `Image.open(path).convert("RGB")`: accepted, with
the sha256 of the RGB bytes and the size, or refused, with PIL's exception. It also records the
ImageError kind featx must refuse it with (`featx_kind`): truncated for data that ends early, tooLarge
for text chunks that decompress past PIL's MAX_TEXT_CHUNK, unsupported for what neither library
decodes (12-bit JPEG), corrupt for everything else.

Everything is deterministic: a second run writes byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageFile

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "Tests" / "Fixtures" / "images" / "corpus"
W, H = 17, 13

assert not ImageFile.LOAD_TRUNCATED_IMAGES

# --------------------------------------------------------------------------------------------------
# PNG writer: any bit depth and colour type, each row with its own filter type, Adam7, IDAT split in
# chunks of any size, arbitrary chunks before and after the image data.

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(cid: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data) & 0xFFFFFFFF)


def pack_row(row: np.ndarray, depth: int) -> bytes:
    """One row of samples (width x channels, ints) as PNG bytes."""
    flat = [int(v) for v in row.reshape(-1)]
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in flat)
    if depth == 8:
        return bytes(flat)
    out = bytearray()
    per = 8 // depth
    for i in range(0, len(flat), per):
        byte = 0
        for j in range(per):
            v = flat[i + j] if i + j < len(flat) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows: list[bytes], bpp: int, filters: list[int]) -> bytes:
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for y, row in enumerate(rows):
        f = filters[y % len(filters)]
        out.append(f)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f] if f < 5 else 0  # 5+: invalid, written as is
            out.append((x - pred) & 0xFF)
        prev = row
    return bytes(out)


def scanlines(samples: np.ndarray, depth: int, interlace: bool, filters: list[int]) -> bytes:
    channels = samples.shape[2]
    bpp = max(1, depth * channels // 8)
    if not interlace:
        return filter_rows([pack_row(r, depth) for r in samples], bpp, filters)
    out = b""
    for x0, y0, dx, dy in ADAM7:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        out += filter_rows([pack_row(r, depth) for r in sub], bpp, filters)
    return out


def png(
    samples: np.ndarray,
    depth: int,
    ctype: int,
    *,
    interlace: bool = False,
    filters: list[int] | None = None,
    before: list[bytes] = (),
    after: list[bytes] = (),
    idat_split: list[int] | None = None,
    ihdr: bytes | None = None,
    raw: bytes | None = None,
    iend: bool = True,
) -> bytes:
    h, w = samples.shape[:2]
    if ihdr is None:
        ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    data = raw if raw is not None else scanlines(samples, depth, interlace, filters or [0, 1, 2, 3, 4])
    z = zlib.compress(data, 9)
    parts = []
    if idat_split:
        at = 0
        for n in idat_split:
            parts.append(z[at : at + n])
            at += n
        parts.append(z[at:])
    else:
        parts = [z]
    out = PNG_MAGIC + chunk(b"IHDR", ihdr) + b"".join(before)
    out += b"".join(chunk(b"IDAT", p) for p in parts) + b"".join(after)
    return out + (chunk(b"IEND", b"") if iend else b"")


def chunks_of(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset of the length field, data length) of each chunk."""
    out, i = [], 8
    while i + 8 <= len(data):
        n = struct.unpack(">I", data[i : i + 4])[0]
        out.append((data[i + 4 : i + 8], i, n))
        i += 12 + n
    return out


def find_chunk(data: bytes, cid: bytes, nth: int = 0) -> tuple[int, int]:
    found = [(at, n) for c, at, n in chunks_of(data) if c == cid]
    return found[nth]


def patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def recrc(data: bytes, cid: bytes, nth: int = 0) -> bytes:
    """Recomputes the CRC of a chunk after its data was patched."""
    at, n = find_chunk(data, cid, nth)
    crc = zlib.crc32(data[at + 4 : at + 8 + n]) & 0xFFFFFFFF
    return patch(data, at + 8 + n, struct.pack(">I", crc))


def pillow(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# Samples

rng = np.random.default_rng(1515)


def noise(h: int, w: int, c: int, high: int) -> np.ndarray:
    return rng.integers(0, high, (h, w, c), dtype=np.int64)


def photo(h: int = H, w: int = W) -> np.ndarray:
    """A smooth RGB picture with some texture (JPEG input)."""
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)
    g = 255 * x / max(w - 1, 1)
    b = 255 * y / max(h - 1, 1)
    img = np.stack([r, g, b], axis=2) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def mixed16(h: int, w: int, c: int) -> np.ndarray:
    """16-bit samples, half below 256 (PIL keeps them) and half above (PIL clips or keeps the high byte)."""
    low = rng.integers(0, 256, (h, w, c))
    high = rng.integers(256, 65536, (h, w, c))
    return np.where(rng.integers(0, 2, (h, w, c)) == 1, high, low)


# --------------------------------------------------------------------------------------------------
# JPEG helper for what Pillow cannot write (arithmetic coding, YCCK), against Debian's libjpeg.

HELPER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

/* helper arith IN OUT [progressive [huffman]]: the same coefficients, arithmetic-coded (or Huffman-coded,
   with optimised tables, for a progressive copy Pillow's encoder cannot write).
   helper ycck RAW W H OUT: 4-channel raw samples (CMYK as PIL stores it) written as YCCK. */
int main(int argc, char **argv) {
  struct jpeg_error_mgr jerr;
  struct jpeg_compress_struct dst;
  dst.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&dst);
  if (argc >= 4 && strcmp(argv[1], "arith") == 0) {
    struct jpeg_decompress_struct src;
    src.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&src);
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!in || !out) return 2;
    jpeg_stdio_src(&src, in);
    jpeg_read_header(&src, TRUE);
    jvirt_barray_ptr *coefs = jpeg_read_coefficients(&src);
    jpeg_copy_critical_parameters(&src, &dst);
    dst.arith_code = argc >= 6 ? FALSE : TRUE;
    dst.optimize_coding = argc >= 6 ? TRUE : FALSE;
    if (argc >= 5) jpeg_simple_progression(&dst);
    jpeg_stdio_dest(&dst, out);
    jpeg_write_coefficients(&dst, coefs);
    jpeg_finish_compress(&dst);
    jpeg_finish_decompress(&src);
    fclose(out);
    return 0;
  }
  if (argc == 6 && strcmp(argv[1], "ycck") == 0) {
    int w = atoi(argv[3]), h = atoi(argv[4]);
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[5], "wb");
    if (!in || !out) return 2;
    unsigned char *raw = malloc((size_t)w * h * 4);
    if (fread(raw, 4, (size_t)w * h, in) != (size_t)w * h) return 3;
    dst.image_width = w;
    dst.image_height = h;
    dst.input_components = 4;
    dst.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&dst);
    jpeg_set_colorspace(&dst, JCS_YCCK);
    jpeg_set_quality(&dst, 90, TRUE);
    jpeg_stdio_dest(&dst, out);
    jpeg_start_compress(&dst, TRUE);
    while (dst.next_scanline < dst.image_height) {
      JSAMPROW row = raw + (size_t)dst.next_scanline * w * 4;
      jpeg_write_scanlines(&dst, &row, 1);
    }
    jpeg_finish_compress(&dst);
    fclose(out);
    return 0;
  }
  return 1;
}
"""


class JpegHelper:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        src = tmp / "helper.c"
        src.write_text(HELPER_C)
        self.exe = tmp / "helper"
        subprocess.run(["cc", "-O1", "-o", str(self.exe), str(src), "-ljpeg"], check=True)

    def arith(self, jpeg: bytes, progressive: bool = False, huffman: bool = False) -> bytes:
        (self.tmp / "in.jpg").write_bytes(jpeg)
        args = [str(self.exe), "arith", str(self.tmp / "in.jpg"), str(self.tmp / "out.jpg")]
        subprocess.run(args + (["progressive"] if progressive or huffman else []) + (["huffman"] if huffman else []), check=True)
        return (self.tmp / "out.jpg").read_bytes()

    def ycck(self, cmyk: np.ndarray) -> bytes:
        (self.tmp / "in.raw").write_bytes(cmyk.astype(np.uint8).tobytes())
        h, w = cmyk.shape[:2]
        subprocess.run([str(self.exe), "ycck", str(self.tmp / "in.raw"), str(w), str(h), str(self.tmp / "out.jpg")], check=True)
        return (self.tmp / "out.jpg").read_bytes()


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset of 0xFF, total length including the marker) of each segment up to SOS."""
    out, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        n = struct.unpack(">H", data[i + 2 : i + 4])[0]
        out.append((marker, i, 2 + n))
        if marker == 0xDA:
            break
        i += 2 + n
    return out


def segment(data: bytes, marker: int) -> tuple[int, int]:
    for m, at, n in jpeg_segments(data):
        if m == marker:
            return at, n
    raise KeyError(hex(marker))


def scan_range(data: bytes) -> tuple[int, int]:
    """Offsets of the first byte of entropy-coded data after the first SOS and of the final EOI."""
    at, n = segment(data, 0xDA)
    assert data[-2:] == b"\xff\xd9"
    return at + n, len(data) - 2


# --------------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}

    def add(self, name: str, data: bytes, kind: str, featx_kind: str | None = None) -> None:
        """`kind` says what the file is; `featx_kind` is the ImageError kind featx refuses it with, if PIL
        refuses it."""
        assert name not in self.files, name
        self.files[name] = (data, kind, featx_kind or "corrupt")


def build(c: Corpus, helper: JpegHelper) -> None:
    gray = lambda depth: noise(H, W, 1, 1 << depth)  # noqa: E731

    # ---------------- PNG: Pillow's writer, every mode it writes
    bits = noise(H, W, 1, 2)
    c.add("png_1bit.png", pillow(Image.fromarray((bits[:, :, 0] * 255).astype(np.uint8)).convert("1"), "PNG"), "1-bit (mode 1), Pillow")
    im1 = Image.fromarray((bits[:, :, 0] * 255).astype(np.uint8)).convert("1")
    c.add("png_1bit_trns.png", pillow(im1, "PNG", transparency=0), "1-bit with tRNS, Pillow")
    l8 = Image.fromarray(noise(H, W, 1, 256)[:, :, 0].astype(np.uint8))
    c.add("png_L.png", pillow(l8, "PNG"), "8-bit grey (L), Pillow")
    c.add("png_L_trns.png", pillow(l8, "PNG", transparency=int(np.asarray(l8)[0, 0])), "L with tRNS, Pillow")
    c.add("png_L4_bits.png", pillow(l8, "PNG", bits=4), "L written with bits=4 (L;4), Pillow")
    la = Image.merge("LA", [Image.fromarray(noise(H, W, 1, 256)[:, :, 0].astype(np.uint8)) for _ in range(2)])
    c.add("png_LA.png", pillow(la, "PNG"), "8-bit grey + alpha (LA), Pillow")
    i16 = Image.fromarray(mixed16(H, W, 1)[:, :, 0].astype("<u2"))
    c.add("png_I16.png", pillow(i16, "PNG"), "16-bit grey (I;16, the old mode I), values above 255, Pillow")
    c.add("png_I16_trns.png", pillow(i16, "PNG", transparency=int(np.asarray(i16)[1, 1])), "I;16 with tRNS, Pillow")
    rgb = Image.fromarray(noise(H, W, 3, 256).astype(np.uint8))
    c.add("png_RGB.png", pillow(rgb, "PNG"), "8-bit RGB, Pillow")
    c.add("png_RGB_trns.png", pillow(rgb, "PNG", transparency=tuple(int(v) for v in np.asarray(rgb)[0, 0])), "RGB with tRNS, Pillow")
    rgba = Image.fromarray(noise(H, W, 4, 256).astype(np.uint8))
    c.add("png_RGBA.png", pillow(rgba, "PNG"), "8-bit RGBA, random alpha (dropped, never composited), Pillow")
    clear = np.asarray(rgba).copy()
    clear[:, :, 3] = 0
    c.add("png_RGBA_clear.png", pillow(Image.fromarray(clear), "PNG"), "RGBA, every pixel fully transparent, Pillow")
    pal = [int(v) for v in noise(256, 1, 3, 256).reshape(-1)]
    for depth, colors in ((1, 2), (2, 4), (4, 16), (8, 256)):
        p = Image.frombytes("P", (W, H), noise(H, W, 1, colors).astype(np.uint8).tobytes())
        p.putpalette(pal[: colors * 3])
        c.add(f"png_P{depth}.png", pillow(p, "PNG"), f"palette, {depth}-bit ({colors} colours), Pillow")
        if depth in (4, 8):
            c.add(f"png_P{depth}_trns_index.png", pillow(p, "PNG", transparency=1), f"P{depth} with tRNS (one transparent index), Pillow")
            alphas = bytes(int(v) for v in noise(colors, 1, 1, 256).reshape(-1))
            c.add(f"png_P{depth}_trns_alpha.png", pillow(p, "PNG", transparency=alphas), f"P{depth} with tRNS (alpha per entry), Pillow")
    p = Image.frombytes("P", (W, H), noise(H, W, 1, 7).astype(np.uint8).tobytes())
    p.putpalette(pal[:21])
    c.add("png_P_7colours.png", pillow(p, "PNG"), "palette of 7 entries (written as 4-bit), Pillow")
    frames = [Image.fromarray(noise(H, W, 3, 256).astype(np.uint8)) for _ in range(3)]
    apng = pillow(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    c.add("apng_rgb.png", apng, "APNG, 3 frames (PIL decodes frame 0), Pillow")
    c.add("png_RGB_text_chunks.png", pillow(rgb, "PNG", pnginfo=text_info()), "RGB with tEXt, zTXt, iTXt (plain and compressed), Pillow")
    c.add("png_RGB_icc_dpi.png", pillow(rgb, "PNG", icc_profile=b"\0" * 128 + b"fake icc profile", dpi=(72, 72)), "RGB with iCCP and pHYs, Pillow")

    # ---------------- PNG: every depth/colour type, filter and interlace, from the writer above
    for depth in (1, 2, 4, 8, 16):
        c.add(f"png_gray{depth}_filters.png", png(gray(depth), depth, 0), f"grey {depth}-bit, rows cycling filters 0-4")
        c.add(f"png_gray{depth}_adam7.png", png(gray(depth), depth, 0, interlace=True), f"grey {depth}-bit, Adam7 interlaced")
    c.add("png_gray16_mixed.png", png(mixed16(H, W, 1), 16, 0), "grey 16-bit, half the values above 255 (PIL clips to 255)")
    g2 = gray(2)
    c.add("png_gray2_trns.png", png(g2, 2, 0, before=[chunk(b"tRNS", struct.pack(">H", 1))]), "grey 2-bit with tRNS")
    g8 = gray(8)
    c.add("png_gray8_trns_300.png", png(g8, 8, 0, before=[chunk(b"tRNS", struct.pack(">H", 300))]), "grey 8-bit, tRNS grey value 300 (out of range)")
    g16 = mixed16(H, W, 1)
    c.add("png_gray16_trns.png", png(g16, 16, 0, before=[chunk(b"tRNS", struct.pack(">H", int(g16[0, 0, 0])))]), "grey 16-bit with tRNS (mode I with transparency)")
    c.add("png_gray16_trns_adam7.png", png(g16, 16, 0, interlace=True, before=[chunk(b"tRNS", struct.pack(">H", int(g16[2, 3, 0])))]), "grey 16-bit, tRNS, Adam7")
    for depth in (8, 16):
        s = mixed16(H, W, 3) if depth == 16 else noise(H, W, 3, 256)
        c.add(f"png_rgb{depth}_filters.png", png(s, depth, 2), f"RGB {depth}-bit, filters 0-4")
        c.add(f"png_rgb{depth}_adam7.png", png(s, depth, 2, interlace=True), f"RGB {depth}-bit, Adam7")
        trns = struct.pack(">HHH", *[int(v) for v in s[0, 0]])
        c.add(f"png_rgb{depth}_trns.png", png(s, depth, 2, before=[chunk(b"tRNS", trns)]), f"RGB {depth}-bit with tRNS")
        s = mixed16(H, W, 2) if depth == 16 else noise(H, W, 2, 256)
        c.add(f"png_la{depth}.png", png(s, depth, 4), f"grey + alpha {depth}-bit")
        c.add(f"png_la{depth}_adam7.png", png(s, depth, 4, interlace=True), f"grey + alpha {depth}-bit, Adam7")
        s = mixed16(H, W, 4) if depth == 16 else noise(H, W, 4, 256)
        c.add(f"png_rgba{depth}.png", png(s, depth, 6), f"RGBA {depth}-bit")
        c.add(f"png_rgba{depth}_adam7.png", png(s, depth, 6, interlace=True), f"RGBA {depth}-bit, Adam7")
    plte = chunk(b"PLTE", bytes(pal))
    for depth in (1, 2, 4, 8):
        s = noise(H, W, 1, 1 << depth)
        c.add(f"png_pal{depth}.png", png(s, depth, 3, before=[plte]), f"palette {depth}-bit, filters 0-4")
        c.add(f"png_pal{depth}_adam7.png", png(s, depth, 3, interlace=True, before=[plte]), f"palette {depth}-bit, Adam7")
    s = noise(H, W, 1, 256)
    c.add("png_pal8_short_plte.png", png(s, 8, 3, before=[chunk(b"PLTE", bytes(pal[:30]))]), "palette indices past a 10-entry PLTE")
    c.add("png_pal8_no_plte.png", png(s, 8, 3), "palette image without PLTE")
    c.add("png_pal8_no_plte_trns.png", png(s, 8, 3, before=[chunk(b"tRNS", b"\xff\x00")]), "palette image without PLTE, with tRNS")
    c.add("png_pal8_plte_after_idat.png", png(s, 8, 3, after=[plte]), "palette image whose PLTE follows IDAT")
    c.add("png_pal8_trns_long.png", png(s, 8, 3, before=[plte, chunk(b"tRNS", bytes(range(256)) + b"\x10" * 40)]), "tRNS longer than the palette")
    c.add("png_pal8_plte_300.png", png(s, 8, 3, before=[chunk(b"PLTE", bytes(pal) + bytes(pal[:132]))]), "PLTE of 300 entries")
    c.add("png_pal8_plte_empty.png", png(s, 8, 3, before=[chunk(b"PLTE", b"")]), "PLTE of 0 bytes")
    c.add("png_pal8_two_plte.png", png(s, 8, 3, before=[chunk(b"PLTE", bytes(pal[:30])), plte]), "two PLTE chunks (the last one counts)")
    c.add("png_rgb8_with_plte.png", png(noise(H, W, 3, 256), 8, 2, before=[plte]), "RGB with a suggested palette")
    c.add("png_rgba8_trns.png", png(noise(H, W, 4, 256), 8, 6, before=[chunk(b"tRNS", b"\0\1\0\2\0\3")]), "RGBA with a (meaningless) tRNS")
    c.add("png_pal4_plte_odd.png", png(noise(H, W, 1, 16), 4, 3, before=[chunk(b"PLTE", bytes(pal[:47]))]), "PLTE length not a multiple of 3")
    rgb8 = noise(H, W, 3, 256)
    c.add("png_rgb8_gamma1.png", png(rgb8, 8, 2, before=[chunk(b"gAMA", struct.pack(">I", 100000))]), "RGB with gAMA 1.0 (PIL ignores gamma)")
    rgba8 = noise(H, W, 4, 256)
    c.add("png_rgba8_gamma_chrm.png", png(rgba8, 8, 6, before=[chunk(b"gAMA", struct.pack(">I", 20000)), chunk(b"cHRM", struct.pack(">8I", *[31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000]))]), "RGBA with gAMA 0.2 and cHRM")
    c.add("png_pal8_gamma_srgb.png", png(s, 8, 3, before=[chunk(b"sRGB", b"\x00"), chunk(b"gAMA", struct.pack(">I", 45455)), plte]), "palette with sRGB and gAMA")
    c.add("png_rgb8_idat_split.png", png(rgb8, 8, 2, idat_split=[1, 0, 7, 100, 3]), "RGB, zlib stream split over 6 IDAT chunks, one empty")
    c.add("png_rgb8_1x1.png", png(noise(1, 1, 3, 256), 8, 2), "RGB 1x1")
    c.add("png_gray1_adam7_3x2.png", png(noise(2, 3, 1, 2), 1, 0, interlace=True), "1-bit 3x2 Adam7 (empty passes)")
    c.add("png_rgb8_wide.png", png(noise(2, 300, 3, 256), 8, 2), "RGB 300x2")
    c.add("png_rgb8_unknown_chunks.png", png(rgb8, 8, 2, before=[chunk(b"prVt", b"private"), chunk(b"abCD", b"x" * 20)], after=[chunk(b"zzZz", b"after")]), "unknown ancillary chunks before and after IDAT")
    c.add("png_rgb8_text_after_idat.png", png(rgb8, 8, 2, after=[chunk(b"tEXt", b"Comment\0after"), chunk(b"zTXt", b"Title\0\0" + zlib.compress(b"x" * 1000)), chunk(b"iTXt", b"Key\0\1\0en\0Key\0" + zlib.compress("näme".encode()))]), "text chunks after IDAT")
    c.add("png_rgb8_ztxt_1mib.png", png(rgb8, 8, 2, before=[chunk(b"zTXt", b"Big\0\0" + zlib.compress(b"a" * (1 << 20), 9))]), "zTXt decompressing to exactly MAX_TEXT_CHUNK (1 MiB)")
    c.add("png_rgb8_ztxt_broken_zlib.png", png(rgb8, 8, 2, before=[chunk(b"zTXt", b"Bad\0\0not zlib at all")]), "zTXt whose data is not zlib")
    c.add("png_rgb8_itxt_unknown_method.png", png(rgb8, 8, 2, before=[chunk(b"iTXt", b"Key\0\1\7en\0Key\0???")]), "iTXt, compressed with method 7")
    c.add("png_rgb8_itxt_bad_utf8.png", png(rgb8, 8, 2, before=[chunk(b"iTXt", b"Key\0\0\0en\0Key\0\xff\xfe")]), "iTXt with invalid UTF-8")
    c.add("png_rgb8_ihdr_compression1.png", png(rgb8, 8, 2, ihdr=struct.pack(">IIBBBBB", W, H, 8, 2, 1, 0, 0)), "IHDR compression method 1")
    c.add("png_rgb8_ihdr_interlace2.png", png(rgb8, 8, 2, interlace=True, ihdr=struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 2)), "IHDR interlace method 2 (PIL: any non-zero is Adam7)")
    c.add("png_rgb8_ihdr_long.png", png(rgb8, 8, 2, ihdr=struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0) + b"\0\0\0"), "IHDR of 16 bytes")
    c.add("png_rgb8_idat_extra_rows.png", png(rgb8, 8, 2, raw=scanlines(np.concatenate([rgb8, rgb8]), 8, False, [0, 1, 2, 3, 4])), "IDAT holds twice the rows")
    short = scanlines(rgb8[:5], 8, False, [0, 1, 2, 3, 4])
    c.add("png_rgb8_idat_short_stream.png", png(rgb8, 8, 2, raw=short), "complete zlib stream with 5 of 13 rows (PIL fills the rest with black)")
    partial_row = scanlines(rgb8, 8, False, [0, 1, 2, 3, 4])[: 6 * (W * 3 + 1) + 10]
    c.add("png_rgb8_idat_partial_row.png", png(rgb8, 8, 2, raw=partial_row), "complete zlib stream ending inside row 7", "truncated")
    c.add("png_rgb8_after_iend.png", png(rgb8, 8, 2) + b"trailing garbage", "bytes after IEND")
    frame = noise(H, W, 3, 256)
    fctl = lambda seq, w=W, h=H, x=0, y=0: chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, 0, 0))  # noqa: E731
    fdat = lambda seq, s: chunk(b"fdAT", struct.pack(">I", seq) + zlib.compress(scanlines(s, 8, False, [0]), 9))  # noqa: E731
    actl = lambda n: chunk(b"acTL", struct.pack(">II", n, 0))  # noqa: E731
    c.add("apng_default_image.png", png(frame, 8, 2, before=[actl(1)], after=[fctl(0), fdat(1, noise(H, W, 3, 256))]), "APNG whose IDAT is a default image outside the animation")
    c.add("apng_actl_without_fctl.png", png(frame, 8, 2, before=[actl(2)]), "APNG: acTL announces 2 frames, no fcTL or fdAT anywhere")
    c.add("apng_actl_zero_frames.png", png(frame, 8, 2, before=[actl(0), fctl(0)]), "APNG: acTL with 0 frames")
    c.add("apng_two_actl.png", png(frame, 8, 2, before=[actl(1), actl(1), fctl(0)]), "APNG: acTL twice")
    c.add("apng_actl_truncated.png", png(frame, 8, 2, before=[chunk(b"acTL", b"\0\0\0\1")]), "APNG: acTL of 4 bytes")
    c.add("apng_fctl_truncated.png", png(frame, 8, 2, before=[actl(1), chunk(b"fcTL", b"\0" * 20)]), "APNG: fcTL of 20 bytes")
    c.add("apng_fctl_bad_sequence.png", png(frame, 8, 2, before=[actl(1), fctl(5)]), "APNG: first fcTL with sequence number 5")
    c.add("apng_fctl_outside.png", png(frame, 8, 2, before=[actl(1), fctl(0, W, H, 1, 0)]), "APNG: frame 0 extends past the image")
    c.add("apng_fctl_small_frame0.png", png(frame[:6, :8], 8, 2, ihdr=struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0), before=[actl(1), fctl(0, 8, 6, 3, 2)]), "APNG: frame 0 covers 8x6 of 17x13 (the rest stays black)")
    c.add("apng_fdat_before_idat.png", png(frame, 8, 2, before=[actl(1), fdat(0, frame)]), "APNG: fdAT before IDAT without fcTL")
    c.add("apng_fctl_zero_width.png", png(frame, 8, 2, before=[actl(1), fctl(0, 0, H)]), "APNG: frame 0 of width 0")
    c.add("apng_fctl_small_frame0_adam7.png", png(frame[:6, :8], 8, 2, interlace=True, ihdr=struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 1), before=[actl(1), fctl(0, 8, 6, 3, 2)]), "APNG: interlaced 8x6 frame 0 at (3, 2) (PIL draws it at the origin)")
    c.add("apng_fdat_continues_idat.png", apng_fdat_split(frame, fctl, actl), "APNG: the image data continues in an fdAT chunk")
    c.add("apng_fctl_no_actl.png", png(frame, 8, 2, before=[fctl(0, W, H, 1, 0)]), "fcTL (invalid frame) without acTL")
    c.add("apng_fctl_after_idat_bad.png", png(frame, 8, 2, before=[actl(2), fctl(0)], after=[fctl(7)]), "APNG: second fcTL after IDAT with a bad sequence number")
    c.add("apng_fctl_after_idat_no_actl.png", png(frame, 8, 2, after=[chunk(b"fcTL", b"\0" * 10)]), "truncated fcTL after IDAT, no acTL")

    # ---------------- PNG: broken variants, cut and patched from a good file
    good = png(rgb8, 8, 2, before=[chunk(b"tEXt", b"Comment\0before")], after=[chunk(b"tEXt", b"Comment\0after")])
    c.add("png_base.png", good, "the file the broken variants below are made from")
    iend_at, _ = find_chunk(good, b"IEND")
    for cut in (0, 4, 8, 10):
        c.add(f"png_cut_iend_{cut}.png", good[: iend_at + cut], f"cut {cut} bytes into IEND ({'no IEND' if cut == 0 else 'truncated IEND'})", "truncated")
    text_at, text_n = find_chunk(good, b"tEXt", 1)
    c.add("png_cut_in_text_after_idat.png", good[: text_at + 8 + text_n // 2], "cut inside the tEXt chunk after IDAT", "truncated")
    c.add("png_cut_in_text_crc_after_idat.png", good[: text_at + 8 + text_n + 2], "cut inside the CRC of the tEXt chunk after IDAT", "truncated")
    idat_at, idat_n = find_chunk(good, b"IDAT")
    for frac in (0.25, 0.5, 0.9):
        cut = idat_at + 8 + int(idat_n * frac)
        c.add(f"png_cut_idat_{int(frac * 100)}.png", good[:cut], f"cut at {int(frac * 100)}% of the IDAT data", "truncated")
    c.add("png_cut_idat_adler.png", good[: idat_at + 8 + idat_n - 2], "cut inside the zlib checksum", "truncated")
    c.add("png_cut_idat_crc.png", good[: idat_at + 8 + idat_n + 2], "cut inside the IDAT CRC", "truncated")
    c.add("png_cut_in_header.png", good[: idat_at - 5], "cut before IDAT", "truncated")
    c.add("png_cut_idat_header.png", good[: idat_at + 6], "cut inside the IDAT chunk header", "truncated")
    c.add("png_cut_signature.png", good[:8], "the signature alone", "truncated")
    c.add("png_cut_ihdr.png", good[:20], "cut inside IHDR", "truncated")
    c.add("png_bad_crc_ihdr.png", patch(good, 29, bytes([good[29] ^ 0xFF])), "IHDR CRC wrong")
    before_at, before_n = find_chunk(good, b"tEXt", 0)
    c.add("png_bad_crc_text_before_idat.png", patch(good, before_at + 8 + before_n, b"\0\0\0\0"), "CRC of the tEXt before IDAT wrong")
    c.add("png_bad_crc_idat.png", patch(good, idat_at + 8 + idat_n, b"\0\0\0\0"), "IDAT CRC wrong (PIL never checks it)")
    c.add("png_bad_crc_after_idat.png", patch(good, text_at + 8 + text_n, b"\0\0\0\0"), "CRC of the tEXt after IDAT wrong")
    c.add("png_bad_crc_iend.png", patch(good, iend_at + 8, b"\0\0\0\0"), "IEND CRC wrong")
    c.add("png_bad_signature.png", patch(good, 1, b"Q"), "signature byte changed", "unsupported")
    c.add("png_ihdr_bad_filter_method.png", recrc(patch(good, 8 + 8 + 11, b"\x01"), b"IHDR"), "IHDR filter method 1")
    c.add("png_ihdr_bad_depth.png", recrc(patch(good, 8 + 8 + 8, b"\x03"), b"IHDR"), "IHDR bit depth 3", "unsupported")
    c.add("png_ihdr_bad_colour_type.png", recrc(patch(good, 8 + 8 + 9, b"\x05"), b"IHDR"), "IHDR colour type 5", "unsupported")
    c.add("png_ihdr_pal16.png", recrc(patch(good, 8 + 8 + 8, b"\x10\x03"), b"IHDR"), "IHDR palette with 16 bits", "unsupported")
    c.add("png_ihdr_zero_width.png", recrc(patch(good, 8 + 8, b"\0\0\0\0"), b"IHDR"), "IHDR width 0")
    c.add("png_ihdr_short.png", png(rgb8, 8, 2, ihdr=struct.pack(">IIBBBB", W, H, 8, 2, 0, 0)), "IHDR of 12 bytes")
    c.add("png_no_ihdr.png", PNG_MAGIC + good[33:], "IHDR missing")
    c.add("png_no_idat.png", PNG_MAGIC + good[8:idat_at] + chunk(b"IEND", b""), "no IDAT")
    c.add("png_text_before_ihdr.png", PNG_MAGIC + chunk(b"tEXt", b"k\0v") + good[8:], "tEXt before IHDR")
    c.add("png_chunk_type_garbage.png", good[:idat_at] + chunk(b"a b!", b"junk") + good[idat_at:], "chunk type with a space and '!' before IDAT")
    c.add("png_chunk_type_garbage_after_idat.png", good[:text_at] + chunk(b"a b!", b"junk") + good[text_at:], "chunk type with a space and '!' after IDAT")
    c.add("png_chunk_length_huge.png", good[:idat_at] + struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"k\0v" + good[idat_at:], "tEXt declaring 2 GB before IDAT", "truncated")
    c.add("png_chunk_length_huge_after_idat.png", good[:text_at] + struct.pack(">I", 0x7FFFFFF0) + good[text_at + 4 :], "tEXt declaring 2 GB after IDAT", "truncated")
    c.add("png_idat_bad_filter.png", png(rgb8, 8, 2, filters=[0, 1, 2, 3, 4, 5]), "row 6 with filter type 5")
    zdata = zlib.compress(scanlines(rgb8, 8, False, [0, 1, 2, 3, 4]), 9)
    c.add("png_idat_bad_adler.png", PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zdata[:-4] + b"\0\0\0\0") + chunk(b"IEND", b""), "zlib checksum wrong")
    c.add("png_idat_bad_adler_split.png", PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zdata[:-4]) + chunk(b"IDAT", b"\0\0\0\0") + chunk(b"IEND", b""), "zlib checksum wrong, in an IDAT of its own")
    garbled = bytearray(zdata)
    for i in range(40, 60):
        garbled[i] ^= 0x5A
    c.add("png_idat_garbled.png", PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", bytes(garbled)) + chunk(b"IEND", b""), "20 bytes of the zlib stream flipped")
    c.add("png_idat_not_zlib.png", PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", b"\x12\x34" + zdata[2:]) + chunk(b"IEND", b""), "zlib header wrong")
    c.add("png_idat_then_other_then_idat.png", PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zdata[:200]) + chunk(b"tEXt", b"k\0v") + chunk(b"IDAT", zdata[200:]) + chunk(b"IEND", b""), "IDAT interrupted by tEXt", "truncated")
    c.add("png_trns_rgb_short.png", png(rgb8, 8, 2, before=[chunk(b"tRNS", b"\0\1")]), "RGB tRNS of 2 bytes")
    c.add("png_trns_gray_short.png", png(g8, 8, 0, before=[chunk(b"tRNS", b"\0")]), "grey tRNS of 1 byte")
    c.add("png_gama_short.png", png(rgb8, 8, 2, before=[chunk(b"gAMA", b"\0\1")]), "gAMA of 2 bytes")
    c.add("png_chrm_short.png", png(rgb8, 8, 2, before=[chunk(b"cHRM", b"\0" * 16)]), "cHRM of 16 bytes")
    c.add("png_srgb_empty.png", png(rgb8, 8, 2, before=[chunk(b"sRGB", b"")]), "sRGB of 0 bytes")
    c.add("png_phys_short.png", png(rgb8, 8, 2, before=[chunk(b"pHYs", b"\0" * 8)]), "pHYs of 8 bytes")
    c.add("png_gama_short_after_idat.png", png(rgb8, 8, 2, after=[chunk(b"gAMA", b"\0\1")]), "gAMA of 2 bytes after IDAT")
    c.add("png_ztxt_bad_method.png", png(rgb8, 8, 2, before=[chunk(b"zTXt", b"Title\0\1" + zlib.compress(b"hello"))]), "zTXt compression method 1")
    c.add("png_ztxt_bad_method_after_idat.png", png(rgb8, 8, 2, after=[chunk(b"zTXt", b"Title\0\2" + zlib.compress(b"hello"))]), "zTXt compression method 2 after IDAT")
    c.add("png_iccp_bad_method.png", png(rgb8, 8, 2, before=[chunk(b"iCCP", b"icc\0\1" + zlib.compress(b"profile"))]), "iCCP compression method 1")
    big = zlib.compress(b"\0" * ((1 << 20) + 1), 9)
    c.add("png_ztxt_bomb.png", png(rgb8, 8, 2, before=[chunk(b"zTXt", b"Bomb\0\0" + big)]), "zTXt decompressing past MAX_TEXT_CHUNK (1 MiB + 1)", "tooLarge")
    c.add("png_ztxt_bomb_after_idat.png", png(rgb8, 8, 2, after=[chunk(b"zTXt", b"Bomb\0\0" + big)]), "zTXt bomb after IDAT", "tooLarge")
    c.add("png_itxt_bomb.png", png(rgb8, 8, 2, before=[chunk(b"iTXt", b"Bomb\0\1\0en\0Bomb\0" + big)]), "compressed iTXt decompressing past MAX_TEXT_CHUNK", "tooLarge")
    c.add("png_iccp_bomb.png", png(rgb8, 8, 2, before=[chunk(b"iCCP", b"icc\0\0" + big)]), "iCCP decompressing past MAX_TEXT_CHUNK", "tooLarge")
    mib = zlib.compress(b"b" * 1_000_000, 9)
    many = [chunk(b"zTXt", b"K%d\0\0" % i + mib) for i in range(68)]
    c.add("png_text_memory.png", png(rgb8, 8, 2, before=many), "68 zTXt chunks of 1,000,000 bytes each: past MAX_TEXT_MEMORY (64 MiB)", "tooLarge")

    # ---------------- JPEG: Pillow's writer
    pic = Image.fromarray(photo())
    c.add("jpeg_420.jpg", pillow(pic, "JPEG", quality=85), "baseline 4:2:0")
    c.add("jpeg_422.jpg", pillow(pic, "JPEG", quality=85, subsampling=1), "baseline 4:2:2")
    c.add("jpeg_444.jpg", pillow(pic, "JPEG", quality=95, subsampling=0), "baseline 4:4:4")
    c.add("jpeg_L.jpg", pillow(pic.convert("L"), "JPEG", quality=85), "greyscale (L)")
    c.add("jpeg_progressive.jpg", pillow(pic, "JPEG", quality=85, progressive=True), "progressive 4:2:0")
    c.add("jpeg_progressive_L.jpg", pillow(pic.convert("L"), "JPEG", quality=85, progressive=True), "progressive greyscale")
    c.add("jpeg_optimized.jpg", pillow(pic, "JPEG", quality=85, optimize=True), "optimised Huffman tables")
    c.add("jpeg_restart.jpg", pillow(Image.fromarray(photo(40, 50)), "JPEG", quality=85, restart_marker_blocks=2), "restart markers every 2 MCUs, 50x40")
    c.add("jpeg_rgb_keep.jpg", pillow(pic, "JPEG", quality=90, keep_rgb=True, subsampling=0), "RGB components (Adobe transform 0, no YCbCr)")
    c.add("jpeg_q10.jpg", pillow(pic, "JPEG", quality=10), "quality 10")
    c.add("jpeg_exif_icc.jpg", pillow(pic, "JPEG", quality=85, exif=b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0", icc_profile=b"\0" * 200, comment=b"a comment"), "EXIF, ICC and COM segments")
    c.add("jpeg_1x1.jpg", pillow(Image.fromarray(photo(1, 1)), "JPEG"), "1x1")
    c.add("jpeg_odd_33x7.jpg", pillow(Image.fromarray(photo(7, 33)), "JPEG", quality=80), "33x7 (partial MCUs)")
    cmyk_px = rng.integers(0, 256, (H, W, 4)).astype(np.uint8)
    cmyk = pillow(Image.frombytes("CMYK", (W, H), cmyk_px.tobytes()), "JPEG", quality=90)
    c.add("jpeg_cmyk.jpg", cmyk, "CMYK (Adobe marker, transform 0)")
    at, n = segment(cmyk, 0xEE)
    c.add("jpeg_cmyk_no_adobe.jpg", cmyk[:at] + cmyk[at + n :], "CMYK without the Adobe segment (PIL still reads it inverted)")
    c.add("jpeg_cmyk_progressive.jpg", pillow(Image.frombytes("CMYK", (W, H), cmyk_px.tobytes()), "JPEG", quality=90, progressive=True), "CMYK progressive")
    ycck = helper.ycck(cmyk_px)
    c.add("jpeg_ycck.jpg", ycck, "YCCK (Adobe transform 2), libjpeg")
    c.add("jpeg_arith.jpg", helper.arith(pillow(pic, "JPEG", quality=85)), "arithmetic-coded, sequential")
    c.add("jpeg_arith_progressive.jpg", helper.arith(pillow(pic, "JPEG", quality=85), progressive=True), "arithmetic-coded, progressive")
    c.add("jpeg_arith_L.jpg", helper.arith(pillow(pic.convert("L"), "JPEG", quality=85)), "arithmetic-coded greyscale")
    c.add("jpeg_arith_cmyk.jpg", helper.arith(cmyk), "arithmetic-coded CMYK")
    # PIL hands libjpeg 64 KiB at a time (ImageFile.MAXBLOCK); the arithmetic decoder cannot suspend
    # at the end of a block, the Huffman decoder resumes with the next one.
    noisy = Image.fromarray(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8))
    big = pillow(noisy, "JPEG", quality=100, subsampling=0)
    c.add("jpeg_arith_over_64k.jpg", helper.arith(big), "arithmetic-coded, 200x120 noise: the scan crosses PIL's 64 KiB read block", "unsupported")
    c.add("jpeg_huffman_over_64k.jpg", big, "Huffman-coded, 200x120 noise: the scan crosses 64 KiB read blocks")
    c.add("jpeg_progressive_over_64k.jpg", helper.arith(big, huffman=True), "progressive (libjpeg), 200x120 noise: the scans cross 64 KiB read blocks")
    small = helper.arith(pillow(pic, "JPEG", quality=85))
    c.add("jpeg_arith_big_comment.jpg", small[:2] + b"\xff\xfe\xff\xf0" + b"c" * 0xFFEE + small[2:], "arithmetic-coded after a 64 KiB comment: the header crosses the block, the scan does not")

    # ---------------- JPEG: broken variants
    base = pillow(pic, "JPEG", quality=85)
    start, eoi = scan_range(base)
    sof_at, _ = segment(base, 0xC0)
    dht_at, _ = segment(base, 0xC4)
    sos_at, _ = segment(base, 0xDA)
    c.add("jpeg_extraneous_before_sof.jpg", base[:sof_at] + b"\x00\x01\x02" + base[sof_at:], "3 extraneous bytes before SOF (libjpeg warns)")
    c.add("jpeg_extraneous_before_dht.jpg", base[:dht_at] + b"\x42" * 7 + base[dht_at:], "7 extraneous bytes before DHT")
    c.add("jpeg_extraneous_before_sos.jpg", base[:sos_at] + b"\x00" + base[sos_at:], "1 extraneous byte before SOS")
    c.add("jpeg_extraneous_before_eoi.jpg", base[:eoi] + b"\x00\x11\x22\x33" + base[eoi:], "4 extraneous bytes between the scan and EOI")
    c.add("jpeg_fill_bytes_before_sof.jpg", base[:sof_at] + b"\xff\xff\xff" + base[sof_at:], "0xFF fill bytes before SOF (no warning)")
    for frac in (0.3, 0.7, 0.98):
        cut = start + int((eoi - start) * frac)
        c.add(f"jpeg_cut_scan_{int(frac * 100)}.jpg", base[:cut], f"cut at {int(frac * 100)}% of the scan data (Premature end of JPEG file)", "truncated")
        c.add(f"jpeg_cut_scan_{int(frac * 100)}_eoi.jpg", base[:cut] + b"\xff\xd9", f"cut at {int(frac * 100)}% of the scan, EOI appended (premature end of data segment)", "truncated")
    c.add("jpeg_no_eoi.jpg", base[:-2], "EOI missing", "truncated")
    c.add("jpeg_half_eoi.jpg", base[:-1], "last byte (0xD9) missing", "truncated")
    c.add("jpeg_after_eoi.jpg", base + b"garbage after the end", "bytes after EOI")
    c.add("jpeg_cut_header.jpg", base[: sof_at + 5], "cut inside SOF", "truncated")
    c.add("jpeg_cut_before_sos.jpg", base[:sos_at], "cut before SOS", "truncated")
    c.add("jpeg_soi_only.jpg", base[:3], "SOI and one 0xFF", "truncated")
    c.add("jpeg_no_sos.jpg", base[:sos_at] + b"\xff\xd9", "tables and EOI, no scan")
    c.add("jpeg_sof_12bit.jpg", patch(base, sof_at + 4, b"\x0c"), "SOF declaring 12-bit samples", "unsupported")
    c.add("jpeg_sof_2_components.jpg", patch(base, sof_at + 9, b"\x02"), "SOF declaring 2 components", "unsupported")
    c.add("jpeg_sof_zero_height.jpg", patch(base, sof_at + 5, b"\0\0"), "SOF declaring height 0 (DNL)")
    c.add("jpeg_sof_bigger.jpg", patch(base, sof_at + 5, b"\0\x20"), "SOF declaring 32 rows, scan for 13")
    c.add("jpeg_bad_marker_ff01.jpg", base[:sof_at] + b"\xff\x01" + base[sof_at:], "TEM marker (0xFF01) before SOF")
    c.add("jpeg_bad_marker_ff02.jpg", base[:sof_at] + b"\xff\x02\x00\x04ab" + base[sof_at:], "reserved marker 0xFF02 before SOF")
    c.add("jpeg_dqt_short.jpg", patch(base, segment(base, 0xDB)[0] + 2, b"\x00\x20"), "DQT segment of 30 bytes")
    c.add("jpeg_dht_removed.jpg", base[:dht_at] + base[sos_at:], "Huffman tables removed (libjpeg-turbo uses the standard tables)")
    g = bytearray(base)
    for i in range(start + 40, start + 60):
        g[i] ^= 0x5A
    app0_at, app0_n = segment(base, 0xE0)
    c.add("jpeg_jfif_short.jpg", base[:app0_at] + b"\xff\xe0\x00\x07JFIF\x00" + base[app0_at + app0_n :], "JFIF segment of 5 bytes (PIL reads its version past the end)")
    c.add("jpeg_adobe_short.jpg", base[:app0_at] + b"\xff\xee\x00\x08Adobe\x00" + base[app0_at:], "Adobe segment of 6 bytes")
    c.add("jpeg_app_length_1.jpg", base[:app0_at] + b"\xff\xe5\x00\x01" + base[app0_at:], "APP5 declaring length 1")
    c.add("jpeg_sof_partial_component.jpg", base[:sof_at] + b"\xff\xc0\x00\x12" + base[sof_at + 4 : sof_at + 19] + b"\x00" + base[sof_at + 19 :], "SOF one byte longer than its components (PIL: IndexError)")
    c.add("jpeg_garbled_scan.jpg", bytes(g), "20 bytes of the scan flipped (bad Huffman codes)")
    rst = pillow(Image.fromarray(photo(40, 50)), "JPEG", quality=85, restart_marker_blocks=2)
    i = rst.index(b"\xff\xd3", scan_range(rst)[0])
    c.add("jpeg_restart_wrong.jpg", patch(rst, i + 1, b"\xd5"), "a restart marker out of sequence")
    prog = pillow(pic, "JPEG", quality=85, progressive=True)
    sos2 = [m for m in range(len(prog) - 1) if prog[m] == 0xFF and prog[m + 1] == 0xDA]
    c.add("jpeg_progressive_cut.jpg", prog[: sos2[3] + 20], "progressive, cut in the 4th scan", "truncated")
    c.add("jpeg_progressive_cut_eoi.jpg", prog[: sos2[3]] + b"\xff\xd9", "progressive, first 3 scans then EOI")
    for (w, h, sub) in ((64, 48, 2), (64, 48, 0), (200, 40, 2)):
        big = pillow(Image.fromarray(photo(h, w)), "JPEG", quality=85, progressive=True, subsampling=sub)
        scans = [m for m in range(len(big) - 1) if big[m] == 0xFF and big[m + 1] == 0xDA]
        c.add(f"jpeg_progressive_cut_eoi_{w}x{h}_{['444', '422', '420'][sub]}.jpg", big[: scans[3]] + b"\xff\xd9", f"progressive {w}x{h}, first 3 scans then EOI (block smoothing)")
    c.add("jpeg_progressive_no_eoi.jpg", prog[:-2], "progressive, EOI missing", "truncated")
    arith = helper.arith(base)
    a0, a1 = scan_range(arith)
    c.add("jpeg_arith_cut.jpg", arith[: a0 + (a1 - a0) // 2], "arithmetic-coded, cut in the scan", "truncated")
    c.add("jpeg_arith_cut_eoi.jpg", arith[: a0 + (a1 - a0) // 2] + b"\xff\xd9", "arithmetic-coded, cut, EOI appended")
    c.add("jpeg_cmyk_cut.jpg", cmyk[: scan_range(cmyk)[0] + 100], "CMYK cut in the scan", "truncated")


def apng_fdat_split(frame, fctl, actl) -> bytes:
    z = zlib.compress(scanlines(frame, 8, False, [0, 1, 2, 3, 4]), 9)
    out = PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + actl(1) + fctl(0)
    out += chunk(b"IDAT", z[:150]) + chunk(b"fdAT", struct.pack(">I", 1) + z[150:])
    return out + chunk(b"IEND", b"")


def text_info():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "plain")
    info.add_text("Description", "compressed " * 20, zip=True)
    info.add_itxt("Author", "nämé", lang="de", tkey="Autor")
    info.add_itxt("Comment", "ñ" * 50, zip=True)
    return info


# --------------------------------------------------------------------------------------------------
# PIL's verdict


def pil_verdict(path: Path) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with Image.open(path) as im:
                mode = im.mode
                rgb = im.convert("RGB")
                pixels = rgb.tobytes()
        except Exception as e:  # noqa: BLE001 - every refusal counts, whatever PIL raises
            return {"accepted": False, "error": f"{type(e).__name__}: {e}".replace(str(path), path.name)[:300], "mode": None}, None
    verdict = {"accepted": True, "mode": mode, "width": rgb.width, "height": rgb.height, "sha256": hashlib.sha256(pixels).hexdigest()}
    if caught:
        verdict["warnings"] = sorted({str(w.message)[:200] for w in caught})
    return verdict, pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare the files on disk with PIL, write nothing")
    args = parser.parse_args()
    manifest_path = OUT / "manifest.json"
    if args.check:
        manifest = json.loads(manifest_path.read_text())
        bad = 0
        for e in manifest["files"]:
            v, _ = pil_verdict(OUT / e["file"])
            same = v["accepted"] == e["pil"]["accepted"] and v.get("sha256") == e["pil"].get("sha256")
            if not same:
                bad += 1
                print(f"{e['file']}: manifest {e['pil']} but PIL now {v}")
        print(f"{len(manifest['files']) - bad}/{len(manifest['files'])} files as recorded (Pillow {PIL.__version__})")
        sys.exit(1 if bad else 0)

    corpus = Corpus()
    with tempfile.TemporaryDirectory() as tmp:
        build(corpus, JpegHelper(Path(tmp)))
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "ref").mkdir(parents=True)
    files = []
    for name in sorted(corpus.files):
        data, kind, featx_kind = corpus.files[name]
        (OUT / name).write_bytes(data)
        verdict, pixels = pil_verdict(OUT / name)
        entry = {"file": name, "format": "JPEG" if name.endswith(".jpg") else "PNG", "kind": kind, "bytes": len(data), "pil": verdict}
        if verdict["accepted"]:
            entry["reference"] = f"ref/{name}.rgb"
            (OUT / entry["reference"]).write_bytes(pixels)
        else:
            entry["featx_kind"] = featx_kind
        files.append(entry)
    manifest = {
        "description": "PIL's decision on Image.open(file).convert('RGB') for every file here; see tools/make_decoder_corpus.py",
        "conventions": {
            "pil.accepted": "true: PIL decodes it; sha256 is that of the RGB bytes (row-major, 3 bytes a pixel), width/height PIL's",
            "pil.error": "the exception PIL raised (any exception is a refusal)",
            "featx_kind": "for files PIL refuses: the ImageError kind featx refuses them with",
            "reference": "for files PIL accepts: PIL's RGB bytes, raw (to name the first differing pixel)",
        },
        "versions": {"Pillow": PIL.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "files": files,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    accepted = sum(e["pil"]["accepted"] for e in files)
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{len(files)} files ({accepted} accepted by PIL, {len(files) - accepted} refused), {total / 1024:.0f} KiB, Pillow {PIL.__version__}")


if __name__ == "__main__":
    main()
