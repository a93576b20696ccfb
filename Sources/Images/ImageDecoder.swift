// Decoding JPEG and PNG to 8-bit RGB exactly as PIL's `Image.open(path).convert('RGB')` does, and
// refusing what PIL refuses: JPEGDecoder.swift follows JpegImagePlugin.py and JpegDecode.c over libjpeg,
// PNGDecoder.swift ports PngImagePlugin.py and ZipDecode.c over zlib. The header is read first, so an
// image that declares more pixels than allowed is refused before any pixel memory is allocated. The
// corpus in Tests/Fixtures/images/corpus (tools/make_decoder_corpus.py) holds every mode and many broken
// files with PIL's decision on each.

import CJPEG
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

/// Decodes images. Holds a libjpeg decompressor, so use one decoder per thread.
public final class ImageDecoder {
  /// PIL's `Image.MAX_IMAGE_PIXELS` (89,478,485): larger images are refused as decompression bombs.
  public static let defaultMaxPixels = 89_478_485

  /// Largest accepted width × height.
  public let maxPixels: Int
  private let jpeg: UnsafeMutablePointer<featx_jpeg>?

  public init(maxPixels: Int = ImageDecoder.defaultMaxPixels) {
    self.maxPixels = maxPixels
    jpeg = featx_jpeg_new()
  }

  deinit { featx_jpeg_free(jpeg) }

  /// Reads and decodes the file at `path`.
  ///
  /// - Parameter draftTo: for JPEGs, PIL's `Image.draft("RGB", size)` with the size this returns for the
  ///   image's width and height: libjpeg decodes at 1/2, 1/4 or 1/8 scale when the result stays at least
  ///   that size. PNGs ignore it.
  public func decode(path: String, draftTo: ((Int, Int) -> (width: Int, height: Int)?)? = nil) throws -> RGBImage {
    let bytes: [UInt8]
    do { bytes = try readFile(path, limit: 1 << 30) } catch let error as FileError {
      throw ImageError(path: path, kind: .unreadable, detail: error.reason)
    }
    return try bytes.withUnsafeBytes { try decode($0, path: path, draftTo: draftTo) }
  }

  /// Decodes an image held in memory; `path` names it in errors.
  public func decode(
    _ bytes: UnsafeRawBufferPointer, path: String, draftTo: ((Int, Int) -> (width: Int, height: Int)?)? = nil
  ) throws -> RGBImage {
    guard !bytes.isEmpty else { throw ImageError(path: path, kind: .empty, detail: "") }
    let check = { (width: Int, height: Int) throws in try self.checkSize(width, height, path) }
    // The signatures PIL's plugins accept (`_accept`).
    if bytes.count >= 3, bytes[0] == 0xff, bytes[1] == 0xd8, bytes[2] == 0xff {
      return try JPEGDecoder.decode(bytes, path: path, handle: jpeg, checkSize: check, draftTo: draftTo)
    }
    if bytes.count >= 8, bytes.prefix(8).elementsEqual(PNGDecoder.magic) {
      return try PNGDecoder.decode(bytes, path: path, checkSize: check)
    }
    throw ImageError(path: path, kind: .unsupported, detail: "not a JPEG or PNG file")
  }

  /// The decompression bomb guard, called with the header's size before any pixel memory is allocated.
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
}
