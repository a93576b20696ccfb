// Port of torchvision/models/densenet.py (Huang et al., "Densely Connected Convolutional Networks",
// arXiv:1608.06993). Module and parameter names are torchvision's, so state_dict keys map 1:1.

import Support

/// DenseNet-BC as torchvision defines it.
public enum DenseNet {
  /// Hyper-parameters of torchvision's `DenseNet(growth_rate, block_config, num_init_features, bn_size)`.
  public struct Config: Sendable, Equatable {
    /// Channels each dense layer adds (k).
    public var growthRate: Int
    /// Dense layers per block.
    public var blockConfig: [Int]
    /// Channels of the stem convolution.
    public var initFeatures: Int
    /// Bottleneck width factor: each layer's 1x1 conv outputs `bnSize * growthRate` channels.
    public var bnSize: Int
    /// Classes of the (unused) classifier, for validating full checkpoints.
    public var numClasses: Int

    public init(growthRate: Int, blockConfig: [Int], initFeatures: Int, bnSize: Int = 4, numClasses: Int = 1000) {
      self.growthRate = growthRate
      self.blockConfig = blockConfig
      self.initFeatures = initFeatures
      self.bnSize = bnSize
      self.numClasses = numClasses
    }

    public static let densenet121 = Config(growthRate: 32, blockConfig: [6, 12, 24, 16], initFeatures: 64)
    public static let densenet161 = Config(growthRate: 48, blockConfig: [6, 12, 36, 24], initFeatures: 96)
    public static let densenet169 = Config(growthRate: 32, blockConfig: [6, 12, 32, 32], initFeatures: 64)
    public static let densenet201 = Config(growthRate: 32, blockConfig: [6, 12, 48, 32], initFeatures: 64)

    /// Tappable layers, shallow to deep; `features` (after `norm5`, no ReLU) is the default.
    public var layers: [String] {
      var names: [String] = []
      for i in blockConfig.indices {
        names.append("denseblock\(i + 1)")
        if i < blockConfig.count - 1 { names.append("transition\(i + 1)") }
      }
      return names + ["features"]
    }
  }

  /// Builds the graph for one image of `height` x `width`.
  ///
  /// Two deliberate, exact-in-real-arithmetic departures from torchvision's op order, for speed:
  /// each block writes every layer's output straight into its slice of one preallocated buffer (no
  /// `torch.cat`), and each transition average-pools before its 1x1 convolution (both are linear and
  /// the conv has no bias, so `pool(conv(x)) == conv(pool(x))`, with 4x fewer multiply-adds).
  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    var h = Graph.outputSize(height, kernel: 7, stride: 2, padding: 3)
    var w = Graph.outputSize(width, kernel: 7, stride: 2, padding: 3)
    let stem = g.buffer(c.initFeatures, h, w)
    g.conv(
      "features.conv0", norm: "features.norm0", from: g.input, to: g.whole(stem), kernel: 7, stride: 2, padding: 3, relu: true)
    h = Graph.outputSize(h, kernel: 3, stride: 2, padding: 1)
    w = Graph.outputSize(w, kernel: 3, stride: 2, padding: 1)

    var channels = c.initFeatures
    let bottleneck = c.bnSize * c.growthRate
    // The block's buffer holds its input and, after it, every layer's output: channels grow in place.
    var blockBuffer = g.buffer(channels + c.blockConfig[0] * c.growthRate, h, w)
    g.pool(
      .max, from: g.whole(stem), to: View(buffer: blockBuffer, channelOffset: 0, channels: channels), kernel: 3, stride: 2,
      padding: 1)

    for (b, layerCount) in c.blockConfig.enumerated() {
      let block = "features.denseblock\(b + 1)"
      let total = channels + layerCount * c.growthRate
      let activated = g.buffer(total, h, w)  // norm1+relu1 output (and the transition's norm+relu)
      let narrow = g.buffer(bottleneck, h, w)  // conv1 output
      for l in 0..<layerCount {
        let layer = "\(block).denselayer\(l + 1)"
        let inputs = channels + l * c.growthRate
        g.norm(
          "\(layer).norm1", from: View(buffer: blockBuffer, channelOffset: 0, channels: inputs),
          to: View(buffer: activated, channelOffset: 0, channels: inputs), relu: true)
        g.conv(
          "\(layer).conv1", norm: "\(layer).norm2", from: View(buffer: activated, channelOffset: 0, channels: inputs),
          to: g.whole(narrow), kernel: 1, relu: true)
        g.conv(
          "\(layer).conv2", norm: nil, from: g.whole(narrow),
          to: View(buffer: blockBuffer, channelOffset: inputs, channels: c.growthRate), kernel: 3, padding: 1)
      }
      channels = total
      g.tap("denseblock\(b + 1)", g.whole(blockBuffer))
      if b == c.blockConfig.count - 1 { break }

      let transition = "features.transition\(b + 1)"
      g.norm("\(transition).norm", from: g.whole(blockBuffer), to: g.whole(activated), relu: true)
      let (ph, pw) = (h / 2, w / 2)
      let pooled = g.buffer(channels, ph, pw)
      g.pool(.average, from: g.whole(activated), to: g.whole(pooled), kernel: 2, stride: 2)
      (h, w) = (ph, pw)
      let out = channels / 2
      blockBuffer = g.buffer(out + c.blockConfig[b + 1] * c.growthRate, h, w)
      let transitionOutput = View(buffer: blockBuffer, channelOffset: 0, channels: out)
      g.conv("\(transition).conv", norm: nil, from: g.whole(pooled), to: transitionOutput, kernel: 1)
      if case .conv(var op)? = g.ops.last {
        op.torchvisionCostFactor = 4
        g.ops[g.ops.count - 1] = .conv(op)
      }
      g.tap("transition\(b + 1)", transitionOutput)
      channels = out
    }
    let features = g.buffer(channels, h, w)
    g.norm("features.norm5", from: g.whole(blockBuffer), to: g.whole(features), relu: false)
    g.tap("features", g.whole(features))
    g.registerLinear("classifier", in: channels, out: c.numClasses)
    return g
  }

  /// torchvision's rule for checkpoints saved before 2018 (`denselayer1.norm.1.weight` → `denselayer1.norm1.weight`),
  /// from `torchvision.models.densenet._load_state_dict`.
  public static func modernKey(_ key: String) -> String {
    // ^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$
    let parts = key.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count >= 4 else { return key }
    let (layer, module, digit, suffix) = (
      parts[parts.count - 4], parts[parts.count - 3], parts[parts.count - 2], parts[parts.count - 1]
    )
    guard ["norm", "relu", "conv"].contains(module), ["1", "2"].contains(digit),
      ["weight", "bias", "running_mean", "running_var"].contains(suffix)
    else { return key }
    let digits = layer.reversed().prefix { $0.isASCIIDigit }
    guard !digits.isEmpty, layer.dropLast(digits.count).hasSuffix("denselayer") else { return key }
    return parts.dropLast(3).joined(separator: ".") + ".\(module)\(digit).\(suffix)"
  }
}
