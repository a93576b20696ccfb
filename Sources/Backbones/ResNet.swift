// Port of torchvision/models/resnet.py (He et al., "Deep Residual Learning for Image Recognition",
// arXiv:1512.03385; ResNeXt: Xie et al., arXiv:1611.05431). torchvision's "v1.5": the stride of a
// bottleneck sits on its 3x3 convolution. Module and parameter names are torchvision's.

/// ResNet and ResNeXt as torchvision defines them.
public enum ResNet {
  /// The residual block kind.
  public enum Block: String, Sendable, Equatable {
    /// Two 3x3 convolutions (resnet18/34), expansion 1.
    case basic
    /// 1x1, 3x3 (grouped for ResNeXt), 1x1 (resnet50 and deeper), expansion 4.
    case bottleneck

    var expansion: Int { self == .basic ? 1 : 4 }
  }

  /// Hyper-parameters of torchvision's `ResNet(block, layers, groups, width_per_group)`.
  public struct Config: Sendable, Equatable {
    public var block: Block
    /// Blocks per stage.
    public var layers: [Int]
    /// Stage widths ("planes"); torchvision's are [64, 128, 256, 512] and the stem has planes[0] channels.
    public var planes: [Int]
    /// Groups of the 3x3 convolution (ResNeXt's cardinality).
    public var groups: Int
    /// Width per group; a bottleneck's inner width is `Int(planes * widthPerGroup / 64) * groups`.
    public var widthPerGroup: Int
    /// Classes of the (unused) `fc` layer, for validating full checkpoints.
    public var numClasses: Int

    public init(
      block: Block, layers: [Int], planes: [Int] = [64, 128, 256, 512], groups: Int = 1, widthPerGroup: Int = 64,
      numClasses: Int = 1000
    ) {
      self.block = block
      self.layers = layers
      self.planes = planes
      self.groups = groups
      self.widthPerGroup = widthPerGroup
      self.numClasses = numClasses
    }

    public static let resnet18 = Config(block: .basic, layers: [2, 2, 2, 2])
    public static let resnet34 = Config(block: .basic, layers: [3, 4, 6, 3])
    public static let resnet50 = Config(block: .bottleneck, layers: [3, 4, 6, 3])
    public static let resnet101 = Config(block: .bottleneck, layers: [3, 4, 23, 3])
    public static let resnet152 = Config(block: .bottleneck, layers: [3, 8, 36, 3])
    public static let resnext50_32x4d = Config(block: .bottleneck, layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4)
    public static let resnext101_32x8d = Config(block: .bottleneck, layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8)

    /// Tappable layers, shallow to deep; `avgpool` is the default.
    public var layerNames: [String] { layers.indices.map { "layer\($0 + 1)" } + ["avgpool"] }
  }

  /// Builds the graph for one image of `height` x `width`.
  ///
  /// Execution order differs from torchvision's only where it is exact: the downsample branch runs before
  /// the block's last convolution, which then adds its result into it (oneDNN's sum post-op) and applies
  /// the ReLU; identity blocks add into their input in place.
  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)

    var h = Graph.outputSize(height, kernel: 7, stride: 2, padding: 3)
    var w = Graph.outputSize(width, kernel: 7, stride: 2, padding: 3)
    var inplanes = c.planes[0]
    let stem = g.buffer(inplanes, h, w)
    g.conv("conv1", norm: "bn1", from: g.input, to: g.whole(stem), kernel: 7, stride: 2, padding: 3, relu: true)
    h = Graph.outputSize(h, kernel: 3, stride: 2, padding: 1)
    w = Graph.outputSize(w, kernel: 3, stride: 2, padding: 1)
    var x = g.wholeBuffer(inplanes, h, w)
    g.pool(.max, from: g.whole(stem), to: x, kernel: 3, stride: 2, padding: 1)

    for (s, blocks) in c.layers.enumerated() {
      let planes = c.planes[s]
      let out = planes * c.block.expansion
      for b in 0..<blocks {
        let name = "layer\(s + 1).\(b)"
        let stride = (b == 0 && s > 0) ? 2 : 1
        let (oh, ow) = (
          Graph.outputSize(h, kernel: 3, stride: stride, padding: 1), Graph.outputSize(w, kernel: 3, stride: stride, padding: 1)
        )
        let needsDownsample = b == 0 && (stride != 1 || inplanes != out)
        // The block's result lands in `y`: the downsample output, or the input itself for identity blocks.
        let y = needsDownsample ? g.wholeBuffer(out, oh, ow) : x
        switch c.block {
        case .basic:
          let t1 = g.temporary(planes, Extent(oh, ow))
          g.conv("\(name).conv1", norm: "\(name).bn1", from: x, to: t1, kernel: 3, stride: stride, padding: 1, relu: true)
          g.registerConvAndNorm("\(name).conv2", norm: "\(name).bn2", out: out, inPerGroup: planes, kernel: 3)
          if needsDownsample {
            g.conv("\(name).downsample.0", norm: "\(name).downsample.1", from: x, to: y, kernel: 1, stride: stride)
          }
          g.conv(
            "\(name).conv2", norm: "\(name).bn2", from: t1, to: y, kernel: 3, padding: 1, residual: true, relu: true,
            register: false)
        case .bottleneck:
          let width = planes * c.widthPerGroup / 64 * c.groups
          let t1 = g.temporary(width, Extent(h, w))
          let t2 = g.temporary(width, Extent(oh, ow))
          g.conv("\(name).conv1", norm: "\(name).bn1", from: x, to: t1, kernel: 1, relu: true)
          g.conv(
            "\(name).conv2", norm: "\(name).bn2", from: t1, to: t2, kernel: 3, stride: stride, padding: 1, groups: c.groups,
            relu: true)
          g.registerConvAndNorm("\(name).conv3", norm: "\(name).bn3", out: out, inPerGroup: width, kernel: 1)
          if needsDownsample {
            g.conv("\(name).downsample.0", norm: "\(name).downsample.1", from: x, to: y, kernel: 1, stride: stride)
          }
          g.conv("\(name).conv3", norm: "\(name).bn3", from: t2, to: y, kernel: 1, residual: true, relu: true, register: false)
        }
        (x, h, w, inplanes) = (y, oh, ow, out)
      }
      g.tap("layer\(s + 1)", x)
    }
    g.globalAveragePool(x)
    g.registerLinear("fc", in: inplanes, out: c.numClasses)
    return g
  }
}
