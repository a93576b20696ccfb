// Decoding JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng's simplified API) to 8-bit RGB, equal to
// what PIL's `Image.open(path).convert('RGB')` gives: libjpeg's default ISLOW IDCT and fancy upsampling,
// grayscale repeated to three channels, CMYK converted with PIL's formula, alpha dropped (never
// composited), 16-bit samples reduced the way PIL does. The header is read first, so an image that
// declares more pixels than allowed is refused before any pixel memory is allocated.

import CPNG
import CTurboJPEG
import Support

/// Why an image could not be read. Extraction records the text and skips the image.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Kind: String, Sendable {
    case unreadable, empty, corrupt, truncated, unsupported, tooLarge, tooSmall
  }
  public var path: String
  public var kind: Kind
  public var detail: String

  public init(path: String, kind: Kind, detail: String) {
    self.path = path
    self.kind = kind
    self.detail = detail
  }

  /// One line, without the path (the store lists paths and reasons separately).
  public var reason: String {
    switch kind {
    case .unreadable: "unreadable: \(detail)"
    case .empty: "empty file (0 bytes)"
    case .corrupt: "corrupt image: \(detail)"
    case .truncated: "truncated image: \(detail)"
    case .unsupported: "unsupported format: \(detail)"
    case .tooLarge: "too large: \(detail)"
    case .tooSmall: "too small: \(detail)"
    }
  }

  public var description: String { "\(path): \(reason)" }
}

/// Decodes images. Holds a TurboJPEG handle, so use one decoder per thread.
public final class ImageDecoder {
  /// PIL's `Image.MAX_IMAGE_PIXELS` (89,478,485): larger images are refused as decompression bombs.
  public static let defaultMaxPixels = 89_478_485

  /// Largest accepted width × height.
  public let maxPixels: Int
  private let jpeg: tjhandle?

  public init(maxPixels: Int = ImageDecoder.defaultMaxPixels) {
    self.maxPixels = maxPixels
    jpeg = tjInitDecompress()
  }

  deinit { if let jpeg { tjDestroy(jpeg) } }

  /// Reads and decodes the file at `path`.
  public func decode(path: String) throws -> RGBImage {
    let bytes: [UInt8]
    do { bytes = try readFile(path, limit: 1 << 30) } catch let error as FileError {
      throw ImageError(path: path, kind: .unreadable, detail: error.reason)
    }
    return try bytes.withUnsafeBytes { try decode($0, path: path) }
  }

  /// Decodes an image held in memory; `path` names it in errors.
  public func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
    guard !bytes.isEmpty else { throw ImageError(path: path, kind: .empty, detail: "") }
    if bytes.count >= 3, bytes[0] == 0xff, bytes[1] == 0xd8, bytes[2] == 0xff { return try decodeJPEG(bytes, path: path) }
    if bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] {
      return try decodePNG(bytes, path: path)
    }
    throw ImageError(path: path, kind: .unsupported, detail: "not a JPEG or PNG file")
  }

  private func checkSize(_ width: Int, _ height: Int, _ path: String) throws {
    guard width > 0, height > 0 else {
      throw ImageError(path: path, kind: .corrupt, detail: "header declares \(width)x\(height) pixels")
    }
    guard width <= maxPixels / height else {
      throw ImageError(
        path: path, kind: .tooLarge,
        detail:
          "\(width)x\(height) pixels exceed the limit of \(maxPixels) (decompression bomb guard)")
    }
  }

  // MARK: - JPEG

  private func jpegError(_ path: String, _ kind: ImageError.Kind) -> ImageError {
    let message = jpeg.flatMap { tjGetErrorStr2($0) }.map { String(cString: $0) } ?? "unknown error"
    return ImageError(path: path, kind: kind, detail: message)
  }

  private func decodeJPEG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
    guard let jpeg else { throw ImageError(path: path, kind: .unreadable, detail: "TurboJPEG could not be initialised") }
    let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    var (width, height, subsampling, colorspace): (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
    guard tjDecompressHeader3(jpeg, source, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
      throw jpegError(path, .corrupt)
    }
    try checkSize(Int(width), Int(height), path)
    let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
    let channels = cmyk ? 4 : 3
    let format = cmyk ? TJPF_CMYK : TJPF_RGB
    var raw = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
    let status = raw.withUnsafeMutableBufferPointer {
      tjDecompress2(jpeg, source, UInt(bytes.count), $0.baseAddress, width, 0, height, Int32(format.rawValue), 0)
    }
    if status != 0 {
      // libjpeg warnings (e.g. extraneous bytes) leave a complete image, as PIL accepts; a premature end
      // of data is PIL's "image file is truncated".
      let warning = tjGetErrorCode(jpeg) == Int32(TJERR_WARNING.rawValue)
      let error = jpegError(path, .corrupt)
      if !warning { throw error }
      if error.detail.contains("Premature end") { throw ImageError(path: path, kind: .truncated, detail: error.detail) }
    }
    guard cmyk else { return RGBImage(width: Int(width), height: Int(height), pixels: raw) }
    return RGBImage(
      width: Int(width), height: Int(height), pixels: ImageDecoder.cmykToRGB(raw, inverted: JPEGMarkers.hasAdobe(bytes)))
  }

  /// PIL's CMYK → RGB (`cmyk2rgb` in Convert.c). Adobe CMYK JPEGs store inverted values, which PIL reads
  /// with rawmode `CMYK;I`.
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

  // MARK: - PNG

  private func decodePNG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    func failure(_ kind: ImageError.Kind) -> ImageError {
      let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      png_image_free(&image)
      return ImageError(path: path, kind: kind, detail: message.isEmpty ? "libpng error" : message)
    }
    guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else { throw failure(.corrupt) }
    let (width, height) = (Int(image.width), Int(image.height))
    do { try checkSize(width, height, path) } catch {
      png_image_free(&image)
      throw error
    }
    let fileFormat = image.format
    let sixteenBit = fileFormat & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
    let color = fileFormat & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
    let alpha = fileFormat & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
    if !sixteenBit {
      // 8-bit and palette images: read RGBA so that libpng never composites alpha, then drop it.
      image.format = featx_png_format_rgba()
      var rgba = [UInt8](repeating: 0, count: width * height * 4)
      guard rgba.withUnsafeMutableBytes({ png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }) != 0 else {
        throw failure(.corrupt)
      }
      png_image_free(&image)
      var rgb = [UInt8](repeating: 0, count: width * height * 3)
      for p in 0..<(width * height) {
        rgb[3 * p] = rgba[4 * p]
        rgb[3 * p + 1] = rgba[4 * p + 1]
        rgb[3 * p + 2] = rgba[4 * p + 2]
      }
      return RGBImage(width: width, height: height, pixels: rgb)
    }
    // 16-bit images: libpng treats 16-bit data as linear, so reading a linear format returns the raw
    // samples. PIL keeps the high byte of 16-bit colour ("RGB;16B"), and clips 16-bit gray ("I;16") to 255.
    let channels = (color ? 3 : 1) + (alpha ? 1 : 0)
    image.format = fileFormat & (UInt32(PNG_FORMAT_FLAG_COLOR) | UInt32(PNG_FORMAT_FLAG_ALPHA) | UInt32(PNG_FORMAT_FLAG_LINEAR))
    var samples = [UInt16](repeating: 0, count: width * height * channels)
    guard samples.withUnsafeMutableBytes({ png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }) != 0 else {
      throw failure(.corrupt)
    }
    png_image_free(&image)
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    for p in 0..<(width * height) {
      let s = p * channels
      if color {
        for c in 0..<3 { rgb[3 * p + c] = UInt8(samples[s + c] >> 8) }
      } else {
        let v = alpha ? UInt8(samples[s] >> 8) : UInt8(min(samples[s], 255))
        (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = (v, v, v)
      }
    }
    return RGBImage(width: width, height: height, pixels: rgb)
  }
}

/// Scans JPEG markers before the image data (only what PIL's decoding depends on).
enum JPEGMarkers {
  /// True if the file has an APP14 "Adobe" segment (PIL then reads CMYK as inverted).
  static func hasAdobe(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 2
    while i + 4 <= bytes.count {
      guard bytes[i] == 0xff else { return false }
      let marker = bytes[i + 1]
      if marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 || marker == 0xff {
        i += marker == 0xff ? 1 : 2
        continue
      }
      if marker == 0xda || marker == 0xd9 { return false }  // start of scan / end of image
      let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
      if marker == 0xee, length >= 7, i + 9 <= bytes.count,
        Array(bytes[(i + 4)..<(i + 9)]) == Array("Adobe".utf8)
      {
        return true
      }
      i += 2 + length
    }
    return false
  }
}
