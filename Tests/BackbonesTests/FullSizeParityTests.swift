import Backbones
import Images
import Foundation
import Support
import Testing
import TestSupport
import Weights

/// densenet121, resnet18 and resnet50 at full size with featx-random-v1 seed 0, on the exact pixels
/// torchvision saw, against torchvision's outputs (fixture: tools/make_reference.py). The weights come
/// from featx's own generator, and, when `scripts/make-test-weights` has written them, from torch.save
/// files in both formats.
@Suite(.serialized, .parityLog) struct FullSizeParityTests {
  static let reference = TestPaths.fixture("backbones/full_reference.safetensors").path
  static let order = ["bird_albatross", "bird_goldfinch", "flower_portrait", "flower_landscape"]

  /// The network input of every reference image for `preset`, image after image.
  static func inputs(_ preset: String) throws -> [Float] {
    let preprocessing = preset == "seed" ? Preprocessing.seed : Preprocessing.imagenet
    var all: [Float] = []
    for id in order {
      let image = try ImageDecoder().decode(path: TestPaths.fixture("backbones/pixels/\(id).\(preset).png").path)
      var tensor = [Float](repeating: 0, count: 3 * 224 * 224)
      tensor.withUnsafeMutableBufferPointer { preprocessing.tensor(image, into: $0) }
      all += tensor
    }
    return all
  }

  static func weights(_ arch: Architecture, _ source: String) throws -> StateDict {
    if source == "random" { return RandomWeights.stateDict(config: arch.config, seed: 0) }
    return try Checkpoint.load(path: TestPaths.generatedWeights.appendingPathComponent("\(arch.rawValue)-random0.\(source)").path)
  }

  static let sources: [String] = {
    var all = ["random"]
    if FileManager.default.fileExists(atPath: TestPaths.generatedWeights.appendingPathComponent("manifest.json").path) {
      all += ["pth", "legacy.pth"]
    }
    return all
  }()

  @Test(arguments: sources)
  func densenet121FeaturesFlattenAvgMax(source: String) throws {
    let expected = try Checkpoint.load(path: Self.reference)
    let weights = try Self.weights(.densenet121, source)
    let input = try Self.inputs("seed")
    let flat = try FamilyParityTests.run(try Backbone(arch: .densenet121, weights: weights, threads: 2), input, size: 224)
    #expect(flat.count == 4 * 50176)
    let positions = try #require(expected.tensors["densenet121.features.positions"])
    let values = try #require(expected.tensors["densenet121.features.values"]?.values)
    let chosen = positions.integers.map { Int($0) }
    #expect(chosen == Self.referencePositions())
    let picked = (0..<4).flatMap { image in chosen.map { flat[image * 50176 + $0] } }
    let report = ParityReport(actual: picked, reference: values, rows: 4, label: "densenet121 features (\(source))")
    #expect(report.passes(), "densenet121 features (\(source)): \(report)")

    for pooling in [Pooling.avg, .max] {
      let pooled = try FamilyParityTests.run(
        try Backbone(arch: .densenet121, weights: weights, pooling: pooling, threads: 2), input, size: 224)
      let reference = try #require(expected.tensors["densenet121.features.\(pooling.rawValue)"]?.values)
      let report = ParityReport(actual: pooled, reference: reference, rows: 4, label: "densenet121 \(pooling) (\(source))")
      #expect(report.passes(), "densenet121 \(pooling) (\(source)): \(report)")
    }
  }

  @Test(arguments: sources)
  func resnetAvgpool(source: String) throws {
    let expected = try Checkpoint.load(path: Self.reference)
    let input = try Self.inputs("imagenet")
    for arch in [Architecture.resnet18, .resnet50] {
      let out = try FamilyParityTests.run(
        try Backbone(arch: arch, weights: try Self.weights(arch, source), threads: 2), input, size: 224)
      let reference = try #require(expected.tensors["\(arch.rawValue).avgpool"]?.values)
      let report = ParityReport(actual: out, reference: reference, rows: 4, label: "\(arch) avgpool (\(source))")
      #expect(report.passes(), "\(arch) avgpool (\(source)): \(report)")
    }
  }

  @Test func resultsDoNotDependOnTheThreadCount() throws {
    let weights = RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 0)
    let input = try Self.inputs("imagenet")
    let one = try FamilyParityTests.run(try Backbone(arch: .resnet18, weights: weights, threads: 1), input, size: 224)
    let two = try FamilyParityTests.run(try Backbone(arch: .resnet18, weights: weights, threads: 2), input, size: 224)
    let single = try FamilyParityTests.run(
      try Backbone(arch: .resnet18, weights: weights, threads: 2), Array(input.prefix(3 * 224 * 224)), size: 224)
    #expect(closeness(two, one, rtol: 1e-5, atol: 1e-4) == nil)
    #expect(closeness(single, Array(one.prefix(512)), rtol: 1e-5, atol: 1e-4) == nil)
  }

  /// `sorted(RandomState(7).choice(count, n, replace=False))`, the sampled positions of every reference
  /// map (densenet121's 8192 of 50176 here, the families' too): numpy's choice without replacement is
  /// `permutation(count)[:n]`.
  static func referencePositions(count: Int = 50176, n: Int = 8192) -> [Int] {
    var rng = NumpyRandomState(seed: 7)
    return Array(rng.permutation(count).prefix(n)).sorted()
  }
}
