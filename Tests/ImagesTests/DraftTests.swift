import Foundation
import Images
import Testing
import TestSupport

/// `--draft` (issue #13): JPEGs decoded like PIL's `Image.draft("RGB", size)` with the resize's size, then
/// resized and cropped as usual, against PIL + torchvision on the same files
/// (Fixtures/images/draft, made by tools/make_draft_reference.py).
@Suite struct DraftTests {
  struct Manifest: Decodable {
    struct Preset: Decodable {
      var draft_target: [Int]
      var decoded_size: [Int]
      var pixels: String
    }
    struct File: Decodable {
      var file: String
      var width: Int
      var height: Int
      var presets: [String: Preset]
    }
    var files: [File]
  }

  static let folder = TestPaths.fixture("images/draft")
  static let manifest = try? JSONDecoder().decode(
    Manifest.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))

  @Test(arguments: ["imagenet", "seed"])
  func draftedPixelsEqualPILs(preset name: String) throws {
    let manifest = try #require(Self.manifest)
    #expect(manifest.files.count == 3)
    var preprocessing = try #require(Preprocessing.presets[name])
    preprocessing.draft = true
    let decoder = ImageDecoder()
    for file in manifest.files {
      let reference = try #require(file.presets[name])
      let path = Self.folder.appendingPathComponent(file.file).path
      #expect(
        preprocessing.draftTarget(width: file.width, height: file.height).map { [$0.width, $0.height] } == reference.draft_target)
      let decoded = try decoder.decode(path: path, draftTo: preprocessing.draftTargets)
      #expect([Int]([decoded.width, decoded.height]) == reference.decoded_size, "\(file.file)")
      let pixels = try preprocessing.pixels(decoded, path: path)
      let expected = try decoder.decode(path: Self.folder.appendingPathComponent(reference.pixels).path)
      #expect(pixels.width == expected.width && pixels.height == expected.height)
      let diffs = zip(pixels.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
      #expect(
        diffs.max() == 0, "\(file.file) \(name): \(diffs.filter { $0 > 0 }.count) values differ, by up to \(diffs.max() ?? -1)")
    }
  }

  @Test func withoutDraftOrForPNGsTheFullImageIsDecoded() throws {
    let manifest = try #require(Self.manifest)
    let big = try #require(manifest.files.last)
    let path = Self.folder.appendingPathComponent(big.file).path
    let full = try ImageDecoder().decode(path: path)
    #expect(full.width == big.width && full.height == big.height)
    var preprocessing = Preprocessing.imagenet
    #expect(preprocessing.draftTarget(width: 4032, height: 3024).map(\.width) == nil)
    preprocessing.draft = true
    let png = TestPaths.fixture("images/src/png_rgb8.png").path
    let plain = try ImageDecoder().decode(path: png)
    let drafted = try ImageDecoder().decode(path: png, draftTo: { _, _ in (1, 1) })
    #expect(drafted == plain)
    // The JSON records draft only when it is on: stores written before --draft keep their fingerprint.
    #expect(!Preprocessing.imagenet.json.contains("draft"))
    #expect(preprocessing.json.contains("\"draft\":true"))
  }
}
