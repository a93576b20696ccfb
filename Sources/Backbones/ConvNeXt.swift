// Port of ConvNeXt V1 (Liu et al., "A ConvNet for the 2020s", arXiv:2201.03545) as timm 1.0
// (timm/models/convnext.py) and torchvision (torchvision/models/convnext.py) define it, with each one's
// parameter names, so state_dict keys map 1:1.
//
// The network runs channels-last: LayerNorm over each pixel's channels is one layer normalisation of a
// [pixels, channels] matrix, and the block's two Linear layers are matrix products over the same rows.
// The layer scale is folded into the second Linear layer and the residual is its sum post-op, so a block
// writes over its input in place.

/// ConvNeXt as timm and torchvision define it.
public enum ConvNeXt {
  /// Whose parameter names a state_dict uses.
  public enum Layout: String, Sendable, Equatable {
    /// timm's (`stem.0`, `stages.N.downsample.1`, `stages.N.blocks.M.conv_dw`, `head.norm`).
    case timm
    /// torchvision's (`features.0.0`, `features.N.M.block.0`, `classifier.0`).
    case torchvision
  }

  public struct Config: Sendable, Equatable {
    public var layout: Layout = .timm
    /// Blocks per stage.
    public var depths: [Int]
    /// Channels per stage.
    public var dims: [Int]
    public var numClasses = 1000

    public init(depths: [Int], dims: [Int], layout: Layout = .timm) {
      self.depths = depths
      self.dims = dims
      self.layout = layout
    }

    public static let tiny = Config(depths: [3, 3, 9, 3], dims: [96, 192, 384, 768])
    public static let small = Config(depths: [3, 3, 27, 3], dims: [96, 192, 384, 768])
    public static let base = Config(depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024])
    public static let large = Config(depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536])

    /// The same model with another key layout.
    public func with(layout: Layout) -> Config {
      var c = self
      c.layout = layout
      return c
    }

    /// The layout a state_dict's keys use, if it is a ConvNeXt's.
    static func layout(ofKeys keys: Set<String>) -> Layout? {
      if keys.contains("stem.0.weight") { return .timm }
      if keys.contains("features.0.0.weight") { return .torchvision }
      return nil
    }

    /// Tappable layers: the stem, every stage (torchvision: every `features.N`, downsamplings included),
    /// and `pre_logits` (the default: average pool and the head's LayerNorm).
    public var layers: [String] {
      switch layout {
      case .timm: ["stem"] + dims.indices.map { "stages.\($0)" } + ["pre_logits"]
      case .torchvision: (0..<(2 * dims.count)).map { "features.\($0)" } + ["pre_logits"]
      }
    }
  }

  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.channelsLast = true
    let tv = c.layout == .torchvision
    // The image channels-last first: oneDNN has no fast convolution from NCHW to NHWC.
    let image = g.wholeBuffer(3, height, width)
    g.ops.append(.copy(CopyOp(src: g.input, dst: image)))
    var size = g.outputSize(image, kernel: 4, stride: 4, padding: 0)
    let patches = g.wholeBuffer(c.dims[0], size.height, size.width)
    g.conv(tv ? "features.0.0" : "stem.0", norm: nil, from: image, to: patches, kernel: 4, stride: 4, bias: true)
    var x = g.wholeBuffer(c.dims[0], size.height, size.width)
    g.layerNorm(tv ? "features.0.1" : "stem.1", from: patches, to: x)
    g.tap(tv ? "features.0" : "stem", x)

    for (i, channels) in c.dims.enumerated() {
      if i > 0 {
        let name = tv ? "features.\(2 * i)" : "stages.\(i).downsample"
        let normed = g.temporary(c.dims[i - 1], size)
        g.layerNorm(name + ".0", from: x, to: normed)
        size = g.outputSize(normed, kernel: 2, stride: 2, padding: 0)
        x = g.wholeBuffer(channels, size.height, size.width)
        g.conv(name + ".1", norm: nil, from: normed, to: x, kernel: 2, stride: 2, bias: true)
        if tv { g.tap(name, x) }
      }
      for b in 0..<c.depths[i] {
        block(&g, tv ? "features.\(2 * i + 1).\(b)" : "stages.\(i).blocks.\(b)", x, tv: tv)
      }
      g.tap(tv ? "features.\(2 * i + 1)" : "stages.\(i)", x)
    }

    // The head: average pool, LayerNorm2d, (flatten, fc).
    let channels = c.dims[c.dims.count - 1]
    let pooled = g.wholeBuffer(channels, 1, 1)
    g.averageOverMap(x, into: pooled)
    let preLogits = g.wholeBuffer(channels, 1, 1)
    g.layerNorm(tv ? "classifier.0" : "head.norm", from: pooled, to: preLogits)
    g.tap("pre_logits", preLogits, isVector: true)
    g.registerLinear(tv ? "classifier.2" : "head.fc", in: channels, out: c.numClasses)
    return g
  }

  /// One block, in place over `x`: depthwise 7×7, LayerNorm, Linear 4× with GELU, Linear back times the
  /// layer scale, plus the input.
  static func block(_ g: inout Graph, _ name: String, _ x: View, tv: Bool) {
    let size = g.size(x)
    let channels = x.channels
    // The layer scale is the block's own parameter, first in its state_dict.
    let gamma = name + (tv ? ".layer_scale" : ".gamma")
    if tv {
      g.parameters.append(ParameterSpec(name: gamma, shape: [channels, 1, 1], kind: .layerScale, usedForFeatures: true))
    } else {
      g.registerVector(gamma, channels: channels, kind: .layerScale)
    }
    let (dw, norm, fc1, fc2) =
      tv
      ? (name + ".block.0", name + ".block.2", name + ".block.3", name + ".block.5")
      : (name + ".conv_dw", name + ".norm", name + ".mlp.fc1", name + ".mlp.fc2")
    let spatial = g.temporary(channels, size)
    g.conv(dw, norm: nil, from: x, to: spatial, kernel: 7, padding: 3, groups: channels, bias: true)
    let normed = g.temporary(channels, size)
    g.layerNorm(norm, from: spatial, to: normed)
    let hidden = g.temporary(4 * channels, size)
    g.linear(fc1, from: normed, to: hidden, post: [.gelu])
    g.linear(fc2, from: hidden, to: x, layerScale: gamma, post: [.sum])
  }
}
