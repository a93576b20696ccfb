// The network description the architecture files build and Network.swift compiles: a straight list of
// operations (convolutions with an ordered list of post-ops, batch and layer norms, poolings, copies,
// gates, the input transform) over channel views of a few buffers, with the taps that can end it and
// every state_dict entry in the reference's order. A channel view of a buffer lets DenseNet concatenate
// in place (at N = 1 a channel range is a dense tensor); channels-last graphs concatenate by copies.

/// What a state_dict entry is, by the module that owns it.
public enum ParameterKind: Sendable, Hashable {
  case convWeight, bnWeight, bnBias, bnRunningMean, bnRunningVar, bnBatchesTracked, linearWeight, linearBias
  /// A convolution's own bias (timm's convolutions have one).
  case convBias
  /// LayerNorm's affine weight and bias.
  case lnWeight, lnBias
  /// A per-channel layer scale (`gamma`) multiplying a block's output.
  case layerScale
  /// A learned token or table of tokens: a class or register token, a position embedding.
  case token
}

/// One entry the architecture expects in a torchvision state_dict.
public struct ParameterSpec: Sendable, Equatable {
  /// torchvision's key, e.g. `features.denseblock1.denselayer1.conv1.weight`.
  public var name: String
  /// Tensor shape (`[]` for `num_batches_tracked`).
  public var shape: [Int]
  public var kind: ParameterKind
  /// False for the classifier (`fc.*`, `classifier.*`), whose class count may differ from ImageNet's.
  public var usedForFeatures: Bool
  /// Inputs of the layer that owns the tensor, where its shape does not say (a Linear layer's bias):
  /// the random rule bounds both of a Linear's tensors by 1/√in.
  public var fanIn: Int? = nil
}

/// A channel range of a buffer: `channels` channels starting at `channelOffset`; in a channels-last
/// buffer, optionally only `rows` of its pixels (tokens) from `rowOffset`, as a `rows` × 1 map (a class
/// token, the patch tokens after the prefix).
struct View: Equatable {
  var buffer: Int
  var channelOffset: Int
  var channels: Int
  var rowOffset = 0
  /// Pixels (tokens) of the view; nil: all of the buffer's, in its own height × width.
  var rows: Int? = nil

  init(buffer: Int, channelOffset: Int, channels: Int, rowOffset: Int = 0, rows: Int? = nil) {
    self.buffer = buffer
    self.channelOffset = channelOffset
    self.channels = channels
    self.rowOffset = rowOffset
    self.rows = rows
  }

  /// `count` channels of this view from `offset` (a branch's part of a concatenation).
  func slice(_ offset: Int, _ count: Int) -> View {
    View(buffer: buffer, channelOffset: channelOffset + offset, channels: count, rowOffset: rowOffset, rows: rows)
  }

  /// `count` tokens of this whole channels-last buffer from `offset`.
  func tokens(_ offset: Int, _ count: Int) -> View {
    View(buffer: buffer, channelOffset: channelOffset, channels: channels, rowOffset: offset, rows: count)
  }
}

/// Shape of one image's buffer: channels, height, width.
struct BufferShape: Equatable {
  var channels: Int
  var height: Int
  var width: Int
  /// Kept in plain NCHW whatever the network's layout (a 3-channel image the first convolution reads).
  var plain = false
}

/// A height and a width: a kernel, a padding or a stride (an integer literal means both).
struct Extent: Equatable, ExpressibleByIntegerLiteral {
  var height: Int
  var width: Int

  init(_ height: Int, _ width: Int) {
    self.height = height
    self.width = width
  }

  init(integerLiteral value: Int) { self.init(value, value) }

  var area: Int { height * width }
}

/// What runs on a convolution's result, in order, as oneDNN post-ops.
enum PostStep: Equatable {
  /// `result + dst`: a residual already in the destination (ResNet's identity or downsample branch,
  /// EfficientNet's block input, which the block overwrites in place).
  case sum
  case relu
  /// `min(max(x, 0), 6)` (PyTorch's `ReLU6`).
  case relu6
  /// `x * sigmoid(x)` (PyTorch's `SiLU`).
  case silu
  /// `1 / (1 + exp(-x))` (squeeze-and-excitation's gate).
  case sigmoid
  /// GELU with the exact erf (PyTorch's `nn.GELU()`).
  case gelu
  /// GELU with the tanh approximation (timm's `gelu_tanh`: SigLIP).
  case geluTanh
  /// `min(max(x / 6 + 1/2, 0), 1)` (PyTorch's `Hardsigmoid`).
  case hardSigmoid
  /// `x * sigmoid(1.702 x)` (OpenAI CLIP's `QuickGELU`).
  case quickGelu
  /// A per-channel product with this `[C]` tensor (a layer scale).
  case scale(String)
}

/// A convolution with its BatchNorm folded in (torchvision convs here have no bias), then its post-ops
/// in order.
struct ConvOp {
  var weight: String
  var foldedNorm: String?
  /// The convolution's own bias tensor, if it has one.
  var bias: String? = nil
  var post: [PostStep] = []
  var src: View
  var dst: View
  var kernel: Extent
  var stride: Int
  /// Top and left padding (PyTorch's, the same on both sides unless `paddingEnd` says otherwise).
  var padding: Extent
  /// Bottom and right padding where it differs from `padding` (TensorFlow's "same" pads one more there).
  var paddingEnd: Extent? = nil
  var groups: Int
  /// How many times more multiply-adds torchvision's op order spends here (4 for a DenseNet transition
  /// conv, which torchvision runs before its 2x2 pooling); used only to report comparable GFLOPS.
  var torchvisionCostFactor = 1
}

/// An inference BatchNorm (`y = (x - mean) / sqrt(var + eps) * weight + bias`), optionally with ReLU.
struct NormOp {
  var norm: String
  var src: View
  var dst: View
  var relu: Bool
}

/// Max or average pooling.
struct PoolOp {
  enum Kind {
    case max
    /// Padding not counted (`count_include_pad=False`; torchvision's DenseNet and ResNet pool without padding).
    case average
    /// Padding counted as zeros (`F.avg_pool2d`'s default, Inception's branch pools).
    case averageIncludingPadding
  }
  var kind: Kind
  var src: View
  var dst: View
  var kernel: (Int, Int)
  var stride: Int
  var padding: Int
  /// Bottom and right padding when it differs from `padding`: PyTorch's `ceil_mode` as extra windows.
  var paddingEnd: Extent? = nil
}

/// `dst[c] = src[c] * scale[c] + shift[c]`, rounded after the product and after the sum as PyTorch's
/// two tensor operations are (torchvision's `transform_input`).
struct AffineOp {
  var src: View
  var dst: View
  var scale: [Float]
  var shift: [Float]
}

/// LayerNorm over the channels of each pixel (timm's `LayerNorm2d`), whole buffers only.
struct LayerNormOp {
  var norm: String
  var src: View
  var dst: View
}

/// A copy from one view to another of the same shape: how a channels-last network concatenates.
struct CopyOp {
  var src: View
  var dst: View
}

/// `dst = src * gate` with the `[C, 1, 1]` gate broadcast over the map, then an optional layer scale
/// (squeeze-and-excitation's multiply).
struct GateOp {
  var src: View
  var gate: View
  var dst: View
  var scale: String?
}

/// A Linear layer applied to every row (token or pixel) of a channels-last buffer, `dst = src · Wᵀ + b`,
/// then its post-ops. `layerScale` (a `[out]` tensor) multiplies the result before the post-ops; it is
/// folded into W and b at compile time.
struct LinearOp {
  var weight: String
  var bias: String?
  var layerScale: String? = nil
  var post: [PostStep] = []
  var src: View
  var dst: View
  /// The weight's rows used, when the layer computes one part of a fused tensor (timm's `qkv`, torchvision's
  /// `in_proj`): rows `rows.lowerBound ..< rows.upperBound` of `[out, in]`, and the same entries of the bias.
  var rows: Range<Int>? = nil
  /// A factor folded into the weight and bias (the attention scale, folded into the queries).
  var factor: Float = 1
}

/// Multi-head scaled dot-product attention of dense query, key and value buffers (the queries already
/// scaled): per head, `softmax(q kᵀ) v`, written into `dst` with the heads side by side (timm's and
/// PyTorch's `transpose(1, 2).reshape(B, N, C)`).
struct AttentionOp {
  /// Where the queries come from: a view, or one learned query (a constant: timm's `AttentionPoolLatent`,
  /// whose query projection of its latent token is computed at compile time).
  enum Queries {
    case view(View)
    /// `latent` `[1, 1, D]` through the Linear layer `weight`/`bias`, times the attention scale.
    case latent(latent: String, weight: String, bias: String?, scale: Float)
  }
  var queries: Queries
  var keys: View
  var values: View
  var heads: Int
  /// A buffer of heads × queries × keys values for the softmax.
  var scores: Int
  var dst: View
}

/// The token sequence of a vision transformer: the prefix tokens (class, then registers: constants of the
/// weights) before the patch tokens, plus the position embedding (timm's `_pos_embed`). With
/// `positionsCoverPrefix` the table covers the whole sequence and is added after the concatenation;
/// else it covers the patches and is added before (timm's `no_embed_class`).
struct TokensOp {
  var patches: View
  var dst: View
  /// `[1, n, D]` tensors in order (`cls_token`, `reg_token`).
  var prefix: [String]
  var positions: String?
  var positionsCoverPrefix: Bool
  /// The patch grid the input gives (the table is resampled to it when the weights' grid differs).
  var grid: Extent
}

/// The mean of a channels-last view's rows (the patch tokens' average) into a 1×1 view.
struct MeanRowsOp {
  var src: View
  var dst: View
}

enum GraphOp {
  case conv(ConvOp)
  case linear(LinearOp)
  case attention(AttentionOp)
  case tokens(TokensOp)
  case meanRows(MeanRowsOp)
  case norm(NormOp)
  case pool(PoolOp)
  case affine(AffineOp)
  case layerNorm(LayerNormOp)
  case copy(CopyOp)
  case gate(GateOp)
}

/// A tappable output: its view once the first `opCount` operations ran.
struct Tap {
  var name: String
  var view: View
  var opCount: Int
  /// A 1x1 map that is a vector by definition (`avgpool`), stored as C values even when flattened.
  var isVector = false
  /// For a transformer's token map ([tokens, D]): how many class and register tokens come before the patches.
  var prefixTokens: Int? = nil
}

/// A whole backbone for one input size.
struct Graph {
  /// Buffer 0 is the input image (3 channels, NCHW plain).
  var buffers: [BufferShape]
  var ops: [GraphOp] = []
  var taps: [Tap] = []
  /// Every state_dict entry, in torchvision's order.
  var parameters: [ParameterSpec] = []
  /// Epsilon of every BatchNorm (torchvision's default 1e-5; Inception and GoogLeNet use 1e-3).
  var normEpsilon: Float = 1e-5
  /// Epsilon of every LayerNorm (timm's LayerNorm2d: 1e-6).
  var layerNormEpsilon: Float = 1e-6
  /// Activations channels-last (NHWC) instead of channel-blocked: what LayerNorm over channels needs.
  var channelsLast = false
  /// Every view is described with its batch stride, so the network runs several images per execution
  /// even where it reads channel or token ranges (transformers).
  var stridedBatch = false
  /// Buffers declared with `temporary`: whole buffers that one operation writes in full before any reads it.
  private(set) var temporaries: Set<Int> = []

  init(inputHeight: Int, inputWidth: Int) {
    buffers = [BufferShape(channels: 3, height: inputHeight, width: inputWidth)]
  }

  var input: View { View(buffer: 0, channelOffset: 0, channels: 3) }

  /// Declares a new buffer.
  mutating func buffer(_ channels: Int, _ height: Int, _ width: Int) -> Int {
    buffers.append(BufferShape(channels: channels, height: height, width: width))
    return buffers.count - 1
  }

  /// Declares a new buffer and returns it whole.
  mutating func wholeBuffer(_ channels: Int, _ height: Int, _ width: Int) -> View {
    let id = buffer(channels, height, width)
    return whole(id)
  }

  /// A whole buffer as a view.
  func whole(_ buffer: Int) -> View { View(buffer: buffer, channelOffset: 0, channels: buffers[buffer].channels) }

  /// A new whole buffer for a block's intermediate result, which one operation writes in full before any
  /// reads it. The compiler gives it memory by liveness (`MemoryPlan`): it shares memory with every buffer
  /// whose life does not overlap its own, even in a channel-blocked layout with padded channels.
  mutating func temporary(_ channels: Int, _ size: Extent) -> View {
    let view = wholeBuffer(channels, size.height, size.width)
    temporaries.insert(view.buffer)
    return view
  }

  /// Averages `src` over its whole map into the 1x1 view `dst`.
  mutating func averageOverMap(_ src: View, into dst: View) {
    let (h, w) = (buffers[src.buffer].height, buffers[src.buffer].width)
    ops.append(.pool(PoolOp(kind: .average, src: src, dst: dst, kernel: (h, w), stride: 1, padding: 0)))
  }

  /// Averages `src` over its whole map into a new 1x1 buffer, tapped as `avgpool`.
  mutating func globalAveragePool(_ src: View) {
    let pooled = wholeBuffer(src.channels, 1, 1)
    averageOverMap(src, into: pooled)
    tap("avgpool", pooled, isVector: true)
  }

  /// Records a tap at the current end of the op list.
  mutating func tap(_ name: String, _ view: View, isVector: Bool = false, prefixTokens: Int? = nil) {
    taps.append(Tap(name: name, view: view, opCount: ops.count, isVector: isVector, prefixTokens: prefixTokens))
  }

  // MARK: - Parameters, in torchvision's registration order

  /// `forFeatures: false` registers a module features never run (Inception's auxiliary classifiers): its
  /// tensors may be absent, and are checked when present.
  mutating func registerConv(_ name: String, out: Int, inPerGroup: Int, kernel: Extent, forFeatures: Bool = true) {
    parameters.append(
      ParameterSpec(
        name: name + ".weight", shape: [out, inPerGroup, kernel.height, kernel.width], kind: .convWeight,
        usedForFeatures: forFeatures))
  }

  /// Registers a convolution's weight and, if given, the BatchNorm that follows it.
  mutating func registerConvAndNorm(
    _ weight: String, norm: String?, out: Int, inPerGroup: Int, kernel: Extent, forFeatures: Bool = true
  ) {
    registerConv(weight, out: out, inPerGroup: inPerGroup, kernel: kernel, forFeatures: forFeatures)
    if let norm { registerNorm(norm, channels: out, forFeatures: forFeatures) }
  }

  mutating func registerNorm(_ name: String, channels: Int, forFeatures: Bool = true) {
    let kinds: [(String, ParameterKind)] = [
      ("weight", .bnWeight), ("bias", .bnBias), ("running_mean", .bnRunningMean), ("running_var", .bnRunningVar),
    ]
    for (suffix, kind) in kinds {
      parameters.append(
        ParameterSpec(name: "\(name).\(suffix)", shape: [channels], kind: kind, usedForFeatures: forFeatures))
    }
    parameters.append(
      ParameterSpec(name: name + ".num_batches_tracked", shape: [], kind: .bnBatchesTracked, usedForFeatures: false))
  }

  /// Registers a `[C]` tensor: a convolution's bias, a layer scale.
  mutating func registerVector(_ name: String, channels: Int, kind: ParameterKind) {
    parameters.append(ParameterSpec(name: name, shape: [channels], kind: kind, usedForFeatures: true))
  }

  mutating func registerLayerNorm(_ name: String, channels: Int) {
    registerVector(name + ".weight", channels: channels, kind: .lnWeight)
    registerVector(name + ".bias", channels: channels, kind: .lnBias)
  }

  /// Registers a Linear layer's weight `[out, in]` and bias `[out]` (`forFeatures: false`: a classifier;
  /// `weight`/`bias` name the tensors when they are not `<name>.weight`, as torchvision's `in_proj_weight`).
  mutating func registerLinear(
    _ name: String, in inFeatures: Int, out: Int, bias hasBias: Bool = true, forFeatures: Bool = false,
    weight: String? = nil, biasName: String? = nil
  ) {
    parameters.append(
      ParameterSpec(
        name: weight ?? name + ".weight", shape: [out, inFeatures], kind: .linearWeight, usedForFeatures: forFeatures))
    guard hasBias else { return }
    parameters.append(
      ParameterSpec(
        name: biasName ?? name + ".bias", shape: [out], kind: .linearBias, usedForFeatures: forFeatures, fanIn: inFeatures))
  }

  /// Registers a `[1, count, channels]` token tensor (class or register tokens, a position table).
  mutating func registerTokens(_ name: String, count: Int, channels: Int) {
    parameters.append(ParameterSpec(name: name, shape: [1, count, channels], kind: .token, usedForFeatures: true))
  }

  /// Appends a Linear layer (registering it) over the rows of `src` into `dst`.
  mutating func linear(
    _ name: String, from src: View, to dst: View, bias: Bool = true, layerScale: String? = nil, post: [PostStep] = []
  ) {
    registerLinear(name, in: src.channels, out: dst.channels, bias: bias, forFeatures: true)
    ops.append(
      .linear(
        LinearOp(
          weight: name + ".weight", bias: bias ? name + ".bias" : nil, layerScale: layerScale, post: post, src: src, dst: dst)))
  }

  // MARK: - Operations

  /// Output size of a convolution or pooling window along one axis (floor mode, as PyTorch; `ceil` as
  /// `ceil_mode=True`, where the last window must still start inside the input or its left padding).
  static func outputSize(_ input: Int, kernel: Int, stride: Int, padding: Int, ceil: Bool = false) -> Int {
    let span = input + 2 * padding - kernel
    guard ceil, span >= 0 else { return span / stride + 1 }
    var out = (span + stride - 1) / stride + 1
    if (out - 1) * stride >= input + padding { out -= 1 }
    return out
  }

  /// Appends a convolution (registering its weight) with an optional folded BatchNorm (registering it).
  /// `residual` and `relu` are the first post-ops (sum, then ReLU), `post` follows them.
  mutating func conv(
    _ weight: String, norm: String?, from src: View, to dst: View, kernel: Extent, stride: Int = 1, padding: Extent = 0,
    paddingEnd: Extent? = nil, groups: Int = 1, residual: Bool = false, relu: Bool = false, bias: Bool = false,
    post: [PostStep] = [], register: Bool = true
  ) {
    if register {
      registerConv(weight, out: dst.channels, inPerGroup: src.channels / groups, kernel: kernel)
      if bias { registerVector(weight + ".bias", channels: dst.channels, kind: .convBias) }
      if let norm { registerNorm(norm, channels: dst.channels) }
    }
    let steps: [PostStep] = (residual ? [.sum] : []) + (relu ? [.relu] : []) + post
    ops.append(
      .conv(
        ConvOp(
          weight: weight + ".weight", foldedNorm: norm, bias: bias ? weight + ".bias" : nil, post: steps, src: src,
          dst: dst, kernel: kernel, stride: stride, padding: padding, paddingEnd: paddingEnd == padding ? nil : paddingEnd,
          groups: groups)))
  }

  /// Appends a LayerNorm over channels (registering it).
  mutating func layerNorm(_ name: String, from src: View, to dst: View) {
    registerLayerNorm(name, channels: src.channels)
    ops.append(.layerNorm(LayerNormOp(norm: name, src: src, dst: dst)))
  }

  /// Appends a standalone BatchNorm (registering it).
  mutating func norm(_ name: String, from src: View, to dst: View, relu: Bool) {
    registerNorm(name, channels: src.channels)
    ops.append(.norm(NormOp(norm: name, src: src, dst: dst, relu: relu)))
  }

  /// Shape of one image's output at `tap` pooled by `pooling`: [C, H, W] or [C] for a map, [tokens, D] or
  /// [D] (2·D for `token+avg`) for a token map.
  /// - Throws: `BackboneError.unsupportedPooling` for a pooling the layer does not have.
  func outputShape(of tap: Tap, pooling: Pooling) throws -> [Int] {
    let shape = buffers[tap.view.buffer]
    let channels = tap.view.channels
    guard let prefix = tap.prefixTokens else {
      guard pooling.appliesToMaps else {
        throw BackboneError.unsupportedPooling(pooling: pooling.rawValue, layer: tap.name, choices: Pooling.mapChoices)
      }
      if pooling != .flatten || tap.isVector { return [channels] }
      return [channels, shape.height, shape.width]
    }
    let choices = Pooling.tokenChoices(classToken: prefix > 0)
    guard choices.contains(pooling.rawValue) else {
      throw BackboneError.unsupportedPooling(pooling: pooling.rawValue, layer: tap.name, choices: choices)
    }
    switch pooling {
    case .flatten: return [shape.height * shape.width, channels]
    case .tokenAvg: return [2 * channels]
    default: return [channels]
    }
  }

  /// Bytes of the largest attention-score buffer one image needs (0 without attention).
  var attentionScoresBytes: Int {
    ops.reduce(0) { largest, op in
      guard case .attention(let a) = op else { return largest }
      let shape = buffers[a.scores]
      return max(largest, shape.channels * shape.height * shape.width * 4)
    }
  }

  /// Multiply-adds of the first `opCount` operations as torchvision computes them (convolutions, Linear
  /// layers and attention products).
  func torchvisionMultiplyAdds(opCount: Int) -> Int {
    var total = 0
    for op in ops.prefix(opCount) {
      switch op {
      case .conv(let c):
        let out = buffers[c.dst.buffer]
        total += c.dst.channels * (c.src.channels / c.groups) * c.kernel.area * out.height * out.width * c.torchvisionCostFactor
      case .linear(let l):
        let rows = buffers[l.src.buffer].height * buffers[l.src.buffer].width
        total += rows * l.src.channels * l.dst.channels
      case .attention(let a):
        // q kᵀ and the product with v: queries × keys × width each.
        let keys = buffers[a.keys.buffer].height * buffers[a.keys.buffer].width
        let queries = if case .view = a.queries { keys } else { 1 }
        total += 2 * queries * keys * a.keys.channels
      default: continue
      }
    }
    return total
  }

  /// Appends a square pooling; `ceil` is PyTorch's `ceil_mode` (the extra windows get bottom/right padding).
  mutating func pool(
    _ kind: PoolOp.Kind, from src: View, to dst: View, kernel: Int, stride: Int, padding: Int = 0, ceil: Bool = false
  ) {
    var op = PoolOp(kind: kind, src: src, dst: dst, kernel: (kernel, kernel), stride: stride, padding: padding)
    if ceil {
      let (input, output) = (buffers[src.buffer], buffers[dst.buffer])
      let end = Extent(
        (output.height - 1) * stride + kernel - input.height - padding,
        (output.width - 1) * stride + kernel - input.width - padding)
      if end != Extent(padding, padding) { op.paddingEnd = end }
    }
    ops.append(.pool(op))
  }
}
