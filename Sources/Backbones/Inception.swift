// Ports of torchvision/models/inception.py (Szegedy et al., "Rethinking the Inception Architecture for
// Computer Vision", arXiv:1512.00567) and torchvision/models/googlenet.py (Szegedy et al., "Going Deeper
// with Convolutions", arXiv:1409.4842). Module and parameter names are torchvision's, so state_dict keys
// map 1:1; the auxiliary classifiers' keys are accepted and never run.
//
// Each block writes its branches straight into their channel slices of one output buffer (no `torch.cat`).
// torchvision's quirks, honoured: BatchNorm eps 1e-3; `transform_input=True` (what torchvision sets
// whenever it loads its ImageNet weights), applied as its own per-channel step before the first
// convolution (folding it into GoogLeNet's padded first convolution would change the border); Inception's
// branch average pools count the padding; GoogLeNet's max pools use `ceil_mode`, expressed as extra
// bottom/right padding (oneDNN has no ceil mode; max pooling ignores padding either way).

/// torchvision's `transform_input`: ImageNet-normalised input → the (x - 0.5) / 0.5 normalisation Google's
/// weights were trained on, per channel `x * (std / 0.5) + (mean - 0.5) / 0.5`.
private let transformInput = AffineOp(
  src: View(buffer: 0, channelOffset: 0, channels: 3), dst: View(buffer: 0, channelOffset: 0, channels: 3),
  scale: [0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5].map { Float($0 as Double) },
  shift: [(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5].map { Float($0 as Double) })

extension Graph {
  /// Applies `transform_input` into a new plain buffer and returns it.
  mutating func transformedInput() -> View {
    let shape = buffers[0]
    buffers.append(BufferShape(channels: 3, height: shape.height, width: shape.width, plain: true))
    var op = transformInput
    op.dst = whole(buffers.count - 1)
    ops.append(.affine(op))
    return op.dst
  }

  /// Height and width of a view's buffer.
  func size(_ v: View) -> Extent { Extent(buffers[v.buffer].height, buffers[v.buffer].width) }

  /// Output size of a window over `v`'s map.
  func outputSize(_ v: View, kernel: Extent, stride: Int, padding: Extent, ceil: Bool = false) -> Extent {
    let s = size(v)
    return Extent(
      Graph.outputSize(s.height, kernel: kernel.height, stride: stride, padding: padding.height, ceil: ceil),
      Graph.outputSize(s.width, kernel: kernel.width, stride: stride, padding: padding.width, ceil: ceil))
  }

  /// torchvision's `BasicConv2d` (conv without bias, BatchNorm, ReLU) named `<name>.conv` / `<name>.bn`, into `dst`.
  mutating func basicConv(_ name: String, _ src: View, into dst: View, kernel: Extent, stride: Int = 1, padding: Extent = 0) {
    conv(name + ".conv", norm: name + ".bn", from: src, to: dst, kernel: kernel, stride: stride, padding: padding, relu: true)
  }

  /// `BasicConv2d` into a new buffer (a `temporary` one when a block's own result does not need it).
  mutating func basicConv(
    _ name: String, _ src: View, channels: Int, kernel: Extent, stride: Int = 1, padding: Extent = 0, temporary: Bool = false
  ) -> View {
    let out = outputSize(src, kernel: kernel, stride: stride, padding: padding)
    let dst = temporary ? self.temporary(channels, out) : wholeBuffer(channels, out.height, out.width)
    basicConv(name, src, into: dst, kernel: kernel, stride: stride, padding: padding)
    return dst
  }

  /// A pooling of `src` into a new buffer (a `temporary` one, if asked).
  mutating func pooled(
    _ kind: PoolOp.Kind, _ src: View, kernel: Int, stride: Int, padding: Int = 0, ceil: Bool = false, temporary: Bool = false
  ) -> View {
    let out = outputSize(src, kernel: Extent(kernel, kernel), stride: stride, padding: Extent(padding, padding), ceil: ceil)
    let dst = temporary ? self.temporary(src.channels, out) : wholeBuffer(src.channels, out.height, out.width)
    pool(kind, from: src, to: dst, kernel: kernel, stride: stride, padding: padding, ceil: ceil)
    return dst
  }

  /// Registers an auxiliary classifier's `BasicConv2d` (never run; its keys may be absent).
  mutating func registerAuxiliaryConv(_ name: String, in inChannels: Int, out: Int, kernel: Extent) {
    registerConvAndNorm(name + ".conv", norm: name + ".bn", out: out, inPerGroup: inChannels, kernel: kernel, forFeatures: false)
  }
}

/// Inception v3 as torchvision defines it (`inception_v3`, 2048 features at 8x8 for 299x299 inputs).
public enum InceptionV3 {
  /// Tappable layers, shallow to deep; `avgpool` (2048) is the default.
  public static let layers = [
    "Conv2d_4a_3x3", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool",
  ]

  static func graph(height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.normEpsilon = 1e-3
    var x = g.transformedInput()
    x = g.basicConv("Conv2d_1a_3x3", x, channels: 32, kernel: 3, stride: 2)
    x = g.basicConv("Conv2d_2a_3x3", x, channels: 32, kernel: 3)
    x = g.basicConv("Conv2d_2b_3x3", x, channels: 64, kernel: 3, padding: 1)
    x = g.pooled(.max, x, kernel: 3, stride: 2)
    x = g.basicConv("Conv2d_3b_1x1", x, channels: 80, kernel: 1)
    x = g.basicConv("Conv2d_4a_3x3", x, channels: 192, kernel: 3)
    g.tap("Conv2d_4a_3x3", x)
    x = g.pooled(.max, x, kernel: 3, stride: 2)
    for (name, pool) in [("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)] {
      x = blockA(&g, name, x, poolFeatures: pool)
    }
    x = blockB(&g, "Mixed_6a", x)
    for (name, c7) in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)] {
      x = blockC(&g, name, x, channels7x7: c7)
    }
    // InceptionAux, registered here as in torchvision's __init__ (it reads Mixed_6e only while training).
    g.registerAuxiliaryConv("AuxLogits.conv0", in: 768, out: 128, kernel: 1)
    g.registerAuxiliaryConv("AuxLogits.conv1", in: 128, out: 768, kernel: 5)
    g.registerLinear("AuxLogits.fc", in: 768, out: 1000)
    x = blockD(&g, "Mixed_7a", x)
    x = blockE(&g, "Mixed_7b", x)
    x = blockE(&g, "Mixed_7c", x)
    g.globalAveragePool(x)
    g.registerLinear("fc", in: 2048, out: 1000)
    return g
  }

  /// InceptionA: 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | avgpool→1x1.
  static func blockA(_ g: inout Graph, _ name: String, _ x: View, poolFeatures: Int) -> View {
    let s = g.size(x)
    let out = g.wholeBuffer(224 + poolFeatures, s.height, s.width)
    g.basicConv("\(name).branch1x1", x, into: out.slice(0, 64), kernel: 1)
    let b5 = g.basicConv("\(name).branch5x5_1", x, channels: 48, kernel: 1, temporary: true)
    g.basicConv("\(name).branch5x5_2", b5, into: out.slice(64, 64), kernel: 5, padding: 2)
    var b3 = g.basicConv("\(name).branch3x3dbl_1", x, channels: 64, kernel: 1, temporary: true)
    b3 = g.basicConv("\(name).branch3x3dbl_2", b3, channels: 96, kernel: 3, padding: 1, temporary: true)
    g.basicConv("\(name).branch3x3dbl_3", b3, into: out.slice(128, 96), kernel: 3, padding: 1)
    let pooled = g.pooled(.averageIncludingPadding, x, kernel: 3, stride: 1, padding: 1, temporary: true)
    g.basicConv("\(name).branch_pool", pooled, into: out.slice(224, poolFeatures), kernel: 1)
    g.tap(name, out)
    return out
  }

  /// InceptionB (grid reduction): 3x3/2 | 1x1→3x3→3x3/2 | maxpool/2.
  static func blockB(_ g: inout Graph, _ name: String, _ x: View) -> View {
    let s = g.outputSize(x, kernel: 3, stride: 2, padding: 0)
    let out = g.wholeBuffer(384 + 96 + x.channels, s.height, s.width)
    g.basicConv("\(name).branch3x3", x, into: out.slice(0, 384), kernel: 3, stride: 2)
    var b = g.basicConv("\(name).branch3x3dbl_1", x, channels: 64, kernel: 1, temporary: true)
    b = g.basicConv("\(name).branch3x3dbl_2", b, channels: 96, kernel: 3, padding: 1, temporary: true)
    g.basicConv("\(name).branch3x3dbl_3", b, into: out.slice(384, 96), kernel: 3, stride: 2)
    g.pool(.max, from: x, to: out.slice(480, x.channels), kernel: 3, stride: 2)
    g.tap(name, out)
    return out
  }

  /// InceptionC: 1x1 | 1x1→1x7→7x1 | 1x1→7x1→1x7→7x1→1x7 | avgpool→1x1.
  static func blockC(_ g: inout Graph, _ name: String, _ x: View, channels7x7 c7: Int) -> View {
    let s = g.size(x)
    let out = g.wholeBuffer(768, s.height, s.width)
    let (row, column): (Extent, Extent) = (Extent(1, 7), Extent(7, 1))
    let (rowPad, columnPad): (Extent, Extent) = (Extent(0, 3), Extent(3, 0))
    g.basicConv("\(name).branch1x1", x, into: out.slice(0, 192), kernel: 1)
    var b = g.basicConv("\(name).branch7x7_1", x, channels: c7, kernel: 1, temporary: true)
    b = g.basicConv("\(name).branch7x7_2", b, channels: c7, kernel: row, padding: rowPad, temporary: true)
    g.basicConv("\(name).branch7x7_3", b, into: out.slice(192, 192), kernel: column, padding: columnPad)
    var d = g.basicConv("\(name).branch7x7dbl_1", x, channels: c7, kernel: 1, temporary: true)
    d = g.basicConv("\(name).branch7x7dbl_2", d, channels: c7, kernel: column, padding: columnPad, temporary: true)
    d = g.basicConv("\(name).branch7x7dbl_3", d, channels: c7, kernel: row, padding: rowPad, temporary: true)
    d = g.basicConv("\(name).branch7x7dbl_4", d, channels: c7, kernel: column, padding: columnPad, temporary: true)
    g.basicConv("\(name).branch7x7dbl_5", d, into: out.slice(384, 192), kernel: row, padding: rowPad)
    let pooled = g.pooled(.averageIncludingPadding, x, kernel: 3, stride: 1, padding: 1, temporary: true)
    g.basicConv("\(name).branch_pool", pooled, into: out.slice(576, 192), kernel: 1)
    g.tap(name, out)
    return out
  }

  /// InceptionD (grid reduction): 1x1→3x3/2 | 1x1→1x7→7x1→3x3/2 | maxpool/2.
  static func blockD(_ g: inout Graph, _ name: String, _ x: View) -> View {
    let s = g.outputSize(x, kernel: 3, stride: 2, padding: 0)
    let out = g.wholeBuffer(320 + 192 + x.channels, s.height, s.width)
    let b = g.basicConv("\(name).branch3x3_1", x, channels: 192, kernel: 1, temporary: true)
    g.basicConv("\(name).branch3x3_2", b, into: out.slice(0, 320), kernel: 3, stride: 2)
    var d = g.basicConv("\(name).branch7x7x3_1", x, channels: 192, kernel: 1, temporary: true)
    d = g.basicConv("\(name).branch7x7x3_2", d, channels: 192, kernel: Extent(1, 7), padding: Extent(0, 3), temporary: true)
    d = g.basicConv("\(name).branch7x7x3_3", d, channels: 192, kernel: Extent(7, 1), padding: Extent(3, 0), temporary: true)
    g.basicConv("\(name).branch7x7x3_4", d, into: out.slice(320, 192), kernel: 3, stride: 2)
    g.pool(.max, from: x, to: out.slice(512, x.channels), kernel: 3, stride: 2)
    g.tap(name, out)
    return out
  }

  /// InceptionE: 1x1 | 1x1→(1x3, 3x1) | 1x1→3x3→(1x3, 3x1) | avgpool→1x1.
  static func blockE(_ g: inout Graph, _ name: String, _ x: View) -> View {
    let s = g.size(x)
    let out = g.wholeBuffer(2048, s.height, s.width)
    let (row, column): (Extent, Extent) = (Extent(1, 3), Extent(3, 1))
    let (rowPad, columnPad): (Extent, Extent) = (Extent(0, 1), Extent(1, 0))
    g.basicConv("\(name).branch1x1", x, into: out.slice(0, 320), kernel: 1)
    let b = g.basicConv("\(name).branch3x3_1", x, channels: 384, kernel: 1, temporary: true)
    g.basicConv("\(name).branch3x3_2a", b, into: out.slice(320, 384), kernel: row, padding: rowPad)
    g.basicConv("\(name).branch3x3_2b", b, into: out.slice(704, 384), kernel: column, padding: columnPad)
    var d = g.basicConv("\(name).branch3x3dbl_1", x, channels: 448, kernel: 1, temporary: true)
    d = g.basicConv("\(name).branch3x3dbl_2", d, channels: 384, kernel: 3, padding: 1, temporary: true)
    g.basicConv("\(name).branch3x3dbl_3a", d, into: out.slice(1088, 384), kernel: row, padding: rowPad)
    g.basicConv("\(name).branch3x3dbl_3b", d, into: out.slice(1472, 384), kernel: column, padding: columnPad)
    let pooled = g.pooled(.averageIncludingPadding, x, kernel: 3, stride: 1, padding: 1, temporary: true)
    g.basicConv("\(name).branch_pool", pooled, into: out.slice(1856, 192), kernel: 1)
    g.tap(name, out)
    return out
  }
}

/// GoogLeNet (Inception v1) as torchvision defines it (`googlenet`, 1024 features at 7x7 for 224x224).
public enum GoogLeNet {
  /// Tappable layers, shallow to deep; `avgpool` (1024) is the default.
  public static let layers = [
    "maxpool2", "inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
    "inception5a", "inception5b", "avgpool",
  ]

  /// torchvision's `Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)` arguments after `in`.
  static let blocks: [(name: String, widths: [Int])] = [
    ("inception3a", [64, 96, 128, 16, 32, 32]), ("inception3b", [128, 128, 192, 32, 96, 64]),
    ("inception4a", [192, 96, 208, 16, 48, 64]), ("inception4b", [160, 112, 224, 24, 64, 64]),
    ("inception4c", [128, 128, 256, 24, 64, 64]), ("inception4d", [112, 144, 288, 32, 64, 64]),
    ("inception4e", [256, 160, 320, 32, 128, 128]), ("inception5a", [256, 160, 320, 32, 128, 128]),
    ("inception5b", [384, 192, 384, 48, 128, 128]),
  ]

  static func graph(height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.normEpsilon = 1e-3
    var x = g.transformedInput()
    x = g.basicConv("conv1", x, channels: 64, kernel: 7, stride: 2, padding: 3)
    x = g.pooled(.max, x, kernel: 3, stride: 2, ceil: true)
    x = g.basicConv("conv2", x, channels: 64, kernel: 1)
    x = g.basicConv("conv3", x, channels: 192, kernel: 3, padding: 1)
    x = g.pooled(.max, x, kernel: 3, stride: 2, ceil: true)
    g.tap("maxpool2", x)
    for (name, widths) in blocks {
      x = block(&g, name, x, widths)
      if name == "inception3b" || name == "inception4e" {
        x = g.pooled(.max, x, kernel: name == "inception3b" ? 3 : 2, stride: 2, ceil: true)
      }
    }
    // The auxiliary classifiers, registered after the blocks as in torchvision's __init__.
    for (aux, inChannels) in [("aux1", 512), ("aux2", 528)] {
      g.registerAuxiliaryConv("\(aux).conv", in: inChannels, out: 128, kernel: 1)
      g.registerLinear("\(aux).fc1", in: 2048, out: 1024)
      g.registerLinear("\(aux).fc2", in: 1024, out: 1000)
    }
    g.globalAveragePool(x)
    g.registerLinear("fc", in: 1024, out: 1000)
    return g
  }

  /// One inception block: 1x1 | 1x1→3x3 | 1x1→3x3 (torchvision's "5x5" branch) | maxpool(ceil)→1x1.
  static func block(_ g: inout Graph, _ name: String, _ x: View, _ w: [Int]) -> View {
    let (ch1x1, red3, ch3, red5, ch5, poolProj) = (w[0], w[1], w[2], w[3], w[4], w[5])
    let s = g.size(x)
    let out = g.wholeBuffer(ch1x1 + ch3 + ch5 + poolProj, s.height, s.width)
    g.basicConv("\(name).branch1", x, into: out.slice(0, ch1x1), kernel: 1)
    let b2 = g.basicConv("\(name).branch2.0", x, channels: red3, kernel: 1, temporary: true)
    g.basicConv("\(name).branch2.1", b2, into: out.slice(ch1x1, ch3), kernel: 3, padding: 1)
    let b3 = g.basicConv("\(name).branch3.0", x, channels: red5, kernel: 1, temporary: true)
    g.basicConv("\(name).branch3.1", b3, into: out.slice(ch1x1 + ch3, ch5), kernel: 3, padding: 1)
    let pooled = g.pooled(.max, x, kernel: 3, stride: 1, padding: 1, ceil: true, temporary: true)
    g.basicConv("\(name).branch4.1", pooled, into: out.slice(ch1x1 + ch3 + ch5, poolProj), kernel: 1)
    g.tap(name, out)
    return out
  }
}
