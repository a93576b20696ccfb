/// The backbones featx knows by name, with torchvision's hyper-parameters.
public enum Architecture: String, CaseIterable, Sendable {
  case densenet121, densenet161, densenet169, densenet201
  case resnet18, resnet34, resnet50, resnet101, resnet152
  case resnext50_32x4d, resnext101_32x8d
  case inception_v3, googlenet
  case rdnet_tiny, rdnet_small, rdnet_base, rdnet_large
  case efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, efficientnet_b5
  case efficientnet_b6, efficientnet_b7
  case efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, efficientnet_lite3, efficientnet_lite4
  case tf_efficientnet_lite0, tf_efficientnet_lite1, tf_efficientnet_lite2, tf_efficientnet_lite3, tf_efficientnet_lite4
  case vit_small_patch14_dinov2, vit_base_patch14_dinov2, vit_large_patch14_dinov2
  case vit_small_patch14_reg4_dinov2, vit_base_patch14_reg4_dinov2, vit_large_patch14_reg4_dinov2
  case vit_base_patch16_clip_224, vit_base_patch32_clip_224, vit_base_patch16_clip_quickgelu_224
  case vit_base_patch32_clip_quickgelu_224
  case vit_base_patch16_224, deit_small_patch16_224, deit_base_patch16_224
  case vit_base_patch16_siglip_224
  case vit_b_16, vit_b_32, vit_l_16
  case convnext_tiny, convnext_small, convnext_base, convnext_large

  /// The architecture's hyper-parameters.
  public var config: ArchitectureConfig {
    switch self {
    case .densenet121: .denseNet(.densenet121)
    case .densenet161: .denseNet(.densenet161)
    case .densenet169: .denseNet(.densenet169)
    case .densenet201: .denseNet(.densenet201)
    case .resnet18: .resNet(.resnet18)
    case .resnet34: .resNet(.resnet34)
    case .resnet50: .resNet(.resnet50)
    case .resnet101: .resNet(.resnet101)
    case .resnet152: .resNet(.resnet152)
    case .resnext50_32x4d: .resNet(.resnext50_32x4d)
    case .resnext101_32x8d: .resNet(.resnext101_32x8d)
    case .inception_v3: .inceptionV3
    case .googlenet: .googLeNet
    case .rdnet_tiny: .rdNet(.tiny)
    case .rdnet_small: .rdNet(.small)
    case .rdnet_base: .rdNet(.base)
    case .rdnet_large: .rdNet(.large)
    case .efficientnet_b0: .efficientNet(.b(0))
    case .efficientnet_b1: .efficientNet(.b(1))
    case .efficientnet_b2: .efficientNet(.b(2))
    case .efficientnet_b3: .efficientNet(.b(3))
    case .efficientnet_b4: .efficientNet(.b(4))
    case .efficientnet_b5: .efficientNet(.b(5))
    case .efficientnet_b6: .efficientNet(.b(6))
    case .efficientnet_b7: .efficientNet(.b(7))
    case .efficientnet_lite0: .efficientNet(.lite(0, tf: false))
    case .efficientnet_lite1: .efficientNet(.lite(1, tf: false))
    case .efficientnet_lite2: .efficientNet(.lite(2, tf: false))
    case .efficientnet_lite3: .efficientNet(.lite(3, tf: false))
    case .efficientnet_lite4: .efficientNet(.lite(4, tf: false))
    case .tf_efficientnet_lite0: .efficientNet(.lite(0, tf: true))
    case .tf_efficientnet_lite1: .efficientNet(.lite(1, tf: true))
    case .tf_efficientnet_lite2: .efficientNet(.lite(2, tf: true))
    case .tf_efficientnet_lite3: .efficientNet(.lite(3, tf: true))
    case .tf_efficientnet_lite4: .efficientNet(.lite(4, tf: true))
    case .vit_small_patch14_dinov2: .visionTransformer(.dinov2(384, depth: 12, heads: 6))
    case .vit_base_patch14_dinov2: .visionTransformer(.dinov2(768, depth: 12, heads: 12))
    case .vit_large_patch14_dinov2: .visionTransformer(.dinov2(1024, depth: 24, heads: 16))
    case .vit_small_patch14_reg4_dinov2: .visionTransformer(.dinov2(384, depth: 12, heads: 6, registers: 4))
    case .vit_base_patch14_reg4_dinov2: .visionTransformer(.dinov2(768, depth: 12, heads: 12, registers: 4))
    case .vit_large_patch14_reg4_dinov2: .visionTransformer(.dinov2(1024, depth: 24, heads: 16, registers: 4))
    case .vit_base_patch16_clip_224: .visionTransformer(.clip(patch: 16, quickGelu: false))
    case .vit_base_patch32_clip_224: .visionTransformer(.clip(patch: 32, quickGelu: false))
    case .vit_base_patch16_clip_quickgelu_224: .visionTransformer(.clip(patch: 16, quickGelu: true))
    case .vit_base_patch32_clip_quickgelu_224: .visionTransformer(.clip(patch: 32, quickGelu: true))
    case .vit_base_patch16_224: .visionTransformer(.init(patchSize: 16, width: 768, depth: 12, heads: 12))
    case .deit_small_patch16_224: .visionTransformer(.init(patchSize: 16, width: 384, depth: 12, heads: 6))
    case .deit_base_patch16_224: .visionTransformer(.init(patchSize: 16, width: 768, depth: 12, heads: 12))
    case .vit_base_patch16_siglip_224: .visionTransformer(.siglip(patch: 16))
    case .vit_b_16: .visionTransformer(.torchvision(patch: 16, width: 768, depth: 12, heads: 12, mlp: 3072))
    case .vit_b_32: .visionTransformer(.torchvision(patch: 32, width: 768, depth: 12, heads: 12, mlp: 3072))
    case .vit_l_16: .visionTransformer(.torchvision(patch: 16, width: 1024, depth: 24, heads: 16, mlp: 4096))
    case .convnext_tiny: .convNeXt(.tiny)
    case .convnext_small: .convNeXt(.small)
    case .convnext_base: .convNeXt(.base)
    case .convnext_large: .convNeXt(.large)
    }
  }

  /// The Hugging Face hub repository of the architecture's published weights, for families torchvision
  /// does not ship (RDNet: NAVER's ImageNet-1k weights).
  public var hubRepository: String? {
    switch self {
    case .rdnet_tiny, .rdnet_small, .rdnet_base, .rdnet_large: "naver-ai/\(rawValue).nv_in1k"
    case .vit_small_patch14_dinov2, .vit_base_patch14_dinov2, .vit_large_patch14_dinov2, .vit_small_patch14_reg4_dinov2,
      .vit_base_patch14_reg4_dinov2, .vit_large_patch14_reg4_dinov2:
      "timm/\(rawValue).lvd142m"
    case .vit_base_patch16_clip_224, .vit_base_patch32_clip_224, .vit_base_patch16_clip_quickgelu_224,
      .vit_base_patch32_clip_quickgelu_224:
      "timm/\(rawValue).openai"
    case .vit_base_patch16_224: "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k"
    case .deit_small_patch16_224, .deit_base_patch16_224: "timm/\(rawValue).fb_in1k"
    case .vit_base_patch16_siglip_224: "timm/vit_base_patch16_siglip_224.webli"
    default: nil
    }
  }

  /// Parses a name, with a helpful error listing the choices.
  public static func named(_ name: String) throws -> Architecture {
    guard let arch = Architecture(rawValue: name.lowercased()) else {
      throw BackboneError.unknown(kind: "architecture", value: name, choices: allCases.map(\.rawValue))
    }
    return arch
  }
}

/// Hyper-parameters of an architecture family (DenseNet and ResNet at any width: tests use reduced-width
/// models; Inception v3 and GoogLeNet have none).
public enum ArchitectureConfig: Sendable, Equatable {
  case denseNet(DenseNet.Config)
  case resNet(ResNet.Config)
  case inceptionV3
  case googLeNet
  case rdNet(RDNet.Config)
  case efficientNet(EfficientNet.Config)
  case visionTransformer(VisionTransformer.Config)
  case convNeXt(ConvNeXt.Config)

  /// The same architecture read from the key layout of a state_dict with `keys`, for families whose
  /// weights come in several (EfficientNet: torchvision's, timm's, lukemelas's); else unchanged.
  public func adapted(toKeys keys: Set<String>) -> ArchitectureConfig {
    if case .convNeXt(let c) = self, let layout = ConvNeXt.Config.layout(ofKeys: keys) {
      return .convNeXt(c.with(layout: layout))
    }
    guard case .efficientNet(let c) = self, let layout = EfficientNet.Config.layout(ofKeys: keys) else { return self }
    // lukemelas's files are TensorFlow's weights: only the `tf_` variants ("same" padding, eps 1e-3) read them.
    if layout == .lukemelas && c.padding != .same { return self }
    return .efficientNet(c.with(layout: layout))
  }

  /// Tappable layers, shallow to deep.
  public var layers: [String] {
    switch self {
    case .denseNet(let c): c.layers
    case .resNet(let c): c.layerNames
    case .inceptionV3: InceptionV3.layers
    case .googLeNet: GoogLeNet.layers
    case .rdNet(let c): c.layers
    case .efficientNet(let c): c.layers
    case .visionTransformer(let c): c.layers
    case .convNeXt(let c): c.layers
    }
  }

  /// The layer used when none is given: `features` (DenseNet, as the bird workflow), else the pooled
  /// vector the classifier reads (`avgpool`).
  public var defaultLayer: String {
    switch self {
    case .denseNet: "features"
    case .resNet, .inceptionV3, .googLeNet: "avgpool"
    case .rdNet: "pre_logits"
    case .efficientNet(let c): c.defaultLayer
    case .visionTransformer, .convNeXt: "pre_logits"
    }
  }

  func graph(height: Int, width: Int) -> Graph {
    switch self {
    case .denseNet(let c): DenseNet.graph(c, height: height, width: width)
    case .resNet(let c): ResNet.graph(c, height: height, width: width)
    case .inceptionV3: InceptionV3.graph(height: height, width: width)
    case .googLeNet: GoogLeNet.graph(height: height, width: width)
    case .rdNet(let c): RDNet.graph(c, height: height, width: width)
    case .efficientNet(let c): EfficientNet.graph(c, height: height, width: width)
    case .visionTransformer(let c): VisionTransformer.graph(c, height: height, width: width)
    case .convNeXt(let c): ConvNeXt.graph(c, height: height, width: width)
    }
  }

  /// Refuses an input size the architecture cannot take (a transformer's sides must be multiples of its patch).
  func validate(height: Int, width: Int, arch: String) throws {
    guard height >= 32, width >= 32 else { throw BackboneError.inputTooSmall(arch: arch, height: height, width: width) }
    if case .visionTransformer(let c) = self, height % c.patchSize != 0 || width % c.patchSize != 0 {
      throw BackboneError.inputNotPatchMultiple(arch: arch, height: height, width: width, patch: c.patchSize)
    }
  }

  /// Every state_dict entry the architecture defines, in torchvision's order.
  public var parameters: [ParameterSpec] {
    if case .visionTransformer(let c) = self { return graph(height: c.imageSize, width: c.imageSize).parameters }
    return graph(height: 299, width: 299).parameters
  }
}

/// How a layer's `[C, H, W]` map, or a transformer's `[tokens, D]` token map, becomes the stored vector.
public enum Pooling: String, CaseIterable, Sendable {
  /// Keep every value: channel-major for a map (PyTorch's `view(N, -1)`, C·H·W values), token-major for
  /// tokens (tokens·D values).
  case flatten
  /// Mean over H and W: C values; for tokens, the mean of the patch tokens (class and register tokens
  /// excluded): D values.
  case avg
  /// Maximum over H and W: C values (maps only).
  case max
  /// The class token: D values (token maps of models with one).
  case token
  /// The class token, then the patch tokens' mean: 2·D values (DINOv2's linear evaluation with n = 1).
  case tokenAvg = "token+avg"

  /// True for the poolings of a `[C, H, W]` map.
  var appliesToMaps: Bool { self == .flatten || self == .avg || self == .max }

  static let mapChoices = ["flatten", "avg", "max"]

  /// The poolings of a token map.
  static func tokenChoices(classToken: Bool) -> [String] {
    classToken ? ["flatten", "avg", "token", "token+avg"] : ["flatten", "avg"]
  }
}

/// One layer `--layer` can tap, at one input size (timm's `feature_info`, with shapes).
public struct LayerInfo: Sendable, Equatable, Codable {
  /// The layer's name, e.g. `features`, `denseblock3`, `layer4`.
  public var name: String
  /// Shape of its map for one image, `[C, H, W]`.
  public var shape: [Int]
  /// Input pixels per map pixel (the input height over H).
  public var reduction: Int
  /// True for the layer used when `--layer` is not given.
  public var isDefault: Bool
  /// For a transformer's token map (shape `[tokens, D]`): the class and register tokens before the patches.
  public var prefixTokens: Int? = nil

  /// The poolings that apply to the layer: flatten, avg and max for a map; flatten, avg, and with a class
  /// token token and token+avg for a token map.
  public var poolings: [Pooling] {
    guard let prefix = prefixTokens else { return [.flatten, .avg, .max] }
    return Pooling.tokenChoices(classToken: prefix > 0).compactMap(Pooling.init(rawValue:))
  }

  /// Values per image for `pooling`: C·H·W flattened (C for the 1×1 `avgpool`), C pooled; tokens·D
  /// flattened, D pooled, 2·D for `token+avg` for a token map.
  public func featureLength(_ pooling: Pooling) -> Int {
    if pooling == .flatten { return shape.reduce(1, *) }
    guard prefixTokens != nil else { return shape[0] }
    return pooling == .tokenAvg ? 2 * shape[1] : shape[1]
  }
}

extension ArchitectureConfig {
  /// Every tappable layer for `height` × `width` inputs, shallow to deep.
  /// - Throws: `BackboneError.inputTooSmall` if a layer's map would vanish at that size.
  public func layerInfo(height: Int, width: Int, arch: String) throws -> [LayerInfo] {
    try validate(height: height, width: width, arch: arch)
    let graph = graph(height: height, width: width)
    return try layers.map { name in
      guard let tap = graph.taps.first(where: { $0.name == name }) else {
        throw BackboneError.unknown(kind: "layer of \(arch)", value: name, choices: layers)
      }
      let buffer = graph.buffers[tap.view.buffer]
      guard buffer.height >= 1, buffer.width >= 1 else {
        throw BackboneError.inputTooSmall(arch: arch, height: height, width: width)
      }
      if let prefix = tap.prefixTokens {
        let patches = buffer.height * buffer.width - prefix
        return LayerInfo(
          name: name, shape: [buffer.height * buffer.width, tap.view.channels],
          reduction: max(1, Int((Double(height * width) / Double(patches)).squareRoot().rounded())),
          isDefault: name == defaultLayer, prefixTokens: prefix)
      }
      return LayerInfo(
        name: name, shape: [tap.view.channels, buffer.height, buffer.width], reduction: max(1, height / buffer.height),
        isDefault: name == defaultLayer)
    }
  }
}
