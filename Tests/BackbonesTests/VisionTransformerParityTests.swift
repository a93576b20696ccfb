import Backbones
import DNNL
import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// Vision transformers against timm and torchvision at every tap, on the four reference images (the 224 crops
/// of Tests/Fixtures/efficientnet/pixels) normalised with each model's own mean and std (fixture:
/// tools/make_vit_fixtures.py → Tests/Fixtures/vit/): featx-random-v1 seed-0 weights for reduced-width models
/// (48 wide, 2 blocks, 3 heads) of every switch timm's tags set (DINOv2's layer scale and registers, CLIP's
/// pre-norm and QuickGELU, AugReg and DeiT) and torchvision's layout.
@Suite(.serialized, .parityLog) struct VisionTransformerParityTests {
  struct Model: Sendable, CustomStringConvertible {
    var key: String
    var arch: Architecture
    /// The fixture's classifier outputs (timm's default tag for the model: 0, 512 or 1000).
    var classes = 1000
    var description: String { key }

    /// The tag's switches at the fixture's reduced size (ConvNeXt: depths 1, 1, 2, 1, dims 16, 24, 32, 40).
    var config: ArchitectureConfig {
      switch arch.config {
      case .visionTransformer(var c):
        (c.width, c.depth, c.heads, c.mlpWidth, c.imageSize) = (48, 2, 3, 192, 224)
        c.numClasses = classes
        c.projection = c.projection && classes == 512
        return .visionTransformer(c)
      case .convNeXt(var c):
        (c.depths, c.dims) = ([1, 1, 2, 1], [16, 24, 32, 40])
        if key.hasPrefix("tv_") { c.layout = .torchvision }
        return .convNeXt(c)
      default: return arch.config
      }
    }

    var classToken: Bool {
      guard case .visionTransformer(let c) = config else { return false }
      return c.classToken
    }
  }

  static let models = [
    Model(key: "dinov2_s14", arch: .vit_small_patch14_dinov2, classes: 0),
    Model(key: "dinov2_s14_reg4", arch: .vit_small_patch14_reg4_dinov2, classes: 0),
    Model(key: "clip_b16", arch: .vit_base_patch16_clip_224),
    Model(key: "clip_b16_quickgelu", arch: .vit_base_patch16_clip_quickgelu_224, classes: 512),
    Model(key: "vit_b16", arch: .vit_base_patch16_224),
    Model(key: "deit_s16", arch: .deit_small_patch16_224),
    Model(key: "tv_vit_b16", arch: .vit_b_16),
    Model(key: "siglip_b16", arch: .vit_base_patch16_siglip_224, classes: 0),
    Model(key: "convnext", arch: .convnext_tiny),
    Model(key: "tv_convnext", arch: .convnext_tiny),
  ]

  static var transformers: [Model] { models.filter { if case .visionTransformer = $0.config { true } else { false } } }

  static func fixture(_ name: String) -> URL { TestPaths.fixture("vit/\(name)") }

  struct NotATransformer: Error {}

  /// vit_small_patch14_dinov2's configuration, which the reduced DINOv2 tests modify.
  static func dinov2Small() throws -> VisionTransformer.Config {
    guard case .visionTransformer(let c) = Architecture.vit_small_patch14_dinov2.config else { throw NotATransformer() }
    return c
  }

  static func entry(_ key: String) throws -> [String: Any] {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("vit.json"))) as? [String: Any]
    return try #require((json?["models"] as? [String: Any])?[key] as? [String: Any], "vit.json has no \(key)")
  }

  /// The network input of the four images: the PNG crop, ToTensor, Normalize with the model's mean and std.
  static func inputs(_ key: String) throws -> [Float] {
    try normalised(entry(key), size: 224) { TestPaths.fixture("efficientnet/pixels/\($0).lite.png") }
  }

  /// The four reference images' `size` crops (`png(id)`), normalised with the mean and std of a fixture's
  /// model entry.
  static func normalised(_ entry: [String: Any], size: Int, png: (String) -> URL) throws -> [Float] {
    var p = Preprocessing.imagenet
    p.crop = [size, size]
    p.mean = try #require(entry["mean"] as? [Double]).map(Float.init)
    p.std = try #require(entry["std"] as? [Double]).map(Float.init)
    var all: [Float] = []
    for id in FullSizeParityTests.order {
      let image = try ImageDecoder().decode(path: png(id).path)
      #expect(image.width == size && image.height == size)
      var tensor = [Float](repeating: 0, count: 3 * size * size)
      tensor.withUnsafeMutableBufferPointer { p.tensor(image, into: $0) }
      all += tensor
    }
    return all
  }

  /// featx's seeded random weights are the fixture's file, tensor for tensor (the rule's token, layer-scale
  /// and in_proj rows included).
  @Test(arguments: models)
  func randomWeightsAreTheFixtures(model: Model) throws {
    let file = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let ours = RandomWeights.stateDict(config: model.config, seed: 0, classifier: true)
    #expect(Set(ours.keys) == Set(file.keys), "\(model): keys")
    #expect(ours.keys == file.keys.filter { ours.tensors[$0] != nil }, "\(model): the reference's order")
    for key in ours.keys {
      #expect(ours.tensors[key]?.values == file.tensors[key]?.values, "\(model): \(key)")
      #expect(ours.tensors[key]?.shape == file.tensors[key]?.shape, "\(model): \(key) shape")
    }
  }

  /// Every tap, token maps sampled (with per-token means and per-image sums) and final vectors whole.
  @Test(arguments: models)
  func everyTapMatchesTheReference(model: Model) throws {
    let expected = try Checkpoint.load(path: Self.fixture("reference_\(model.key).safetensors").path)
    let weights = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let input = try Self.inputs(model.key)
    let separate: Set = ["proj", "last4_avg"]  // tested on their own below
    for layer in try model.config.layerInfo(height: 224, width: 224, arch: model.key) where !separate.contains(layer.name) {
      let backbone = try Backbone(name: model.key, config: model.config, weights: weights, layer: layer.name, threads: 2)
      let flat = try FamilyParityTests.run(backbone, input, size: 224)
      try FamilyParityTests.expectTap(flat, key: "\(model.key).\(layer.name)", layer: layer, expected: expected)
    }
  }

  /// CLIP's `proj` layer is the image embedding: the reference's pre_logits times the 512-wide head
  /// (OpenAI's projection), computed here in double precision.
  @Test func clipProjectionIsTheHeadOfPreLogits() throws {
    let model = Self.models[3]
    let expected = try Checkpoint.load(path: Self.fixture("reference_\(model.key).safetensors").path)
    let weights = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let preLogits = try #require(expected.tensors["\(model.key).pre_logits"]).values
    let (w, b) = (try #require(weights.tensors["head.weight"]).values, try #require(weights.tensors["head.bias"]).values)
    var reference: [Float] = []
    for image in 0..<4 {
      for o in 0..<512 {
        var sum = Double(b[o])
        for i in 0..<48 { sum += Double(w[o * 48 + i]) * Double(preLogits[image * 48 + i]) }
        reference.append(Float(sum))
      }
    }
    let backbone = try Backbone(name: model.key, config: model.config, weights: weights, layer: "proj", threads: 2)
    let out = try FamilyParityTests.run(backbone, try Self.inputs(model.key), size: 224)
    let report = ParityReport(actual: out, reference: reference, rows: 4, label: "clip proj")
    #expect(report.passes(relative: ParityReport.f32RelativeBound), "\(report)")
  }

  /// `last4_avg` is DINOv2's linear-evaluation input with n = 4 (here both blocks of the reduced models):
  /// each block's class token through the final norm, then the last block's patch mean. The fixture holds
  /// `get_intermediate_layers(n=2, return_prefix_tokens=True, norm=True)` as [cls0, avg0, cls1, avg1].
  @Test(arguments: [models[0], models[1]])
  func dinov2LinearEvaluationFeature(model: Model) throws {
    let expected = try Checkpoint.load(path: Self.fixture("reference_\(model.key).safetensors").path)
    let weights = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let intermediate = try #require(expected.tensors["\(model.key).last4_avg"]).values
    var reference: [Float] = []
    for image in 0..<4 {
      let row = Array(intermediate[(image * 192)..<((image + 1) * 192)])
      reference += row[0..<48] + row[96..<144] + row[144..<192]
    }
    let backbone = try Backbone(name: model.key, config: model.config, weights: weights, layer: "last4_avg", threads: 2)
    let layer = try #require(
      try model.config.layerInfo(height: 224, width: 224, arch: model.key).first { $0.name == "last4_avg" })
    #expect(layer.featureLength(.flatten) == 144)
    let report = ParityReport(
      actual: try FamilyParityTests.run(backbone, try Self.inputs(model.key), size: 224), reference: reference, rows: 4,
      label: "\(model.key) last4_avg")
    #expect(report.passes(relative: ParityReport.f32RelativeBound), "\(report)")
  }

  /// Meta's DINOv2 layout (`register_tokens`, a position row for the class token, `mask_token`) reads as
  /// timm's, as timm's `_convert_dinov2` converts it: identical features.
  @Test func metaDinov2CheckpointReadsAsTimms() throws {
    let model = Self.models[1]
    let timm = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    var meta = StateDict(
      keys: ["cls_token", "pos_embed", "register_tokens", "mask_token"], tensors: [:], source: "meta", sha256: "")
    let table = try #require(timm.tensors["pos_embed"])
    meta.tensors["cls_token"] = timm.tensors["cls_token"]
    // Meta's table has a row for the class token; timm's class token holds cls + that row (zero here).
    meta.tensors["pos_embed"] = WeightTensor(shape: [1, 257, 48], values: [Float](repeating: 0, count: 48) + table.values)
    meta.tensors["register_tokens"] = timm.tensors["reg_token"]
    meta.tensors["mask_token"] = WeightTensor(shape: [1, 48], values: [Float](repeating: 0.25, count: 48))
    for key in timm.keys where !["cls_token", "pos_embed", "reg_token"].contains(key) {
      meta.keys.append(key)
      meta.tensors[key] = timm.tensors[key]
    }
    let input = try Self.inputs(model.key)
    let ours = try Backbone(name: "vit_small_patch14_reg4_dinov2", config: model.config, weights: meta, threads: 2)
    let reference = try Backbone(name: "vit_small_patch14_reg4_dinov2", config: model.config, weights: timm, threads: 2)
    #expect(try FamilyParityTests.run(ours, input, size: 224) == FamilyParityTests.run(reference, input, size: 224))
  }

  /// OpenAI's and OpenCLIP's CLIP layout (`visual.conv1`, `visual.transformer.resblocks.N.attn.in_proj_weight`,
  /// `visual.proj`, text tower beside it) reads as timm's, as `_convert_openai_clip` converts it.
  @Test func openAIClipCheckpointReadsAsTimms() throws {
    let model = Self.models[3]
    let timm = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    var clip = StateDict(keys: [], tensors: [:], source: "clip", sha256: "")
    func put(_ key: String, _ tensor: WeightTensor?) {
      clip.keys.append(key)
      clip.tensors[key] = tensor
    }
    put("token_embedding.weight", WeightTensor(shape: [10, 8], values: [Float](repeating: 1, count: 80)))
    put("transformer.resblocks.0.attn.in_proj_weight", WeightTensor(shape: [24, 8], values: [Float](repeating: 1, count: 192)))
    put("visual.class_embedding", timm.tensors["cls_token"].map { WeightTensor(shape: [48], values: $0.values) })
    put("visual.positional_embedding", timm.tensors["pos_embed"].map { WeightTensor(shape: [197, 48], values: $0.values) })
    put("visual.conv1.weight", timm.tensors["patch_embed.proj.weight"])
    put("visual.ln_pre.weight", timm.tensors["norm_pre.weight"])
    put("visual.ln_pre.bias", timm.tensors["norm_pre.bias"])
    let renames = [
      ("norm1", "ln_1"), ("norm2", "ln_2"), ("attn.qkv.", "attn.in_proj_"), ("attn.proj", "attn.out_proj"),
      ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
    ]
    for key in timm.keys where key.hasPrefix("blocks.") {
      var name = key.replacingOccurrences(of: "blocks.", with: "transformer.resblocks.")
      for (from, to) in renames { name = name.replacingOccurrences(of: from, with: to) }
      put("visual." + name, timm.tensors[key])
    }
    put("visual.ln_post.weight", timm.tensors["norm.weight"])
    put("visual.ln_post.bias", timm.tensors["norm.bias"])
    let head = try #require(timm.tensors["head.weight"]).values
    var projection = [Float](repeating: 0, count: 48 * 512)
    for o in 0..<512 { for i in 0..<48 { projection[i * 512 + o] = head[o * 48 + i] } }
    put("visual.proj", WeightTensor(shape: [48, 512], values: projection))
    var zeroBias = timm
    zeroBias.tensors["head.bias"] = WeightTensor(shape: [512], values: [Float](repeating: 0, count: 512))
    let input = try Self.inputs(model.key)
    let name = "vit_base_patch16_clip_quickgelu_224"
    for layer in ["pre_logits", "proj"] {
      let ours = try Backbone(name: name, config: model.config, weights: clip, layer: layer, threads: 2)
      let reference = try Backbone(name: name, config: model.config, weights: zeroBias, layer: layer, threads: 2)
      #expect(try FamilyParityTests.run(ours, input, size: 224) == FamilyParityTests.run(reference, input, size: 224), "\(layer)")
    }
    // The text tower alone is refused, naming what is missing.
    let text = StateDict(
      keys: Array(clip.keys.prefix(2)), tensors: clip.tensors.filter { !$0.key.hasPrefix("visual.") }, source: "text.pt",
      sha256: "")
    #expect {
      try Backbone(name: name, config: model.config, weights: text)
    } throws: { error in
      "\(error)".contains("text.pt: does not hold \(name) weights: it holds only CLIP's text tower")
    }
  }

  /// The token poolings of the final norm: the mean of the patch tokens, and DINOv2's class token + mean.
  @Test(arguments: transformers)
  func tokenPoolingsMatchTheReference(model: Model) throws {
    let expected = try Checkpoint.load(path: Self.fixture("reference_\(model.key).safetensors").path)
    let weights = try Checkpoint.load(path: Self.fixture("random_\(model.key).safetensors").path)
    let input = try Self.inputs(model.key)
    let average = try #require(expected.tensors["\(model.key).patch_avg"]).values
    let token = try #require(expected.tensors["\(model.key).pre_logits"]).values
    for pooling in model.classToken ? [Pooling.avg, .token, .tokenAvg] : [.avg] {
      let backbone = try Backbone(
        name: model.key, config: model.config, weights: weights, layer: "norm", pooling: pooling, threads: 2)
      let out = try FamilyParityTests.run(backbone, input, size: 224)
      var reference: [Float] = []
      for image in 0..<4 {
        let row = (image * 48)..<((image + 1) * 48)
        if pooling != .avg { reference += token[row] }
        if pooling != .token { reference += average[row] }
      }
      let report = ParityReport(actual: out, reference: reference, rows: 4, label: "\(model.key) norm \(pooling)")
      #expect(report.passes(relative: ParityReport.f32RelativeBound), "\(report)")
    }
  }

  /// The layers and their shapes are the reference's, and so is the number of state_dict entries.
  @Test(arguments: models)
  func layersAndKeysAreTheReferences(model: Model) throws {
    let entry = try Self.entry(model.key)
    #expect(entry["state_dict_entries"] as? Int == model.config.parameters.count, "\(model): state_dict entries")
    let layers = try model.config.layerInfo(height: 224, width: 224, arch: model.key)
    let taps = try #require(entry["taps"] as? [String: Any])
    for layer in layers where layer.name != "proj" && layer.name != "last4_avg" {
      let shape = ((taps[layer.name] as? [String: Any])?["shape"] as? [Int]) ?? []
      #expect(
        shape.suffix(layer.shape.count) == layer.shape[...] || shape == [layer.shape[0]],
        "\(model) \(layer.name): \(shape) vs \(layer.shape)")
    }
  }
}

/// oneDNN runs every primitive of the new families with a tuned kernel: a `ref` implementation would be a
/// reference loop many times slower. In float32 everywhere; in bfloat16 where the CPU has it.
@Suite struct TransformerKernelTests {
  @Test(arguments: VisionTransformerParityTests.models)
  func noPrimitiveRunsAReferenceKernel(model: VisionTransformerParityTests.Model) throws {
    try Self.expectTunedKernels(model, precision: .float32)
  }

  @Test(
    .enabled(if: CPU.nativeBFloat16, "this CPU has no native bfloat16 (AVX512_BF16 or AMX)"),
    arguments: VisionTransformerParityTests.models)
  func noBFloat16PrimitiveRunsAReferenceKernel(model: VisionTransformerParityTests.Model) throws {
    try Self.expectTunedKernels(model, precision: .bfloat16)
  }

  static func expectTunedKernels(_ model: VisionTransformerParityTests.Model, precision: Precision) throws {
    let weights = RandomWeights.stateDict(config: model.config, seed: 0, classifier: true)
    let layers = try model.config.layerInfo(height: 224, width: 224, arch: model.key)
    for layer in layers {
      for pooling in layer.poolings {
        let backbone = try Backbone(
          name: model.key, config: model.config, weights: weights, layer: layer.name, pooling: pooling, threads: 1,
          precision: precision)
        let kernels = try backbone.implementations(height: 224, width: 224, batch: 8)
        #expect(kernels.count >= 3, "\(model) \(layer.name)")
        for (what, implementation) in kernels {
          #expect(
            !implementation.isEmpty && !implementation.hasPrefix("ref"),
            "\(model) \(layer.name) \(pooling) \(precision): \(what) runs \(implementation)")
        }
      }
    }
  }
}

/// What a transformer refuses: sizes off its patch grid, poolings it has no tokens for, bfloat16 (not yet).
@Suite struct VisionTransformerInputTests {
  @Test func inputOffThePatchGridNamesTheNearestSizes() throws {
    let weights = RandomWeights.stateDict(config: Architecture.deit_small_patch16_224.config, seed: 0)
    let backbone = try Backbone(arch: .deit_small_patch16_224, weights: weights, threads: 1)
    #expect {
      try backbone.outputShape(height: 230, width: 224)
    } throws: { error in
      "\(error)"
        == "input 230x224 is not a multiple of deit_small_patch16_224's 16-pixel patch: use a crop of 224 or 240 x 224 (--crop)"
    }
  }

  /// The hub's config.json of a DINOv2 tag names an architecture featx builds, and its data config is
  /// what featx uses for these weights without one (518 px, crop_pct 1, bicubic, ImageNet's mean and std).
  @Test func hubConfigOfDinov2IsRead() throws {
    let json = """
      {"architecture": "vit_small_patch14_dinov2", "num_classes": 0, "pretrained_cfg": {"tag": "lvd142m",
       "input_size": [3, 518, 518], "crop_pct": 1.0, "interpolation": "bicubic",
       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "num_classes": 0}}
      """
    let config = try TimmConfig.parse(Array(json.utf8), path: "config.json")
    #expect(try config.architecture() == .vit_small_patch14_dinov2)
    #expect(TimmConfig.publishedData(.vit_small_patch14_dinov2) == config.data)
    #expect(Architecture.vit_small_patch14_dinov2.evaluationSize == 518)
  }

  /// Weights whose position table was trained for another input size than the tag's (a DINOv2 file saved
  /// at 98 px given as vit_small_patch14_dinov2, whose tag says 518) run as trained, resampled to the input.
  @Test func positionTableSizeComesFromTheWeights() throws {
    var c = try VisionTransformerParityTests.dinov2Small()
    (c.width, c.depth, c.heads, c.mlpWidth, c.imageSize) = (48, 2, 3, 192, 98)
    let weights = RandomWeights.stateDict(config: .visionTransformer(c), seed: 0)
    let trained = try Backbone(name: "vit_small_patch14_dinov2", config: .visionTransformer(c), weights: weights, threads: 1)
    c.imageSize = 518
    let tagged = try Backbone(name: "vit_small_patch14_dinov2", config: .visionTransformer(c), weights: weights, threads: 1)
    let input = try VisionTransformerParityTests.inputs("dinov2_s14")
    #expect(try FamilyParityTests.run(tagged, input, size: 224) == FamilyParityTests.run(trained, input, size: 224))
  }

  @Test func maxPoolingOfTokensIsRefused() throws {
    let weights = RandomWeights.stateDict(config: Architecture.deit_small_patch16_224.config, seed: 0)
    let backbone = try Backbone(arch: .deit_small_patch16_224, weights: weights, layer: "blocks.3", pooling: .max, threads: 1)
    #expect {
      try backbone.outputShape(height: 224, width: 224)
    } throws: { error in
      "\(error)" == "pooling max does not apply to layer blocks.3; choose one of: flatten, avg, token, token+avg"
    }
  }

  @Test func classTokenPoolingOfPatchEmbeddingsIsRefused() throws {
    let weights = RandomWeights.stateDict(config: Architecture.deit_small_patch16_224.config, seed: 0)
    let backbone = try Backbone(
      arch: .deit_small_patch16_224, weights: weights, layer: "patch_embed", pooling: .token, threads: 1)
    #expect {
      try backbone.outputShape(height: 224, width: 224)
    } throws: { error in
      "\(error)" == "pooling token does not apply to layer patch_embed; choose one of: flatten, avg"
    }
  }
}
