// PILBicubicTests.swift — the bicubic resize against PIL's own output, byte for byte.
//
// Fixtures (tools/make_bicubic_corpus.py): Tests/Fixtures/images/bicubic/manifest.json lists RGB8 PNG
// sources (crops of dataset photos decoded by PIL, and synthetic hard-edged images on which bicubic
// overshoots) and each one's `Image.resize((w, h), Image.BICUBIC)` as an RGB8 PNG with the sha256 of
// its RGB bytes, at sizes down, up, odd, one pixel wide or high, and in both of Pillow 13's pass orders.

import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

@Suite("PIL bicubic resize")
struct PILBicubicTests {
  struct Manifest: Decodable {
    struct Source: Decodable {
      var name: String
      var file: String
      var width: Int
      var height: Int
    }
    struct Output: Decodable {
      var source: String
      var file: String
      var width: Int
      var height: Int
      var vertical_first: Bool
      var sha256: String
      var clipped_samples: Int
    }
    var pillow: String
    var sources: [Source]
    var outputs: [Output]
  }

  static let directory = TestPaths.fixture("images/bicubic")

  static func manifest() throws -> Manifest {
    try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
  }

  static func image(_ file: String) throws -> RGBImage {
    let ref = try loadReferenceRGB(directory.appendingPathComponent(file))
    return RGBImage(width: ref.width, height: ref.height, pixels: ref.pixels)
  }

  /// Where `got` first differs from `want`, or nil when they are identical.
  static func difference(_ got: RGBImage, _ want: RGBImage) -> String? {
    guard got.width == want.width, got.height == want.height else {
      return "size \(got.width)x\(got.height), PIL \(want.width)x\(want.height)"
    }
    guard let first = got.pixels.indices.first(where: { got.pixels[$0] != want.pixels[$0] }) else { return nil }
    let differing = got.pixels.indices.filter { got.pixels[$0] != want.pixels[$0] }.count
    let pixel = first / 3
    return "\(differing) of \(got.pixels.count) bytes differ, first at (x \(pixel % got.width), y \(pixel / got.width)) "
      + "channel \(first % 3): \(got.pixels[first]) vs PIL \(want.pixels[first])"
  }

  /// Every output of the corpus, from PIL's decoded source: identical bytes, and the sha256 the manifest records.
  @Test func everyOutputIsByteIdentical() throws {
    let manifest = try Self.manifest()
    #expect(manifest.pillow == "13.0.0")
    var sources: [String: RGBImage] = [:]
    for source in manifest.sources {
      let image = try Self.image(source.file)
      #expect(image.width == source.width && image.height == source.height, "\(source.file): size")
      sources[source.name] = image
    }
    var identical = 0
    for output in manifest.outputs {
      let input = try #require(sources[output.source], "\(output.file): unknown source \(output.source)")
      let resizer = PILResizer(
        inputWidth: input.width, inputHeight: input.height, outputWidth: output.width, outputHeight: output.height,
        filter: .bicubic)
      #expect(resizer.horizontalFirst == !output.vertical_first, "\(output.file): pass order")
      let got = resizer.resize(input)
      #expect(try SHA256.hex(got.pixels) == output.sha256, "\(output.file): sha256 of the RGB bytes")
      if let problem = Self.difference(got, try Self.image(output.file)) {
        Issue.record("\(output.file) (\(input.width)x\(input.height) -> \(output.width)x\(output.height)): \(problem)")
      } else {
        identical += 1
      }
    }
    #expect(identical == manifest.outputs.count)
    #expect(manifest.outputs.count == 91, "the corpus lists \(manifest.outputs.count) outputs, not 91")
    #expect(identical == 91)
  }

  /// The corpus covers what can go wrong: both pass orders, one-pixel sides, enlarging, and overshoot.
  @Test func corpusCoversClipsPassOrdersAndOnePixelSides() throws {
    let outputs = try Self.manifest().outputs
    #expect(outputs.filter(\.vertical_first).count == 30)
    #expect(outputs.filter { $0.width == 1 || $0.height == 1 }.count >= 20)
    #expect(outputs.filter { $0.clipped_samples > 0 }.count == 53)
    // The synthetic hard edges overshoot on every enlargement.
    #expect(outputs.filter { $0.source == "stripes_41x23" && $0.width > 41 && $0.clipped_samples > 0 }.count >= 2)
  }

  /// Keys' kernel with a = -0.5 at the points that pin it: 1 at 0, 0 at the integers, -0.0625 at 1.5 (the
  /// negative lobe that overshoots), 0 from the support 2 on; weights of a tap row sum to 1 in fixed point.
  @Test func bicubicKernelAndCoefficients() {
    #expect(PILFilter.bicubic.support == 2.0)
    #expect(PILFilter.bilinear.support == 1.0)
    #expect(PILFilter.bicubic.weight(0) == 1)
    #expect(PILFilter.bicubic.weight(1) == 0)
    #expect(PILFilter.bicubic.weight(-1.5) == -0.0625)
    #expect(PILFilter.bicubic.weight(0.5) == 0.5625)
    #expect(PILFilter.bicubic.weight(2) == 0)
    // 4 -> 2 (scale 2): support 4, ksize 9; output 0 centred at 1.0 reads inputs 0...3 (clamped).
    let axis = PILResampleAxis(inSize: 4, outSize: 2, filter: .bicubic)
    #expect(axis.kernelSize == 9)
    #expect(Array(axis.bounds) == [0, 4, 0, 4])
    // Upscaling keeps support 2 (ksize 5): 2 -> 4 samples, each reads both inputs.
    let up = PILResampleAxis(inSize: 2, outSize: 4, filter: .bicubic)
    #expect(up.kernelSize == 5)
    #expect(Array(up.bounds) == [0, 2, 0, 2, 0, 2, 0, 2])
  }

  /// `Preprocessing.interpolation` chooses the filter wherever images are resized (extract, predict, the
  /// batch decoder and draft all go through `pixels`).
  @Test func preprocessingInterpolationSelectsTheFilter() throws {
    let manifest = try Self.manifest()
    let output = try #require(manifest.outputs.first { $0.source == "checker_30x30" && $0.width == 60 })
    let source = try Self.image("src/checker_30x30.png")
    var p = Preprocessing(resize: .exact(height: output.height, width: output.width), crop: nil, mean: nil, std: nil)
    p.interpolation = "bicubic"
    try p.validate()
    #expect(try SHA256.hex(try p.pixels(source).pixels) == output.sha256)
    p.interpolation = "bilinear"
    #expect(try p.pixels(source) == resizePIL(source, width: output.width, height: output.height, filter: .bilinear))
    #expect(try SHA256.hex(try p.pixels(source).pixels) != output.sha256)
  }

  @Test func unknownInterpolationIsRefused() {
    var p = Preprocessing.imagenet
    p.interpolation = "lanczos"
    #expect(throws: PreprocessingError(parameter: .interpolation, reason: "'lanczos' is not supported; use bilinear or bicubic"))
    {
      try p.validate()
    }
    #expect(throws: PreprocessingError.self) { try p.pixels(RGBImage(width: 300, height: 300)) }
  }
}
