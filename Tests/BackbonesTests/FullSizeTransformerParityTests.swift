import Backbones
import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// Full-size transformers and ConvNeXt-T against timm on featx-random-v1 seed-0 weights (regenerated here:
/// VisionTransformerParityTests proves the rule's rows equal tools/make_weights.py's), on the four reference
/// images (fixture: tools/make_vit_fullsize_fixtures.py → Tests/Fixtures/vit/fullsize.*): DINOv2 ViT-S/14 at
/// its 518 and, with its position table resampled as timm does, at 224; CLIP ViT-B/16 with QuickGELU; SigLIP
/// ViT-B/16; DeiT-S; ConvNeXt-T. Also the resampling alone on a reduced DINOv2 trained at 98 px run at 224.
@Suite(.serialized, .parityLog) struct FullSizeTransformerParityTests {
  struct Model: Sendable, CustomStringConvertible {
    var key: String
    var arch: Architecture
    var size = 224
    /// The deep map compared sampled (with its per-token or per-channel means and per-image sums).
    var map: String
    var description: String { key }
  }

  static let models = [
    Model(key: "dinov2_s14_518", arch: .vit_small_patch14_dinov2, size: 518, map: "blocks.11"),
    Model(key: "dinov2_s14_224", arch: .vit_small_patch14_dinov2, map: "blocks.11"),
    Model(key: "clip_b16_quickgelu", arch: .vit_base_patch16_clip_quickgelu_224, map: "blocks.11"),
    Model(key: "siglip_b16", arch: .vit_base_patch16_siglip_224, map: "norm"),
    Model(key: "deit_s16", arch: .deit_small_patch16_224, map: "blocks.11"),
    Model(key: "convnext_tiny", arch: .convnext_tiny, map: "stages.3"),
  ]

  static func fixture(_ name: String) -> URL { TestPaths.fixture("vit/\(name)") }

  /// The network input: the 224 crops of the EfficientNet fixtures, or DINOv2's 518 crops (timm's eval
  /// transform, PNG), normalised with the model's mean and std.
  static func inputs(_ key: String, size: Int) throws -> [Float] {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("fullsize.json"))) as? [String: Any]
    let entry = try #require((json?["models"] as? [String: Any])?[key] as? [String: Any])
    return try VisionTransformerParityTests.normalised(entry, size: size) { id in
      size == 518 ? fixture("pixels/\(id).dinov2_518.png") : TestPaths.fixture("efficientnet/pixels/\(id).lite.png")
    }
  }

  @Test(arguments: models)
  func finalFeaturesAndTheDeepMapMatchTimm(model: Model) throws {
    let expected = try Checkpoint.load(path: Self.fixture("fullsize.safetensors").path)
    let weights = RandomWeights.stateDict(config: model.arch.config, seed: 0)
    let input = try Self.inputs(model.key, size: model.size)
    let layers = try model.arch.config.layerInfo(height: model.size, width: model.size, arch: model.arch.rawValue)
    for name in ["pre_logits", model.map] {
      let layer = try #require(layers.first { $0.name == name })
      let backbone = try Backbone(arch: model.arch, weights: weights, layer: name, threads: 2)
      let flat = try FamilyParityTests.run(backbone, input, size: model.size)
      try FamilyParityTests.expectTap(flat, key: "\(model.key).\(name)", layer: layer, expected: expected)
    }
    if let average = expected.tensors["\(model.key).patch_avg"] {
      let backbone = try Backbone(arch: model.arch, weights: weights, layer: "norm", pooling: .avg, threads: 2)
      let report = ParityReport(
        actual: try FamilyParityTests.run(backbone, input, size: model.size), reference: average.values, rows: 4,
        label: "\(model.key) patch tokens' mean")
      #expect(report.passes(relative: ParityReport.f32RelativeBound), "\(report)")
    }
  }

  /// A reduced DINOv2 whose position table was trained for a 7×7 grid (98 px), run at 224 (16×16): timm
  /// resamples the table (bicubic, antialias) when it loads the weights, featx when it compiles.
  @Test func positionTableResampledToTheInputGrid() throws {
    var c = try VisionTransformerParityTests.dinov2Small()
    (c.width, c.depth, c.heads, c.mlpWidth, c.imageSize) = (48, 2, 3, 192, 98)
    let config = ArchitectureConfig.visionTransformer(c)
    let expected = try Checkpoint.load(path: Self.fixture("reference_dinov2_s14_98.safetensors").path)
    let weights = RandomWeights.stateDict(config: config, seed: 0)
    #expect(weights.tensors["pos_embed"]?.shape == [1, 50, 48])
    let input = try VisionTransformerParityTests.inputs("dinov2_s14")
    for layer in try config.layerInfo(height: 224, width: 224, arch: "dinov2")
    where ["blocks.1", "pre_logits"].contains(layer.name) {
      let backbone = try Backbone(name: "dinov2", config: config, weights: weights, layer: layer.name, threads: 2)
      let flat = try FamilyParityTests.run(backbone, input, size: 224)
      try FamilyParityTests.expectTap(flat, key: "dinov2_s14_98.\(layer.name)", layer: layer, expected: expected)
    }
  }
}
