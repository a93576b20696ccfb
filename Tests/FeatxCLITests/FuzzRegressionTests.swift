// Regression tests for the fuzzers' findings (fuzz/README.md): every Tests/Fixtures/fuzz/<Harness>-*.bin
// input goes through the same API calls as the libFuzzer harness named by its prefix, and must end in a
// clean error (or a result), never a crash, a trap or a runaway allocation.

import Backbones
import Extract
import FeatureStore
import Foundation
import Probe
import TestSupport
import Testing

@Suite struct FuzzRegressionTests {
  /// The committed inputs of one harness, sorted.
  static func inputs(_ harness: String) throws -> [URL] {
    let dir = TestPaths.fixture("fuzz")
    return try FileManager.default.contentsOfDirectory(atPath: dir.path)
      .filter { $0.hasPrefix("\(harness)-") && $0.hasSuffix(".bin") }
      .sorted()
      .map { dir.appendingPathComponent($0) }
  }

  /// fuzz/Sources/FuzzCheckpoint: `Checkpoint.parse` (zip, legacy and safetensors, restricted unpickler).
  @Test func checkpointInputs() throws {
    let files = try Self.inputs("FuzzCheckpoint")
    #expect(!files.isEmpty)
    for url in files {
      let bytes = try Data(contentsOf: url)
      do {
        let dict = try bytes.withUnsafeBytes { try Checkpoint.parse($0, path: url.path) }
        for key in dict.keys { _ = dict.tensors[key]?.values.count }
      } catch let error as BackboneError {
        #expect(error.description.contains(url.lastPathComponent), "\(error)")
      }
    }
  }

  /// A pickle whose containers hold themselves ends in a clean error: its containers are freed (no
  /// leak) and walking them terminates (no unbounded recursion).
  @Test func recursivePicklesEndCleanly() throws {
    for name in ["FuzzCheckpoint-pickle-self-cycle-leak.bin", "FuzzCheckpoint-legacy-cycle-stack-overflow.bin"] {
      let bytes = try Data(contentsOf: TestPaths.fixture("fuzz/\(name)"))
      #expect(throws: BackboneError.self) { try bytes.withUnsafeBytes { _ = try Checkpoint.parse($0, path: name) } }
    }
  }

  /// fuzz/Sources/FuzzImage: decode with a 4,000,000-pixel limit, then both preprocessing paths (and the
  /// real ImageNet preset, which the harness leaves out for speed).
  @Test func imageInputs() throws {
    let files = try Self.inputs("FuzzImage")
    #expect(!files.isEmpty)
    let decoder = ImageDecoder(maxPixels: 4_000_000)
    let recipes = [
      Preprocessing.imagenet,
      Preprocessing(
        resize: .shorter(20), crop: [16, 16], mean: Preprocessing.imagenet.mean, std: Preprocessing.imagenet.std),
      Preprocessing(resize: .exact(height: 9, width: 13), crop: nil, mean: nil, std: nil),
    ]
    for url in files {
      let bytes = try Data(contentsOf: url)
      let image: RGBImage
      do { image = try bytes.withUnsafeBytes { try decoder.decode($0, path: url.path) } } catch is ImageError { continue }
      #expect(image.pixels.count == image.width * image.height * 3)
      for recipe in recipes {
        guard let out = try? recipe.pixels(image) else { continue }
        var tensor = [Float](repeating: 0, count: 3 * out.width * out.height)
        tensor.withUnsafeMutableBufferPointer { recipe.tensor(out, into: $0) }
      }
    }
  }

  /// fuzz/Sources/FuzzStore: the input as a feature store (every reader) and as a head.
  @Test func storeInputs() throws {
    let files = try Self.inputs("FuzzStore")
    #expect(!files.isEmpty)
    let tmp = TemporaryDirectory("featx-fuzz-regression")
    for url in files {
      let path = tmp.url.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".h5").path
      try Data(contentsOf: url).write(to: URL(fileURLWithPath: path))
      do {
        let store = try FeatureStore(path: path)
        _ = try? store.labels()
        _ = try? store.paths()
        _ = try? store.split()
        _ = try? store.skipped()
        _ = try? store.featureChunkShape()
        let n = min(store.rows, max(0, 4_000_000 / max(store.dimension, 1)), 8)
        if n > 0 { _ = try? store.features(rows: 0..<n) }
        _ = try? store.features(rows: max(store.rows - 1, 0)..<store.rows)
      } catch is FeatureStoreError {
      }
      do { _ = try Head.read(path: path) } catch is ProbeError {}
    }
  }
}
