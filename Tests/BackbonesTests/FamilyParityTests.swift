import Backbones
import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// Inception v3, GoogLeNet (torchvision) and RDNet (timm) at full size with featx-random-v1 seed 0, on the
/// exact pixels each family's own preprocessing gives, against the reference implementations' outputs
/// at every tap (fixture: tools/make_family_reference.py → backbones/family_<arch>.safetensors).
@Suite(.serialized, .parityLog) struct FamilyParityTests {
  static let order = FullSizeParityTests.order

  /// The reference outputs of one family.
  static func reference(_ arch: Architecture) throws -> StateDict {
    try Checkpoint.load(path: TestPaths.fixture("backbones/family_\(arch.rawValue).safetensors").path)
  }

  /// Each family's pixels: Resize(342)+CenterCrop(299), torchvision's ImageNet crop, timm's bicubic crop.
  static func pixels(_ arch: Architecture) -> (name: String, size: Int) {
    switch arch {
    case .inception_v3: ("inception", 299)
    case .rdnet_tiny: ("rdnet", 224)
    default: ("imagenet", 224)
    }
  }

  /// The network input of the four reference images, image after image (ToTensor + ImageNet Normalize).
  static func inputs(_ arch: Architecture) throws -> [Float] {
    let (name, size) = pixels(arch)
    var all: [Float] = []
    for id in order {
      let image = try ImageDecoder().decode(path: TestPaths.fixture("backbones/pixels/\(id).\(name).png").path)
      #expect(image.width == size && image.height == size)
      var tensor = [Float](repeating: 0, count: 3 * size * size)
      tensor.withUnsafeMutableBufferPointer { Preprocessing.imagenet.tensor(image, into: $0) }
      all += tensor
    }
    return all
  }

  /// `backbone`'s output for `input` (`size` × `size` NCHW images, one after another): one row per image.
  static func run(_ backbone: Backbone, _ input: [Float], size: Int) throws -> [Float] {
    let width = try backbone.outputShape(height: size, width: size).reduce(1, *)
    let count = input.count / (3 * size * size)
    var out = [Float](repeating: 0, count: count * width)
    try input.withUnsafeBufferPointer { i in
      try out.withUnsafeMutableBufferPointer { try backbone.run(images: i, count: count, height: size, width: size, into: $0) }
    }
    return out
  }

  static let archs: [Architecture] = [.inception_v3, .googlenet, .rdnet_tiny]

  /// Every tap of each family: the sampled flattened map (and its sum, sum of squares and max |value|), and
  /// its channel means, or the whole vector for the final layer.
  @Test(arguments: archs)
  func everyTapMatchesTheReference(arch: Architecture) throws {
    let expected = try Self.reference(arch)
    let weights = RandomWeights.stateDict(config: arch.config, seed: 0)
    let input = try Self.inputs(arch)
    let size = Self.pixels(arch).size
    let layers = try arch.config.layerInfo(height: size, width: size, arch: arch.rawValue)
    for layer in layers {
      let key = "\(arch.rawValue).\(layer.name)"
      let backbone = try Backbone(arch: arch, weights: weights, layer: layer.name, threads: 2)
      let flat = try Self.run(backbone, input, size: size)
      try Self.expectTap(flat, key: key, layer: layer, expected: expected)
    }
  }

  /// One tap's output for the four images against the reference: the whole vector for the final layer,
  /// else the sampled flattened map (and its sum, sum of squares and max |value|) and its channel means;
  /// max |Δ| within `relative` · max |ref|.
  static func expectTap(
    _ flat: [Float], key: String, layer: LayerInfo, expected: StateDict, relative: Double = ParityReport.f32RelativeBound
  ) throws {
    let length = layer.featureLength(.flatten)
    #expect(flat.count == 4 * length, "\(key)")
    if let whole = expected.tensors[key] {
      let report = ParityReport(actual: flat, reference: whole.values, rows: 4, label: key)
      #expect(report.passes(relative: relative), "\(key): \(report)")
    } else {
      try expectSampledTap(flat, key: key, layer: layer, expected: expected, relative: relative)
    }
  }

  /// A map tap against the reference's sample of it (`.values` at the reference's positions), its
  /// per-image sum, sum of squares and max |value| (`.stats`) and its channel means (`.avg`).
  static func expectSampledTap(_ flat: [Float], key: String, layer: LayerInfo, expected: StateDict, relative: Double) throws {
    let length = layer.featureLength(.flatten)
    let sampled = try #require(expected.tensors[key + ".values"], "\(key).values")
    let values = sampled.values
    let positions = FullSizeParityTests.referencePositions(count: length, n: sampled.shape[1])
    let picked = (0..<4).flatMap { image in positions.map { flat[image * length + $0] } }
    let map = ParityReport(actual: picked, reference: values, rows: 4, label: "\(key) sampled map")
    #expect(map.passes(relative: relative), "\(key) sampled map: \(map)")

    let stats = try #require(expected.tensors[key + ".stats"], "\(key).stats").values.map(Double.init)
    for image in 0..<4 {
      let row = flat[(image * length)..<((image + 1) * length)]
      let sum = row.reduce(0.0) { $0 + Double($1) }
      let squares = row.reduce(0.0) { $0 + Double($1) * Double($1) }
      let maxAbs = row.reduce(0.0) { max($0, abs(Double($1))) }
      #expect(abs(squares - stats[image * 3 + 1]) <= 1e-4 * stats[image * 3 + 1], "\(key) image \(image) sum of squares")
      #expect(abs(maxAbs - stats[image * 3 + 2]) <= 1e-4 * stats[image * 3 + 2], "\(key) image \(image) max |value|")
      #expect(abs(sum - stats[image * 3]) <= 1e-4 * (squares * Double(length)).squareRoot(), "\(key) image \(image) sum")
    }

    let channels = layer.shape[0]
    let plane = length / channels
    var means = [Float](repeating: 0, count: 4 * channels)
    for image in 0..<4 {
      for c in 0..<channels {
        let start = image * length + c * plane
        means[image * channels + c] = Float(flat[start..<(start + plane)].reduce(0.0) { $0 + Double($1) } / Double(plane))
      }
    }
    let average = try #require(expected.tensors[key + ".avg"], "\(key).avg").values
    let report = ParityReport(actual: means, reference: average, rows: 4, label: "\(key) channel means")
    #expect(report.passes(relative: relative), "\(key) channel means: \(report)")
  }

  /// oneDNN's own average pooling of a map (not the mean computed above) on the last map of each family.
  @Test(arguments: archs)
  func averagePoolingOfTheLastMap(arch: Architecture) throws {
    let expected = try Self.reference(arch)
    let size = Self.pixels(arch).size
    let layers = try arch.config.layerInfo(height: size, width: size, arch: arch.rawValue)
    let last = try #require(layers.last { $0.shape[1] > 1 })
    let backbone = try Backbone(
      arch: arch, weights: RandomWeights.stateDict(config: arch.config, seed: 0), layer: last.name, pooling: .avg, threads: 2)
    let pooled = try Self.run(backbone, try Self.inputs(arch), size: size)
    let reference = try #require(expected.tensors["\(arch.rawValue).\(last.name).avg"]).values
    let report = ParityReport(actual: pooled, reference: reference, rows: 4, label: "\(arch) \(last.name) avg")
    #expect(report.passes(), "\(arch) \(last.name) avg: \(report)")
  }

  static func generatedFile(_ arch: Architecture) -> String {
    TestPaths.generatedWeights.appendingPathComponent("\(arch.rawValue)-random0.\(arch == .rdnet_tiny ? "bin" : "pth")").path
  }

  /// torch.save files of the full models, auxiliary classifiers included (scripts/make-test-weights):
  /// they pass the checks and hold exactly the rule's values for every tensor features use.
  @Test(
    .enabled(
      if: archs.allSatisfy { FileManager.default.fileExists(atPath: generatedFile($0)) },
      "needs scripts/make-test-weights (.cache/test-weights), which a machine without the torch wheel cannot run"),
    arguments: archs)
  func savedFilesHoldTheRulesValues(arch: Architecture) throws {
    let file = try Checkpoint.load(path: Self.generatedFile(arch))
    let backbone = try Backbone(arch: arch, weights: file, threads: 2)
    let rule = RandomWeights.stateDict(config: arch.config, seed: 0)
    #expect(file.keys.count == arch.config.parameters.count, "every registered key, aux classifiers included")
    for key in rule.keys {
      #expect(backbone.weights.tensors[key]?.values == rule.tensors[key]?.values, "\(arch) \(key)")
    }
  }

  /// The taps, shapes and state_dict keys featx expects are exactly the reference's.
  @Test(arguments: archs)
  func layersAndShapesAreTheReferences(arch: Architecture) throws {
    let json =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: TestPaths.fixture("backbones/families.json"))) as? [String: Any]
    let models = try #require(json?["models"] as? [String: Any])
    let model = try #require(models[arch.rawValue] as? [String: Any], "families.json has no \(arch)")
    let shapes = try #require(model["taps"] as? [String: Any])
    let size = Self.pixels(arch).size
    let layers = try arch.config.layerInfo(height: size, width: size, arch: arch.rawValue)
    #expect(Set(layers.map(\.name)) == Set(shapes.keys))
    for layer in layers {
      let shape = ((shapes[layer.name] as? [String: Any])?["shape"] as? [Int]) ?? []
      #expect(
        shape == layer.shape || shape == [layer.shape[0]], "\(arch) \(layer.name): reference \(shape), featx \(layer.shape)")
    }
    #expect(model["state_dict_entries"] as? Int == arch.config.parameters.count, "\(arch): state_dict entries")
  }
}

/// A reduced-width RDNet built by timm's own class, saved as the hub's `pytorch_model.bin` (plain
/// state_dict) and in NAVER's layout (`{"model": ...}` with `stem.stem.` keys), against timm's outputs
/// at every tap (fixture: tools/make_rdnet_tiny.py).
@Suite(.parityLog) struct TinyRDNetTests {
  static let config = ArchitectureConfig.rdNet(
    RDNet.Config(
      initFeatures: 16, growthRates: [8, 16, 16, 16, 16, 16, 24], blocks: Array(repeating: 2, count: 7),
      downsample: [false, true, true, false, false, false, true],
      squeezeExcite: [false, false] + Array(repeating: true, count: 5),
      numClasses: 10))

  static func manifest() throws -> [String: Any] {
    let json =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: TestPaths.fixture("backbones/tiny/rdnet_manifest.json"))) as? [String: Any]
    return try #require((json?["models"] as? [[String: Any]])?.first)
  }

  @Test func keysAndTheirOrderAreTimms() throws {
    let keys = Self.config.parameters.map(\.name)
    let model = try Self.manifest()
    #expect(keys == model["state_dict_keys"] as? [String])
    #expect(try SHA256.hex(Array(keys.joined(separator: "\n").utf8)) == model["state_dict_keys_sha256"] as? String)
  }

  @Test func everyTapMatchesTimm() throws {
    let weights = try Checkpoint.load(path: TestPaths.fixture("backbones/tiny/rdnet.bin").path)
    let expected = try Checkpoint.load(path: TestPaths.fixture("backbones/tiny/rdnet.safetensors").path)
    let input = TinyModelParityTests.input(seed: 1, count: 2 * 3 * 64 * 64)
    for layer in Self.config.layers {
      let backbone = try Backbone(name: "rdnet", config: Self.config, weights: weights, layer: layer, threads: 2)
      let out = try FamilyParityTests.run(backbone, input, size: 64)
      let reference = try #require(expected.tensors[layer], "rdnet.safetensors has no \(layer)")
      #expect(reference.values.count == out.count, "\(layer) shape \(reference.shape)")
      let report = ParityReport(actual: out, reference: reference.values, rows: 2, label: "tiny rdnet \(layer)")
      #expect(report.passes(), "tiny rdnet \(layer): \(report)")
    }
  }
}
