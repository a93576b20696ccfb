// Port of timm/models/rdnet.py (Kim et al., "DenseNets Reloaded: Paradigm Shift Beyond ResNets and
// ViTs", arXiv:2403.19588), timm 1.0. Module and parameter names are timm's, so state_dict keys map 1:1
// (NAVER's original files differ only by `stem.stem.` and a `model` wrapper, undone when they are read).
//
// The network runs channels-last, where LayerNorm over each pixel's channels is one oneDNN layer
// normalisation of a [pixels, channels] matrix. A dense stage keeps its features in one buffer; each
// block copies the channels it reads into a dense scratch buffer (timm's `torch.cat`) and copies its new
// channels into the stage buffer.

/// RDNet as timm defines it.
public enum RDNet {
  /// The arguments of timm's `RDNet(...)` that its four models set.
  public struct Config: Sendable, Equatable {
    /// Channels of the patchify stem.
    public var initFeatures: Int
    /// Channels each block of a stage adds.
    public var growthRates: [Int]
    /// Blocks per stage.
    public var blocks: [Int]
    /// Whether stage i's transition halves the map (a 2x2/2 convolution) rather than a 1x1 one (stage 0 has none).
    public var downsample: [Bool]
    /// Whether stage i's blocks end with effective squeeze-and-excitation (`BlockESE`).
    public var squeezeExcite: [Bool]
    public var patchSize = 4
    public var bottleneckRatio = 4.0
    public var compression = 0.5
    /// Classes of the (unused) classifier, for validating full checkpoints.
    public var numClasses = 1000

    public init(
      initFeatures: Int, growthRates: [Int], blocks: [Int], downsample: [Bool], squeezeExcite: [Bool], numClasses: Int = 1000
    ) {
      self.initFeatures = initFeatures
      self.growthRates = growthRates
      self.blocks = blocks
      self.downsample = downsample
      self.squeezeExcite = squeezeExcite
      self.numClasses = numClasses
    }

    /// timm's `rdnet_*` arguments: stage downsampling and block kinds follow one pattern per size.
    static func timm(init initFeatures: Int, growth: [Int], downsampleAt: Set<Int>) -> Config {
      let n = growth.count
      return Config(
        initFeatures: initFeatures, growthRates: growth, blocks: Array(repeating: 3, count: n),
        downsample: (0..<n).map(downsampleAt.contains), squeezeExcite: (0..<n).map { $0 >= 2 })
    }

    public static let tiny = timm(init: 64, growth: [64, 104, 128, 128, 128, 128, 224], downsampleAt: [1, 2, 6])
    public static let small = timm(
      init: 72, growth: [64, 128] + Array(repeating: 128, count: 7) + [240, 240], downsampleAt: [1, 2, 9])
    public static let base = timm(
      init: 120, growth: [96, 128] + Array(repeating: 168, count: 7) + [336, 336], downsampleAt: [1, 2, 9])
    public static let large = timm(
      init: 144, growth: [128, 192] + Array(repeating: 256, count: 8) + [360, 360], downsampleAt: [1, 2, 10])

    /// Tappable layers, shallow to deep: the stem, every stage, and `pre_logits` (the default: average
    /// pool and the head's LayerNorm, timm's `forward_head(pre_logits=True)`). `dense_stages.<last>` is
    /// timm's `forward_features`.
    public var layers: [String] { ["stem"] + growthRates.indices.map { "dense_stages.\($0)" } + ["pre_logits"] }

    /// Python's `int(x * ratio / 8) * 8`.
    static func roundedDown(_ channels: Int, _ ratio: Double) -> Int { Int(Double(channels) * ratio / 8) * 8 }
  }

  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.channelsLast = true
    let p = c.patchSize
    var size = g.outputSize(g.input, kernel: Extent(p, p), stride: p, padding: 0)
    // The image channels-last first: oneDNN has no fast convolution from NCHW to NHWC.
    let image = g.wholeBuffer(3, height, width)
    g.ops.append(.copy(CopyOp(src: g.input, dst: image)))
    let patches = g.wholeBuffer(c.initFeatures, size.height, size.width)
    g.conv("stem.0", norm: nil, from: image, to: patches, kernel: Extent(p, p), stride: p, bias: true)
    var x = g.wholeBuffer(c.initFeatures, size.height, size.width)
    g.layerNorm("stem.1", from: patches, to: x)
    g.tap("stem", x)

    var channels = c.initFeatures
    for (i, growth) in c.growthRates.enumerated() {
      var prefix = "dense_stages.\(i)"
      if i > 0 {
        // Transition: LayerNorm, then a 2x2/2 (downsampling) or 1x1 convolution compressing the channels.
        let normed = g.temporary(channels, size)
        g.layerNorm("\(prefix).0", from: x, to: normed)
        let k = c.downsample[i] ? 2 : 1
        size = g.outputSize(normed, kernel: Extent(k, k), stride: k, padding: 0)
        channels = Config.roundedDown(channels, c.compression)
        x = g.wholeBuffer(channels, size.height, size.width)
        g.conv("\(prefix).1", norm: nil, from: normed, to: x, kernel: Extent(k, k), stride: k, bias: true)
        prefix += ".2"
      } else {
        prefix += ".0"
      }
      let stage = g.wholeBuffer(channels + c.blocks[i] * growth, size.height, size.width)
      g.ops.append(.copy(CopyOp(src: x, dst: stage.slice(0, channels))))
      for b in 0..<c.blocks[i] {
        let inputs = channels + b * growth
        let input = b == 0 ? x : g.temporary(inputs, size)
        if b > 0 { g.ops.append(.copy(CopyOp(src: stage.slice(0, inputs), dst: input))) }
        block(&g, "\(prefix).dense_block\(b)", input, into: stage.slice(inputs, growth), c, squeezeExcite: c.squeezeExcite[i])
      }
      channels += c.blocks[i] * growth
      x = stage
      g.tap("dense_stages.\(i)", x)
    }

    // timm's NormMlpClassifierHead without hidden layer: average pool, LayerNorm2d, (fc).
    let pooled = g.wholeBuffer(channels, 1, 1)
    g.averageOverMap(x, into: pooled)
    let preLogits = g.wholeBuffer(channels, 1, 1)
    g.layerNorm("head.norm", from: pooled, to: preLogits)
    g.tap("pre_logits", preLogits, isVector: true)
    g.registerLinear("head.fc", in: channels, out: c.numClasses)
    return g
  }

  /// One `DenseBlock`: depthwise 7x7, LayerNorm, 1x1 to the bottleneck with GELU, 1x1 to the growth rate,
  /// optional effective squeeze-and-excitation, times the layer scale `gamma`; written into `output`.
  static func block(_ g: inout Graph, _ name: String, _ input: View, into output: View, _ c: Config, squeezeExcite: Bool) {
    let size = g.size(input)
    let (inputs, growth) = (input.channels, output.channels)
    let inner = Config.roundedDown(inputs, c.bottleneckRatio)
    let layers = "\(name).layers.layers"
    g.registerVector(name + ".gamma", channels: growth, kind: .layerScale)
    let spatial = g.temporary(inputs, size)
    g.conv("\(layers).0", norm: nil, from: input, to: spatial, kernel: 7, padding: 3, groups: inputs, bias: true)
    let normed = g.temporary(inputs, size)
    g.layerNorm("\(layers).1", from: spatial, to: normed)
    let hidden = g.temporary(inner, size)
    g.conv("\(layers).2", norm: nil, from: normed, to: hidden, kernel: 1, bias: true, post: [.gelu])
    let grown = g.temporary(growth, size)
    var result = grown
    if !squeezeExcite {
      g.conv("\(layers).4", norm: nil, from: hidden, to: grown, kernel: 1, bias: true, post: [.scale(name + ".gamma")])
    } else {
      g.conv("\(layers).4", norm: nil, from: hidden, to: grown, kernel: 1, bias: true)
      // EffectiveSEModule: x * hardsigmoid(fc(mean(x))), then the layer scale.
      let mean = g.temporary(growth, 1)
      g.averageOverMap(grown, into: mean)
      let gate = g.temporary(growth, 1)
      g.conv("\(layers).5.fc", norm: nil, from: mean, to: gate, kernel: 1, bias: true, post: [.hardSigmoid])
      result = g.temporary(growth, size)
      g.ops.append(.gate(GateOp(src: grown, gate: gate, dst: result, scale: name + ".gamma")))
    }
    g.ops.append(.copy(CopyOp(src: result, dst: output)))
  }
}
