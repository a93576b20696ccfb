// JPEG decoding that accepts, refuses and decodes what PIL 13's `Image.open(p).convert("RGB")` does.
// PIL first walks the markers in Python (JpegImagePlugin._open: it refuses what it cannot handle, such
// as 12-bit samples or 2 components, before libjpeg sees the file), then libjpeg decodes with the
// default ISLOW IDCT and fancy upsampling into rawmode L, RGB or CMYK;I (always inverted CMYK: PIL
// assumes Adobe's convention whether or not the file has an Adobe segment), and convert("RGB") repeats
// grey and applies cmyk2rgb. libjpeg runs through the shim in CJPEG, which ignores warnings and
// suspends where PIL's reader does (see there).

import CJPEG

enum JPEGDecoder {
  enum Mode { case l, rgb, cmyk }

  /// What PIL's marker walk found.
  struct Header {
    var mode: Mode?
    var width = 0
    var height = 0
    var scan = false
    var sawEOI = false
  }

  /// JpegImagePlugin's `_open`: the segments up to the first SOS, with the checks its handlers make.
  static func walk(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
    func fail(_ kind: ImageError.Kind, _ detail: String) -> ImageError { ImageError(path: path, kind: kind, detail: detail) }
    var header = Header()
    var pos = 3
    /// `n = i16(fp.read(2)) - 2; _safe_read(fp, n)`: a segment's data.
    func segment(_ name: String) throws -> Range<Int> {
      guard bytes.count - pos >= 2 else { throw fail(.truncated, "the file ends inside the length of a \(name) segment") }
      let n = (Int(bytes[pos]) << 8 | Int(bytes[pos + 1])) - 2
      pos += 2
      guard n > 0 else { return pos..<pos }
      guard n <= bytes.count - pos else {
        throw fail(.truncated, "the file ends inside a \(name) segment (\(n) bytes declared, \(bytes.count - pos) left)")
      }
      defer { pos += n }
      return pos..<(pos + n)
    }
    var s: [UInt8] = [0xff]
    func read1() -> [UInt8] {
      guard pos < bytes.count else { return [] }
      defer { pos += 1 }
      return [bytes[pos]]
    }
    while !s.isEmpty {
      guard s[0] == 0xff else {
        s = read1()
        continue
      }
      s += read1()
      if s.count < 2 { break }
      let marker = Int(s[0]) << 8 | Int(s[1])
      switch marker {
      case 0xffc0...0xfffe:
        let name = String(format: "0x%04X", marker)
        switch marker {
        case 0xffc0...0xffc3, 0xffc5...0xffc7, 0xffc9...0xffcb, 0xffcd...0xffcf, 0xffde:  // SOF (and DHP)
          let d = try segment("SOF")
          guard d.count >= 5 else { throw fail(.corrupt, "frame header (SOF) of \(d.count) bytes") }
          header.width = Int(bytes[d.lowerBound + 3]) << 8 | Int(bytes[d.lowerBound + 4])
          header.height = Int(bytes[d.lowerBound + 1]) << 8 | Int(bytes[d.lowerBound + 2])
          let precision = bytes[d.lowerBound]
          guard precision == 8 else { throw fail(.unsupported, "\(precision)-bit JPEG samples (PIL reads 8-bit JPEGs only)") }
          guard d.count >= 6 else { throw fail(.corrupt, "frame header (SOF) of \(d.count) bytes") }
          switch bytes[d.lowerBound + 5] {
          case 1: header.mode = .l
          case 3: header.mode = .rgb
          case 4: header.mode = .cmyk
          case let n: throw fail(.unsupported, "JPEG with \(n) components (PIL reads 1, 3 or 4)")
          }
          guard (d.count - 6) % 3 == 0 else {
            throw fail(.corrupt, "frame header (SOF) of \(d.count) bytes ends inside a component")
          }
        case 0xffdb:  // DQT
          var d = try segment("DQT")
          while !d.isEmpty {
            let length = 1 + (bytes[d.lowerBound] >> 4 == 0 ? 1 : 2) * 64
            guard d.count >= length else { throw fail(.corrupt, "bad quantization table (DQT) segment") }
            d = (d.lowerBound + length)..<d.upperBound
          }
        case 0xffe0...0xffef:  // APPn: PIL reads the JFIF version and the Adobe version
          let d = try segment("APP\(marker & 15)")
          func starts(_ prefix: String) -> Bool {
            let p = Array(prefix.utf8)
            return d.count >= p.count && (0..<p.count).allSatisfy { bytes[d.lowerBound + $0] == p[$0] }
          }
          if (marker == 0xffe0 && starts("JFIF")) || (marker == 0xffee && starts("Adobe")), d.count < 7 {
            throw fail(.corrupt, "\(marker == 0xffe0 ? "JFIF" : "Adobe") segment of \(d.count) bytes")
          }
        case 0xffc4, 0xffcc, 0xffda, 0xffdc, 0xffdd, 0xffdf, 0xfffe:  // DHT DAC SOS DNL DRI EXP COM
          _ = try segment(name)
        default:  // RSTn, SOI, EOI, JPG, JPGn: no segment
          if marker == 0xffd9 { header.sawEOI = true }
        }
        if marker == 0xffda {
          header.scan = true
          return header
        }
        s = read1()
      case 0xffff:
        s = [0xff]
      case 0xff00:
        s = read1()
      default:
        throw fail(.corrupt, String(format: "0x%04X at byte %d is not a JPEG marker (PIL: no marker found)", marker, pos - 2))
      }
    }
    return header
  }

  static func decode(
    _ bytes: UnsafeRawBufferPointer, path: String, handle: UnsafeMutablePointer<featx_jpeg>?,
    checkSize: (Int, Int) throws -> Void,
    draftTo target: ((Int, Int) -> (width: Int, height: Int)?)? = nil
  ) throws -> RGBImage {
    func fail(_ kind: ImageError.Kind, _ detail: String) -> ImageError { ImageError(path: path, kind: kind, detail: detail) }
    let header = try walk(bytes, path: path)
    guard let mode = header.mode else {
      throw header.sawEOI
        ? fail(.corrupt, "no frame header (SOF) before EOI") : fail(.truncated, "the file ends before the frame header (SOF)")
    }
    try checkSize(header.width, header.height)
    guard header.scan else {
      throw header.sawEOI
        ? fail(.corrupt, "no scan (SOS) before EOI") : fail(.truncated, "the file ends before the first scan (SOS)")
    }
    guard let jpeg = handle else { throw fail(.unreadable, "libjpeg could not be initialised") }
    let channels = mode == .l ? 1 : mode == .rgb ? 3 : 4
    let outSpace = mode == .l ? featx_jcs_grayscale() : mode == .rgb ? featx_jcs_rgb() : featx_jcs_cmyk()
    // Image.draft("RGB", size): the largest of 8, 4, 2, 1 that min(W // width, H // height) reaches.
    var scale = 1
    if let target, let size = target(header.width, header.height), size.width > 0, size.height > 0 {
      let ratio = min(header.width / size.width, header.height / size.height)
      scale = [8, 4, 2, 1].first { ratio >= $0 } ?? 1
    }
    let (w, h) = ((header.width + scale - 1) / scale, (header.height + scale - 1) / scale)
    var raw = [UInt8](repeating: 0, count: w * h * channels)
    let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    let status = raw.withUnsafeMutableBufferPointer {
      featx_jpeg_decode(jpeg, source, bytes.count, outSpace, Int32(scale), $0.baseAddress, w * channels, Int32(h))
    }
    switch status {
    case 0: break
    case 1: throw fail(.truncated, "the file ends before the last scanline (Premature end of JPEG file)")
    case -1 where featx_jpeg_cant_suspend(jpeg) != 0 && featx_jpeg_ran_out(jpeg) == 0:
      throw fail(
        .unsupported,
        "arithmetic-coded scan longer than PIL's 64 KiB read block (libjpeg cannot suspend inside it, PIL refuses it)")
    case -1 where featx_jpeg_ran_out(jpeg) != 0:
      throw fail(.truncated, "the file ends inside the arithmetic-coded scan (\(String(cString: featx_jpeg_message(jpeg))))")
    default: throw fail(.corrupt, String(cString: featx_jpeg_message(jpeg)))
    }
    switch mode {
    case .rgb: return RGBImage(width: w, height: h, pixels: raw)
    case .l:
      var rgb = [UInt8](repeating: 0, count: w * h * 3)
      for p in 0..<(w * h) { (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = (raw[p], raw[p], raw[p]) }
      return RGBImage(width: w, height: h, pixels: rgb)
    case .cmyk:
      return RGBImage(width: w, height: h, pixels: cmykToRGB(raw, inverted: true))
    }
  }

  /// PIL's CMYK → RGB (`cmyk2rgb` in Convert.c), after the `CMYK;I` unpacker's inversion when `inverted`.
  static func cmykToRGB(_ raw: [UInt8], inverted: Bool) -> [UInt8] {
    let pixels = raw.count / 4
    var rgb = [UInt8](repeating: 0, count: pixels * 3)
    @inline(__always) func muldiv255(_ a: Int, _ b: Int) -> Int {
      let t = a * b + 128
      return ((t >> 8) + t) >> 8
    }
    for p in 0..<pixels {
      var v = (Int(raw[4 * p]), Int(raw[4 * p + 1]), Int(raw[4 * p + 2]), Int(raw[4 * p + 3]))
      if inverted { v = (255 - v.0, 255 - v.1, 255 - v.2, 255 - v.3) }
      let nk = 255 - v.3
      rgb[3 * p] = UInt8(clamping: nk - muldiv255(v.0, nk))
      rgb[3 * p + 1] = UInt8(clamping: nk - muldiv255(v.1, nk))
      rgb[3 * p + 2] = UInt8(clamping: nk - muldiv255(v.2, nk))
    }
    return rgb
  }
}
