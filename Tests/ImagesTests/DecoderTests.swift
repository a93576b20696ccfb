import Images
import Foundation
import Testing
import TestSupport

/// featx's decoder against PIL's `Image.open(p).convert('RGB')` on every special image (grayscale, CMYK,
/// progressive, palette, 16-bit, alpha), and the refusals that protect it.
@Suite struct DecoderTests {
  struct Manifest: Decodable {
    struct Source: Decodable {
      var source: String
      var kind: String
      var decoded: String?
    }
    var sources: [Source]
  }

  static let manifest = FixtureManifest(json: TestPaths.fixture("images/manifest.json"), as: Manifest.self)

  static func decodedSources(_ manifest: Manifest) -> [String] { manifest.sources.filter { $0.decoded != nil }.map(\.source) }

  static let sources: [String] = manifest.value.map(decodedSources) ?? []

  /// `decodesLikePIL` gets its cases from the manifest: an unreadable, undecodable or empty one would run
  /// none, so it fails here.
  @Test func manifestDecodesAndListsDecodedSources() throws {
    let manifest = try Self.manifest.require(listing: Self.decodedSources)
    #expect(Self.decodedSources(manifest).count == 13)
  }

  @Test(arguments: sources)
  func decodesLikePIL(source: String) throws {
    let data = try Data(contentsOf: TestPaths.fixture("images/manifest.json"))
    let entry = try #require(try JSONDecoder().decode(Manifest.self, from: data).sources.first { $0.source == source })
    let reference = try ImageDecoder().decode(path: TestPaths.repository.appendingPathComponent(entry.decoded!).path)
    let image = try ImageDecoder().decode(path: TestPaths.repository.appendingPathComponent(source).path)
    #expect(image.width == reference.width && image.height == reference.height)
    let differing = zip(image.pixels, reference.pixels).filter { $0 != $1 }.count
    #expect(differing == 0, "\(entry.kind): \(differing) bytes differ from PIL")
  }

  /// The real 80x60 JPEG fixture with its SOF0 frame header declaring `width` x `height` instead: a valid
  /// header (every table present, libjpeg reads it) in front of scan data for 80x60 pixels.
  static func jpegDeclaring(width: Int, height: Int) throws -> [UInt8] {
    var bytes = [UInt8](try Data(contentsOf: TestPaths.fixture("images/src/jpeg_420.jpg")))
    var i = 2
    while i + 9 <= bytes.count, bytes[i] == 0xff, bytes[i + 1] != 0xc0 {
      i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
    }
    try #require(i + 9 <= bytes.count && bytes[i + 1] == 0xc0, "no SOF0 in jpeg_420.jpg")
    bytes[(i + 5)..<(i + 9)] = [UInt8(height >> 8), UInt8(height & 0xff), UInt8(width >> 8), UInt8(width & 0xff)]
    return bytes
  }

  /// The peak resident memory of this process so far, in bytes.
  static func peakMemory() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
  }

  /// An image that declares more pixels than the limit is refused as `.tooLarge` from its header, naming
  /// its size, before its pixels are allocated: the 65500x65500 JPEG (the largest libjpeg reads) would need
  /// 12.9 GB, the 100000x100000 PNG 40 GB (read as RGBA), and the peak memory of the process does not move.
  @Test func refusesDecompressionBombsBeforeAllocating() throws {
    let before = Self.peakMemory()
    let bombs: [(String, [UInt8], String)] = [
      ("bomb.jpg", try Self.jpegDeclaring(width: 65500, height: 65500), "65500x65500 pixels exceed the limit of 89478485"),
      (
        "bomb.png", TestPNG.encode(width: 100_000, height: 100_000, rows: 1),
        "100000x100000 pixels exceed the limit of 89478485"
      ),
    ]
    for (name, bytes, detail) in bombs {
      let error = #expect(throws: ImageError.self) { try bytes.withUnsafeBytes { try ImageDecoder().decode($0, path: name) } }
      #expect(error?.kind == .tooLarge, "\(name): \(String(describing: error))")
      #expect(error?.path == name)
      #expect(error?.detail.hasPrefix(detail) == true, "\(name): \(String(describing: error))")
    }
    let grown = Self.peakMemory() - before
    #expect(grown < 1 << 30, "peak memory grew by \(grown) bytes while refusing the bombs")
  }

  /// What decoding gives, in a few words (never the pixels: failure messages stay short).
  static func outcome(_ bytes: [UInt8], maxPixels: Int, path: String) -> String {
    do {
      let image = try bytes.withUnsafeBytes { try ImageDecoder(maxPixels: maxPixels).decode($0, path: path) }
      return "decoded \(image.width)x\(image.height)"
    } catch let error as ImageError {
      return "\(error.kind): \(error.detail)"
    } catch {
      return "\(error)"
    }
  }

  /// The limit is exactly width x height <= maxPixels, for both formats: one pixel over is `.tooLarge`;
  /// at the limit the same header passes the guard and decoding goes on to the pixel data, which shows
  /// the headers are valid and the refusals above are the guard's, not parse failures. The PNG's zlib
  /// stream holds one row and ends on a row boundary, which PIL reads as the image with every other row
  /// black (ZipDecode.c stops at the end of the stream), so it decodes.
  @Test func thePixelLimitIsExact() throws {
    let jpeg = try Self.jpegDeclaring(width: 4000, height: 3000)
    let png = TestPNG.encode(width: 4000, height: 3000, rows: 1)
    for (name, bytes) in [("big.jpg", jpeg), ("big.png", png)] {
      let over = Self.outcome(bytes, maxPixels: 12_000_000 - 1, path: name)
      #expect(over.hasPrefix("tooLarge: 4000x3000 pixels exceed the limit of 11999999"), "\(name): \(over)")
      let at = Self.outcome(bytes, maxPixels: 12_000_000, path: name)
      #expect(!at.hasPrefix("tooLarge"), "\(name): \(at)")
    }
    #expect(Self.outcome(png, maxPixels: 12_000_000, path: "big.png") == "decoded 4000x3000")
    // Complete images: decoded at the limit, refused one pixel under it.
    let small = TestPNG.encode(width: 64, height: 48, rows: 48)
    let image = try small.withUnsafeBytes { try ImageDecoder(maxPixels: 64 * 48).decode($0, path: "small.png") }
    #expect(image.width == 64 && image.height == 48 && image.pixels == TestPNG.pixels(width: 64, height: 48))
    let refused = #expect(throws: ImageError.self) {
      try small.withUnsafeBytes { try ImageDecoder(maxPixels: 64 * 48 - 1).decode($0, path: "small.png") }
    }
    #expect(refused?.kind == .tooLarge, "\(String(describing: refused))")
    let fixture = TestPaths.fixture("images/src/jpeg_420.jpg").path
    let real = #expect(throws: ImageError.self) { try ImageDecoder(maxPixels: 80 * 60 - 1).decode(path: fixture) }
    #expect(real?.kind == .tooLarge, "\(String(describing: real))")
    #expect(try ImageDecoder(maxPixels: 80 * 60).decode(path: fixture).width == 80)
  }

  @Test func refusesBrokenFiles() throws {
    let good = try Data(contentsOf: TestPaths.fixture("images/src/jpeg_420.jpg"))
    let png = try Data(contentsOf: TestPaths.fixture("images/src/png_rgb8.png"))
    var badCRC = [UInt8](png)
    badCRC[30] ^= 0xff  // inside the IHDR chunk: its CRC no longer matches
    let cases: [(String, [UInt8], ImageError.Kind)] = [
      ("empty.jpg", [], .empty),
      ("text.jpg", Array("not an image".utf8), .unsupported),
      ("truncated.jpg", Array(good.prefix(good.count / 2)), .truncated),
      ("header-only.jpg", Array(good.prefix(20)), .truncated),  // ends before the frame header
      ("bad-crc.png", badCRC, .corrupt),
      ("truncated.png", Array(png.prefix(png.count / 2)), .truncated),
    ]
    for (name, bytes, kind) in cases {
      do {
        _ = try bytes.withUnsafeBytes { try ImageDecoder().decode($0, path: name) }
        Issue.record("\(name) decoded")
      } catch let error as ImageError {
        #expect(error.kind == kind, "\(name): \(error)")
        #expect(error.description.hasPrefix(name))
      }
    }
  }
}

/// Writes 8-bit RGB PNGs without zlib (stored deflate blocks): a valid signature, IHDR, IDAT and IEND with
/// correct CRCs, holding the first `rows` rows of `pixels(width:height:)`. With `rows < height` the header
/// is complete and valid but the pixel data ends early.
enum TestPNG {
  /// A deterministic RGB pattern.
  static func pixels(width: Int, height: Int) -> [UInt8] {
    (0..<(width * height * 3)).map { i in UInt8(truncatingIfNeeded: i / 3 * 7 + (i % 3) * 85) }
  }

  static func encode(width: Int, height: Int, rows: Int) -> [UInt8] {
    let rowBytes = width * 3
    var raw: [UInt8] = []
    raw.reserveCapacity(rows * (rowBytes + 1))
    for y in 0..<rows {
      raw.append(0)  // filter: none
      raw += (0..<rowBytes).map { x in UInt8(truncatingIfNeeded: (y * rowBytes + x) / 3 * 7 + (x % 3) * 85) }
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
      let n = min(65535, raw.count - offset)
      let last: UInt8 = offset + n == raw.count ? 1 : 0
      zlib += [last, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
      zlib += raw[offset..<(offset + n)]
      offset += n
    } while offset < raw.count
    zlib += bigEndian(adler32(raw))
    var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
    header += [8, 2, 0, 0, 0]  // 8 bits, RGB, deflate, adaptive filtering, no interlace
    return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
  }

  static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
  }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for b in bytes {
      crc ^= UInt32(b)
      for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
  }

  static func adler32(_ bytes: [UInt8]) -> UInt32 {
    var (a, b): (UInt32, UInt32) = (1, 0)
    for x in bytes {
      a = (a + UInt32(x)) % 65521
      b = (b + a) % 65521
    }
    return b << 16 | a
  }
}
