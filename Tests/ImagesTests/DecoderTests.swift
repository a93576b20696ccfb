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

  static let sources: [String] = {
    guard let data = try? Data(contentsOf: TestPaths.fixture("images/manifest.json")),
      let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
    else { return [] }
    return manifest.sources.filter { $0.decoded != nil }.map(\.source)
  }()

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

  @Test func refusesDecompressionBombsBeforeAllocating() throws {
    // A JPEG header declaring 100000 x 100000 pixels (SOF0 with no data behind it).
    var jpeg: [UInt8] = [0xff, 0xd8]
    jpeg += [0xff, 0xc0, 0x00, 0x11, 0x08, 0x86, 0xa0, 0x86, 0xa0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]
    jpeg += [0xff, 0xd9]
    let error = #expect(throws: ImageError.self) { try jpeg.withUnsafeBytes { try ImageDecoder().decode($0, path: "bomb.jpg") } }
    #expect(error?.kind == .tooLarge || error?.kind == .corrupt, "\(String(describing: error))")
    // The same limit is configurable: a real 80x60 image is refused under a 1000-pixel limit.
    let small = TestPaths.fixture("images/src/jpeg_420.jpg").path
    #expect(throws: ImageError.self) { try ImageDecoder(maxPixels: 1000).decode(path: small) }
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
      ("header-only.jpg", Array(good.prefix(20)), .corrupt),
      ("bad-crc.png", badCRC, .corrupt),
      ("truncated.png", Array(png.prefix(png.count / 2)), .corrupt),
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
