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
import Weights

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
  /// that opens one refuses it with one message and exit status 1 instead of dying from the signal: with the
  /// child forked (one thread at the check) and with it started anew (`exec`, as with more threads).
  @Test(arguments: ["1", "exec"]) func libhdf5CrashesBecomeErrors(guardMode: String) throws {
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
      let result = try runFeatx(arguments, environment: ["FEATX_HDF5_GUARD": guardMode])
      #expect(result.status == 1, "featx \(arguments[0]): status \(result.status)")
      #expect(result.stderr.contains(message), "\(result.stderr)")
      #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path("head.h5")))
    #expect(!FileManager.default.fileExists(atPath: dir.path("merged.h5")))
  }

  /// libhdf5 loops forever on this FuzzStore input: the guard gives up after its timeout (2 s here) and
  /// refuses the file, where featx would otherwise hang.
  @Test(arguments: ["1", "exec"]) func libhdf5HangsBecomeErrors(guardMode: String) throws {
    let file = TestPaths.fixture("fuzz/libhdf5/infinite-loop.h5").path
    let result = try runFeatx(["info", file], environment: ["FEATX_HDF5_GUARD_TIMEOUT": "2", "FEATX_HDF5_GUARD": guardMode])
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
      } catch let error as WeightsError {
        #expect(error.description.contains(url.lastPathComponent), "\(error)")
      }
    }
  }

  /// A pickle whose containers hold themselves ends in a clean error: its containers are freed (no
  /// leak) and walking them terminates (no unbounded recursion).
  @Test func recursivePicklesEndCleanly() throws {
    for name in ["FuzzCheckpoint-pickle-self-cycle-leak.bin", "FuzzCheckpoint-legacy-cycle-stack-overflow.bin"] {
      let bytes = try Data(contentsOf: TestPaths.fixture("fuzz/\(name)"))
      #expect(throws: WeightsError.self) { try bytes.withUnsafeBytes { _ = try Checkpoint.parse($0, path: name) } }
    }
  }

  /// What each FuzzImage input does today, for the decoder and each recipe of `imageInputs`; a new input
  /// needs its line here.
  enum ImageOutcome: Equatable {
    case decodes(width: Int, height: Int)
    case refused(ImageError.Kind)
  }

  enum RecipeOutcome: Equatable {
    case output(width: Int, height: Int)
    case refused(ImageError.Kind, detail: String)
  }

  static let imageExpectations: [String: (decode: ImageOutcome, recipes: [RecipeOutcome])] = [
    // One constant (128) column, 999999 rows: both shorter-side resizes would need hundreds of millions of
    // pixels and are refused; the exact resize works.
    "FuzzImage-extreme-aspect-resize.bin": (
      .decodes(width: 1, height: 999_999),
      [
        .refused(.tooLarge, detail: "1x999999 resized to a shorter side of 256 would be 256x255999744 pixels"),
        .refused(.tooLarge, detail: "1x999999 resized to a shorter side of 20 would be 20x19999980 pixels"),
        .output(width: 13, height: 9),
      ]
    )
  ]

  /// fuzz/Sources/FuzzImage: decode with a 4,000,000-pixel limit, then both preprocessing paths (and the
  /// real ImageNet preset, which the harness leaves out for speed), each with its expected outcome.
  @Test func imageInputs() throws {
    let files = try Self.inputs("FuzzImage")
    #expect(Set(files.map(\.lastPathComponent)) == Set(Self.imageExpectations.keys))
    let decoder = ImageDecoder(maxPixels: 4_000_000)
    let recipes = [
      Preprocessing.imagenet,
      Preprocessing(
        resize: .shorter(20), crop: [16, 16], mean: Preprocessing.imagenet.mean, std: Preprocessing.imagenet.std),
      Preprocessing(resize: .exact(height: 9, width: 13), crop: nil, mean: nil, std: nil),
    ]
    for url in files {
      let name = url.lastPathComponent
      guard let expected = Self.imageExpectations[name] else { continue }
      let bytes = try Data(contentsOf: url)
      let image: RGBImage
      do {
        image = try bytes.withUnsafeBytes { try decoder.decode($0, path: url.path) }
      } catch let error as ImageError {
        #expect(ImageOutcome.refused(error.kind) == expected.decode, "\(name): \(error)")
        #expect(error.path == url.path && error.description.hasPrefix(url.path), "\(name): \(error)")
        continue
      }
      #expect(ImageOutcome.decodes(width: image.width, height: image.height) == expected.decode, "\(name)")
      #expect(image.pixels.count == image.width * image.height * 3)
      for (recipe, outcome) in zip(recipes, expected.recipes) {
        let out: RGBImage
        do {
          out = try recipe.pixels(image, path: url.path)
        } catch let error as ImageError {
          #expect(RecipeOutcome.refused(error.kind, detail: error.detail) == outcome, "\(name): \(error)")
          #expect(error.path == url.path, "\(name): \(error)")
          continue
        }
        #expect(RecipeOutcome.output(width: out.width, height: out.height) == outcome, "\(name)")
        #expect(out.pixels.count == out.width * out.height * 3)
        var tensor = [Float](repeating: .nan, count: 3 * out.width * out.height)
        tensor.withUnsafeMutableBufferPointer { recipe.tensor(out, into: $0) }
        let filled = tensor.allSatisfy(\.isFinite)
        #expect(filled, "\(name): the tensor is not filled")
      }
    }
  }

  /// What each FuzzStore input does today as a feature store and as a head, given the path it is read
  /// from. Every one is refused on opening, with the error naming the file; a new input needs its line here.
  static let storeExpectations:
    [String: (store: @Sendable (String) -> FeatureStoreError, head: @Sendable (String) -> ProbeError)] = [
      "FuzzStore-classes-declared-count.bin": (
        { .invalid(path: $0, reason: "/classes declares more entries than the file can hold") },
        { .notAHead(path: $0, reason: "format tag 'featx-features'") }
      ),
      "FuzzStore-declared-rows-exceed-memory.bin": (
        { .invalid(path: $0, reason: "it declares 1099511627776 rows in a file of 10688 bytes") },
        { .notAHead(path: $0, reason: "format tag 'featx-features'") }
      ),
      "FuzzStore-feature-shape-overflow.bin": (
        { .invalid(path: $0, reason: "feature_shape [4294967296, 4294967296] is not a valid shape") },
        { .notAHead(path: $0, reason: "format tag 'featx-features'") }
      ),
      "FuzzStore-head-bias-declared-count.bin": (
        { .wrongFormat(path: $0, found: "featx-head") },
        { .notAHead(path: $0, reason: "weights of shape [512, 157] do not fit in the file") }
      ),
      "FuzzStore-head-classes-declared-count.bin": (
        { .wrongFormat(path: $0, found: "featx-head") },
        { .notAHead(path: $0, reason: "class_folders of shape [42949672962] does not match weights of shape [512, 2]") }
      ),
    ]

  /// fuzz/Sources/FuzzStore: the input as a feature store (every reader) and as a head, each refused with
  /// its expected error.
  @Test func storeInputs() throws {
    let files = try Self.inputs("FuzzStore")
    #expect(Set(files.map(\.lastPathComponent)) == Set(Self.storeExpectations.keys))
    let tmp = TemporaryDirectory("featx-fuzz-regression")
    for url in files {
      let name = url.lastPathComponent
      guard let expected = Self.storeExpectations[name] else { continue }
      let path = tmp.url.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".h5").path
      try Data(contentsOf: url).write(to: URL(fileURLWithPath: path))
      do {
        let store = try FeatureStore(path: path)
        Issue.record(
          "\(name): opened as a store of \(store.rows) rows; readEverySection: \(String(describing: store.readEverySection()))")
      } catch let error as FeatureStoreError {
        #expect(error == expected.store(path), "\(name): \(error)")
        #expect(error.description.hasPrefix(path + ": "), "\(name): \(error)")
      }
      do {
        let head = try Head.read(path: path)
        Issue.record("\(name): read as a head of \(head.classes.count) classes")
      } catch let error as ProbeError {
        #expect(error == expected.head(path), "\(name): \(error)")
        #expect(error.description.hasPrefix(path + ": "), "\(name): \(error)")
      }
    }
  }
}
