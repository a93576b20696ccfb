import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// featx's decoder against PIL on the corpus of tools/make_decoder_corpus.py: every PNG and JPEG mode PIL
/// reads and broken variants cut and patched from good files. For every file featx must make PIL's
/// decision (decode or refuse, with the ImageError kind the manifest names), and decode byte for byte
/// what `Image.open(file).convert("RGB")` gives.
@Suite struct DecoderCorpusTests {
  struct Manifest: Decodable {
    struct Entry: Decodable {
      struct Verdict: Decodable {
        var accepted: Bool
        var error: String?
        var mode: String?
        var width: Int?
        var height: Int?
        var sha256: String?
      }
      var file: String
      var kind: String
      var pil: Verdict
      var featx_kind: String?
      var reference: String?
    }
    var versions: [String: String]
    var files: [Entry]
  }

  static let directory = TestPaths.fixture("images/corpus")

  static let manifestFile = FixtureManifest(json: directory.appendingPathComponent("manifest.json"), as: Manifest.self)
  static var manifest: Manifest? { manifestFile.value }

  static var files: [String] { manifest?.files.map(\.file) ?? [] }

  /// Files whose pixels differ from PIL's for a reason outside featx: PIL 13's wheels bundle
  /// libjpeg-turbo 3.2, featx links Debian 12's 2.1.5, and 3.0.1 fixed the block smoothing of
  /// progressive JPEGs with 4:2:0 chroma whose scans stop early (libjpeg-turbo issues #700 and #721):
  /// truncated files only, a few pixels off by 1-2. The decision is PIL's all the same.
  static let knownDifferences: [String: String] = Dictionary(
    uniqueKeysWithValues: [
      "jpeg_progressive_cut_eoi.jpg", "jpeg_progressive_cut_eoi_64x48_420.jpg", "jpeg_progressive_cut_eoi_200x40_420.jpg",
    ].map { ($0, "libjpeg-turbo 2.1.5 smooths partial progressive 4:2:0 scans differently from 3.2 (issue #721)") })

  /// What featx does with one corpus file, against the manifest: nil when it matches PIL.
  static func mismatch(_ entry: Manifest.Entry) -> String? {
    let path = directory.appendingPathComponent(entry.file).path
    let outcome = Result { try ImageDecoder().decode(path: path) }
    switch (entry.pil.accepted, outcome) {
    case (true, .success(let image)):
      guard image.width == entry.pil.width, image.height == entry.pil.height else {
        return "decoded \(image.width)x\(image.height), PIL \(entry.pil.width ?? 0)x\(entry.pil.height ?? 0)"
      }
      if (try? SHA256.hex(image.pixels)) == entry.pil.sha256 { return nil }
      guard let reference = entry.reference,
        let pil = try? [UInt8](Data(contentsOf: directory.appendingPathComponent(reference)))
      else { return "pixels differ from PIL (sha256), and the reference bytes are missing" }
      guard
        let i = zip(image.pixels, pil).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
          ?? (pil.count != image.pixels.count ? 0 : nil)
      else { return "sha256 differs but the reference bytes are equal (stale manifest?)" }
      let p = i / 3
      let (x, y) = (p % image.width, p / image.width)
      let differing = zip(image.pixels, pil).filter { $0 != $1 }.count
      func rgb(_ b: [UInt8]) -> String { b.count >= 3 * p + 3 ? "\(Array(b[(3 * p)..<(3 * p + 3)]))" : "none" }
      return "\(differing) bytes differ from PIL; first at pixel (\(x), \(y)): featx \(rgb(image.pixels)), PIL \(rgb(pil))"
    case (true, .failure(let error)):
      return "refused (\(error)), PIL decodes it (\(entry.pil.mode ?? "?"))"
    case (false, .success(let image)):
      return "decoded \(image.width)x\(image.height), PIL refuses it: \(entry.pil.error ?? "")"
    case (false, .failure(let error)):
      guard let error = error as? ImageError else { return "refused with \(error), not an ImageError" }
      guard error.kind.rawValue == entry.featx_kind else {
        return "refused as \(error.kind) (\(error.detail)), expected \(entry.featx_kind ?? "?") (PIL: \(entry.pil.error ?? ""))"
      }
      guard error.path == path, !error.detail.isEmpty else { return "refusal without path or detail: \(error)" }
      return nil
    }
  }

  @Test(arguments: files)
  func decidesAndDecodesLikePIL(file: String) throws {
    let entry = try #require(Self.manifest?.files.first { $0.file == file })
    let problem = Self.mismatch(entry)
    if let known = Self.knownDifferences[file] {
      #expect(problem?.contains("bytes differ") ?? true, "\(file): \(problem ?? "")")
      withKnownIssue(Comment(rawValue: known)) { #expect(problem == nil, "\(file) (\(entry.kind)): \(problem ?? "")") }
    } else {
      #expect(problem == nil, "\(file) (\(entry.kind)): \(problem ?? "")")
    }
  }

  /// The corpus is there, was made by the Pillow the other fixtures use, holds every mode the issue
  /// lists, and both decisions; the pass counts are printed for the record.
  @Test func corpusCoversEveryModeAndBothDecisions() throws {
    let manifest = try Self.manifestFile.require(listing: \.files)
    #expect(manifest.versions["Pillow"] == "13.0.0")
    let accepted = manifest.files.filter(\.pil.accepted)
    let modes = Set(accepted.compactMap(\.pil.mode))
    #expect(modes.isSuperset(of: ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"]), "modes: \(modes.sorted())")
    for needed in ["trns", "adam7", "16", "progressive", "arith", "ycck", "cmyk", "apng", "bomb", "extraneous", "cut"] {
      #expect(manifest.files.contains { $0.file.contains(needed) }, "no corpus file for \(needed)")
    }
    #expect(accepted.count >= 100 && manifest.files.count - accepted.count >= 50)
    var decisions = 0, pixels = 0
    var problems: [String] = []
    for entry in manifest.files {
      let problem = Self.mismatch(entry)
      let pixelProblem = problem.map { $0.contains("bytes differ") || $0.contains("sha256") } ?? false
      if problem == nil || pixelProblem { decisions += 1 }
      if entry.pil.accepted && problem == nil { pixels += 1 }
      if let problem, !(pixelProblem && Self.knownDifferences[entry.file] != nil) { problems.append("\(entry.file): \(problem)") }
    }
    print(
      "decoder corpus: \(manifest.files.count) files (Pillow \(manifest.versions["Pillow"] ?? "?")): decision as PIL on "
        + "\(decisions)/\(manifest.files.count), pixels as PIL on \(pixels)/\(accepted.count) accepted "
        + "(\(Self.knownDifferences.count) known libjpeg-turbo differences)")
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }
}
