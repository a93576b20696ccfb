// Regression tests for the fuzzers' findings (fuzz/README.md): every Tests/Fixtures/fuzz/<Harness>-*.bin
// input goes through the same API calls as the libFuzzer harness named by its prefix, and must end in a
// clean error (or a result), never a crash, a trap or a runaway allocation.

import Backbones
import Extract
import Images
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

  /// libhdf5 1.10 crashes (SIGSEGV in H5HG_read, reading a variable-length string attribute) on this
  /// FuzzStore input. featx reads a store or head in a child process first (`HDF5Guard`), so every command
  /// that opens one refuses it with one message and exit status 1 instead of dying from the signal.
  @Test func libhdf5CrashesBecomeErrors() throws {
    let file = TestPaths.fixture("fuzz/libhdf5/global-heap-segv.h5").path
    let image = TestPaths.fixture("images/src/jpeg_420.jpg").path
    let dir = TemporaryDirectory()
    let crashed = "\(file): libhdf5 crashed reading it"
    for (arguments, message) in [
      (["info", file], crashed), (["probe", file, "-o", dir.path("head.h5")], crashed),
      (["merge", file, "-o", dir.path("merged.h5")], crashed),
      // As a head, the file is refused on its format tag before the damaged attribute is read.
      (["predict", file, image], "\(file): not a featx head"),
    ] {
      let result = try runFeatx(arguments)
      #expect(result.status == 1, "featx \(arguments[0]): status \(result.status)")
      #expect(result.stderr.contains(message), "\(result.stderr)")
      #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path("head.h5")))
    #expect(!FileManager.default.fileExists(atPath: dir.path("merged.h5")))
  }

  /// libhdf5 loops forever on this FuzzStore input: the guard gives up after its timeout (2 s here) and
  /// refuses the file, where featx would otherwise hang.
  @Test func libhdf5HangsBecomeErrors() throws {
    let file = TestPaths.fixture("fuzz/libhdf5/infinite-loop.h5").path
    let result = try runFeatx(["info", file], environment: ["FEATX_HDF5_GUARD_TIMEOUT": "2"])
    #expect(result.status == 1)
    #expect(result.stderr.contains("\(file): libhdf5 did not finish reading it in 2 s"), "\(result.stderr)")
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
        try FeatureStore(path: path).readEverySection()
      } catch is FeatureStoreError {
      }
      do { _ = try Head.read(path: path) } catch is ProbeError {}
    }
  }
}
