// PILResizeTests.swift — the PIL/torchvision resize port against PIL's own output.
//
// Fixtures (tools/make_extract_fixtures.py): Tests/Fixtures/images/manifest.json lists every source
// image, its PIL decode (`Image.open(p).convert('RGB')`, stored as an RGB8 PNG) and the torchvision
// transforms applied to that PIL image (Resize((h, w)), Resize(n) + CenterCrop, ...), each stored as an
// RGB8 PNG. Tests/Fixtures/images/torchvision_sizes.json holds torchvision's Resize(int) sizes and
// CenterCrop offsets. Every comparison is exact.
//
// PROVIDED BY LEAD (not defined here; these tests assume exactly these signatures, visible to the
// ExtractTests target):
//   func loadReferenceRGB(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8])
//       Reads an 8-bit RGB PNG (every reference is colour type 2, bit depth 8, non-interlaced) with
//       featx's decoder; `pixels` interleaved RGB, rows top to bottom, no padding.
//   func decodeImageFile(_ url: URL) throws -> RGBImage
//       featx's production decoder (JPEG via libjpeg, PNG via zlib, both as PIL drives them) producing what PIL's
//       `Image.open(url).convert('RGB')` produces.
//
// The tests on repository sources start from the PIL-decoded PNGs, so they exercise only the resize
// port and do not depend on the decoder or on the datasets. The dataset-photo test decodes the photos
// with `decodeImageFile`, so it also checks that the decoder matches PIL; it needs the datasets root
// (`$FEATX_DATASETS`, else `shared/datasets` beside the repository) and is skipped without it.

import Images
import Foundation
import Testing

// MARK: - Fixture plumbing

private enum ResizeFixtureError: Error, CustomStringConvertible {
  case notFound(String)
  case malformed(String)
  var description: String {
    switch self {
    case .notFound(let s), .malformed(let s): return s
    }
  }
}

/// `Tests/Fixtures`, found from this file's path.
private func fixturesDirectory(filePath: String = #filePath) throws -> URL {
  var url = URL(fileURLWithPath: filePath)
  while url.path != "/" {
    url.deleteLastPathComponent()
    if url.lastPathComponent == "Tests" { return url.appendingPathComponent("Fixtures") }
  }
  throw ResizeFixtureError.notFound("no Tests folder above \(filePath)")
}

/// The repository root (the parent of `Tests`); manifest paths are relative to it.
private func repositoryRoot() throws -> URL {
  try fixturesDirectory().deletingLastPathComponent().deletingLastPathComponent()
}

/// The shared datasets: `$FEATX_DATASETS`, else `shared/datasets` beside the repository (the rule of
/// TestSupport's `TestPaths.datasets`).
private let datasetsRoot: URL = {
  if let env = ProcessInfo.processInfo.environment["FEATX_DATASETS"] { return URL(fileURLWithPath: env) }
  let repository = (try? repositoryRoot()) ?? URL(fileURLWithPath: "/nonexistent")
  return repository.deletingLastPathComponent().appendingPathComponent("shared/datasets")
}()

private let datasetsAvailable = FileManager.default.fileExists(
  atPath: datasetsRoot.appendingPathComponent("cub_birds50").path)

private struct ImageManifest: Decodable {
  struct Transform: Decodable, CustomStringConvertible {
    /// [height, width]: torchvision Resize((h, w)).
    var resize: [Int]?
    /// torchvision Resize(n).
    var resizeShorter: Int?
    /// [height, width]: torchvision CenterCrop((h, w)) after Resize(n).
    var crop: [Int]?
    var description: String {
      if let r = resize { return "Resize((\(r[0]), \(r[1])))" }
      var s = "Resize(\(resizeShorter ?? -1))"
      if let c = crop { s += " + CenterCrop((\(c[0]), \(c[1])))" }
      return s
    }
  }
  struct Output: Decodable {
    var transform: Transform
    var file: String
    /// [width, height]
    var size: [Int]
    /// [width, height] after Resize(n), before the crop.
    var resizedSize: [Int]?
  }
  struct Source: Decodable {
    var source: String
    var kind: String
    var pilMode: String
    var width: Int
    var height: Int
    var decoded: String?
    var outputs: [Output]
  }
  var sources: [Source]
}

private func loadManifest() throws -> ImageManifest {
  let data = try Data(contentsOf: fixturesDirectory().appendingPathComponent("images/manifest.json"))
  let decoder = JSONDecoder()
  decoder.keyDecodingStrategy = .convertFromSnakeCase
  let manifest = try decoder.decode(ImageManifest.self, from: data)
  guard !manifest.sources.isEmpty else { throw ResizeFixtureError.malformed("manifest has no sources") }
  return manifest
}

private func loadReference(_ relativePath: String) throws -> RGBImage {
  let ref = try loadReferenceRGB(repositoryRoot().appendingPathComponent(relativePath))
  return RGBImage(width: ref.width, height: ref.height, pixels: ref.pixels)
}

/// The transform chain of one reference output, with the port.
private func apply(_ t: ImageManifest.Transform, to image: RGBImage) throws -> RGBImage {
  if let r = t.resize {
    return resizePIL(image, width: r[1], height: r[0])
  }
  guard let shorter = t.resizeShorter else { throw ResizeFixtureError.malformed("empty transform") }
  let size = resizedSize(width: image.width, height: image.height, shorter: shorter)
  var out = resizePIL(image, width: size.width, height: size.height)
  if let c = t.crop {
    out = centerCrop(out, width: c[1], height: c[0])
  }
  return out
}

/// Records an issue unless `got` equals `want` byte for byte; reports the size, the number of
/// differing bytes, the largest difference and the first differing pixel.
@discardableResult
private func expectIdentical(
  _ got: RGBImage, _ want: RGBImage, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  guard got.width == want.width, got.height == want.height else {
    Issue.record(
      "\(label): size \(got.width)x\(got.height), PIL \(want.width)x\(want.height)", sourceLocation: sourceLocation)
    return false
  }
  var differing = 0
  var maxDiff = 0
  var first = -1
  for i in 0..<got.pixels.count where got.pixels[i] != want.pixels[i] {
    differing += 1
    maxDiff = max(maxDiff, abs(Int(got.pixels[i]) - Int(want.pixels[i])))
    if first < 0 { first = i }
  }
  if differing > 0 {
    let px = first / 3
    let message: String =
      "\(label): \(differing) of \(got.pixels.count) bytes differ from PIL, max |diff| \(maxDiff), "
      + "first at pixel (x \(px % got.width), y \(px / got.width)) channel \(first % 3): "
      + "\(got.pixels[first]) vs \(want.pixels[first])"
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    return false
  }
  return true
}

// MARK: - Tests

@Suite("PIL bilinear resize + torchvision size rules")
struct PILResizeTests {
  /// Every reference output of every repository source, starting from PIL's own decode of the source.
  @Test func resizeMatchesPILOnRepositorySources() throws {
    let manifest = try loadManifest()
    var checked = 0
    for source in manifest.sources where !source.source.hasPrefix("datasets:") {
      let decodedPath = try #require(source.decoded, "\(source.source): no decoded reference")
      let input = try loadReference(decodedPath)
      #expect(input.width == source.width && input.height == source.height, "\(source.source): decoded size")
      for output in source.outputs {
        let want = try loadReference(output.file)
        #expect([want.width, want.height] == output.size, "\(output.file): manifest size")
        let got = try apply(output.transform, to: input)
        expectIdentical(got, want, "\(source.source) [\(source.pilMode)] \(output.transform)")
        checked += 1
      }
    }
    #expect(checked >= 13 * 4)
  }

  /// The dataset photos, decoded with featx's own decoder, then resized: equal to PIL only if the
  /// decoder also matches PIL (a failure here with the test above passing points at the decoder).
  @Test(.enabled(if: datasetsAvailable, "datasets root not found (set FEATX_DATASETS)"))
  func resizeMatchesPILOnDatasetPhotos() throws {
    let manifest = try loadManifest()
    var checked = 0
    for source in manifest.sources where source.source.hasPrefix("datasets:") {
      let relative = String(source.source.dropFirst("datasets:".count))
      let input = try decodeImageFile(datasetsRoot.appendingPathComponent(relative))
      #expect(input.width == source.width && input.height == source.height, "\(relative): decoded size")
      for output in source.outputs {
        let want = try loadReference(output.file)
        let got = try apply(output.transform, to: input)
        expectIdentical(got, want, "\(relative) \(output.transform)")
        checked += 1
      }
    }
    #expect(checked >= 6 * 4)
  }

  /// One resizer reused for several images gives the same result as fresh ones.
  @Test func reusedResizerMatchesOneShot() throws {
    let manifest = try loadManifest()
    let sources = manifest.sources.filter {
      $0.decoded != nil && $0.width == 80 && $0.height == 60
    }
    try #require(sources.count >= 2)
    let resizer = PILResizer(inputWidth: 80, inputHeight: 60, outputWidth: 224, outputHeight: 224)
    for source in sources {
      let input = try loadReference(source.decoded!)
      let output = try #require(source.outputs.first { $0.transform.resize == [224, 224] })
      expectIdentical(resizer.resize(input), try loadReference(output.file), "\(source.source) reused resizer")
    }
  }

  @Test func resizedSizeMatchesTorchvision() throws {
    let data = try Data(contentsOf: fixturesDirectory().appendingPathComponent("images/torchvision_sizes.json"))
    let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let cases = try #require(doc["resize_shorter"] as? [[String: Any]])
    #expect(cases.count > 50)
    for c in cases {
      let w = try #require(c["w"] as? Int)
      let h = try #require(c["h"] as? Int)
      let shorter = try #require(c["shorter"] as? Int)
      let maxSize = c["max_size"] as? Int
      let out = try #require(c["out"] as? [Int])
      let got = resizedSize(width: w, height: h, shorter: shorter, maxSize: maxSize)
      #expect([got.width, got.height] == out, "\(w)x\(h) Resize(\(shorter), max_size=\(String(describing: maxSize)))")
    }
  }

  @Test func centerCropOffsetsMatchTorchvision() throws {
    let data = try Data(contentsOf: fixturesDirectory().appendingPathComponent("images/torchvision_sizes.json"))
    let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let cases = try #require(doc["center_crop"] as? [[String: Int]])
    #expect(cases.count > 20)
    for c in cases {
      let (w, h) = (c["w"]!, c["h"]!)
      let (cw, ch) = (c["crop_w"]!, c["crop_h"]!)
      let origin = centerCropOrigin(width: w, height: h, cropWidth: cw, cropHeight: ch)
      #expect(origin.left == c["left"]! && origin.top == c["top"]!, "\(w)x\(h) CenterCrop((\(ch), \(cw)))")

      // The crop itself: every output pixel is the source pixel at origin + (x, y), or 0 outside.
      var pixels = [UInt8](repeating: 0, count: w * h * 3)
      for i in 0..<(w * h) {
        pixels[3 * i] = UInt8(i % w % 251 + 1)
        pixels[3 * i + 1] = UInt8(i / w % 251 + 1)
        pixels[3 * i + 2] = 7
      }
      let cropped = centerCrop(RGBImage(width: w, height: h, pixels: pixels), width: cw, height: ch)
      #expect(cropped.width == cw && cropped.height == ch)
      var wrong = 0
      for y in 0..<ch {
        for x in 0..<cw {
          let sx = x + origin.left
          let sy = y + origin.top
          let inside = sx >= 0 && sx < w && sy >= 0 && sy < h
          let o = (y * cw + x) * 3
          let want: [UInt8] = inside ? [UInt8(sx % 251 + 1), UInt8(sy % 251 + 1), 7] : [0, 0, 0]
          if Array(cropped.pixels[o..<(o + 3)]) != want { wrong += 1 }
        }
      }
      #expect(wrong == 0, "\(w)x\(h) CenterCrop((\(ch), \(cw))): \(wrong) wrong pixels")
    }
  }

  @Test func unchangedSizeIsACopy() {
    let img = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
    #expect(resizePIL(img, width: 3, height: 2) == img)
    #expect(PILResizer(inputWidth: 3, inputHeight: 2, outputWidth: 3, outputHeight: 2).resize(img) == img)
  }

  @Test func coefficientsFollowPillow() {
    // 4 -> 2 (scale 2): support 2, ksize 5; output 0 centred at 1.0 covers inputs 0...2 with
    // triangle weights (0.75, 0.75, 0.25)/1.75 -> fixed point with 22 fractional bits, rounded.
    let axis = PILResampleAxis(inSize: 4, outSize: 2)
    #expect(axis.kernelSize == 5)
    #expect(Array(axis.bounds) == [0, 3, 1, 3])
    let one = Double(1 << 22)
    let expected0 = [0.75, 0.75, 0.25].map { Int32(0.5 + $0 / 1.75 * one) }
    #expect(Array(axis.weights[0..<3]) == expected0)
    #expect(Array(axis.weights[3..<5]) == [0, 0])
    // Upscaling keeps support 1 (ksize 3): 2 -> 4 samples centred at 0.25, 0.75, 1.25, 1.75.
    let up = PILResampleAxis(inSize: 2, outSize: 4)
    #expect(up.kernelSize == 3)
    #expect(Array(up.bounds) == [0, 1, 0, 2, 0, 2, 1, 1])
  }
}
