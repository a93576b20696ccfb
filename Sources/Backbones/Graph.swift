// The network description the architecture files build and Network.swift compiles: a straight list of
// convolutions, batch norms and poolings over channel views of a few buffers, for one image
// (N = 1, so a channel range of a buffer is itself a dense tensor and DenseNet needs no concatenation).

/// What a state_dict entry is, by the module that owns it.
public enum ParameterKind: Sendable, Equatable {
  case convWeight, bnWeight, bnBias, bnRunningMean, bnRunningVar, bnBatchesTracked, linearWeight, linearBias
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
}

/// A channel range of a buffer: `channels` channels starting at `channelOffset`.
struct View: Equatable {
  var buffer: Int
  var channelOffset: Int
  var channels: Int
}

/// Shape of one image's buffer: channels, height, width.
struct BufferShape: Equatable {
  var channels: Int
  var height: Int
  var width: Int
}

/// A convolution with its BatchNorm folded in (torchvision convs here have no bias), optionally followed
/// by a residual sum into the destination and a ReLU.
struct ConvOp {
  var weight: String
  var foldedNorm: String?
  var src: View
  var dst: View
  var kernel: Int
  var stride: Int
  var padding: Int
  var groups: Int
  /// `dst = conv(src) + dst` (ResNet's identity or downsample branch, already in dst).
  var residual: Bool
  var relu: Bool
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

/// Max or average pooling (average pooling never includes padding here: torchvision's uses none).
struct PoolOp {
  enum Kind { case max, average }
  var kind: Kind
  var src: View
  var dst: View
  var kernel: (Int, Int)
  var stride: Int
  var padding: Int
}

enum GraphOp {
  case conv(ConvOp)
  case norm(NormOp)
  case pool(PoolOp)
}

/// A tappable output: its view once the first `opCount` operations ran.
struct Tap {
  var name: String
  var view: View
  var opCount: Int
}

/// A whole backbone for one input size.
struct Graph {
  /// Buffer 0 is the input image (3 channels, NCHW plain).
  var buffers: [BufferShape]
  var ops: [GraphOp] = []
  var taps: [Tap] = []
  /// Every state_dict entry, in torchvision's order.
  var parameters: [ParameterSpec] = []

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

  /// Records a tap at the current end of the op list.
  mutating func tap(_ name: String, _ view: View) { taps.append(Tap(name: name, view: view, opCount: ops.count)) }

  // MARK: - Parameters, in torchvision's registration order

  mutating func registerConv(_ name: String, out: Int, inPerGroup: Int, kernel: Int) {
    parameters.append(
      ParameterSpec(name: name + ".weight", shape: [out, inPerGroup, kernel, kernel], kind: .convWeight, usedForFeatures: true))
  }

  /// Registers a convolution's weight and, if given, the BatchNorm that follows it.
  mutating func registerConvAndNorm(_ weight: String, norm: String?, out: Int, inPerGroup: Int, kernel: Int) {
    registerConv(weight, out: out, inPerGroup: inPerGroup, kernel: kernel)
    if let norm { registerNorm(norm, channels: out) }
  }

  mutating func registerNorm(_ name: String, channels: Int) {
    let kinds: [(String, ParameterKind)] = [
      ("weight", .bnWeight), ("bias", .bnBias), ("running_mean", .bnRunningMean), ("running_var", .bnRunningVar),
    ]
    for (suffix, kind) in kinds {
      parameters.append(ParameterSpec(name: "\(name).\(suffix)", shape: [channels], kind: kind, usedForFeatures: true))
    }
    parameters.append(
      ParameterSpec(name: name + ".num_batches_tracked", shape: [], kind: .bnBatchesTracked, usedForFeatures: false))
  }

  mutating func registerLinear(_ name: String, in inFeatures: Int, out: Int) {
    parameters.append(
      ParameterSpec(name: name + ".weight", shape: [out, inFeatures], kind: .linearWeight, usedForFeatures: false))
    parameters.append(ParameterSpec(name: name + ".bias", shape: [out], kind: .linearBias, usedForFeatures: false))
  }

  // MARK: - Operations

  /// Output size of a convolution or pooling window along one axis (floor mode, as PyTorch).
  static func outputSize(_ input: Int, kernel: Int, stride: Int, padding: Int) -> Int {
    (input + 2 * padding - kernel) / stride + 1
  }

  /// Appends a convolution (registering its weight) with an optional folded BatchNorm (registering it).
  mutating func conv(
    _ weight: String, norm: String?, from src: View, to dst: View, kernel: Int, stride: Int = 1, padding: Int = 0,
    groups: Int = 1, residual: Bool = false, relu: Bool = false, register: Bool = true
  ) {
    if register { registerConvAndNorm(weight, norm: norm, out: dst.channels, inPerGroup: src.channels / groups, kernel: kernel) }
    ops.append(
      .conv(
        ConvOp(
          weight: weight + ".weight", foldedNorm: norm, src: src, dst: dst, kernel: kernel, stride: stride,
          padding: padding, groups: groups, residual: residual, relu: relu)))
  }

  /// Appends a standalone BatchNorm (registering it).
  mutating func norm(_ name: String, from src: View, to dst: View, relu: Bool) {
    registerNorm(name, channels: src.channels)
    ops.append(.norm(NormOp(norm: name, src: src, dst: dst, relu: relu)))
  }

  /// Multiply-adds of the first `opCount` operations as torchvision computes them (convolutions only).
  func torchvisionMultiplyAdds(opCount: Int) -> Int {
    var total = 0
    for op in ops.prefix(opCount) {
      guard case .conv(let c) = op else { continue }
      let out = buffers[c.dst.buffer]
      total +=
        c.dst.channels * (c.src.channels / c.groups) * c.kernel * c.kernel * out.height * out.width * c.torchvisionCostFactor
    }
    return total
  }

  mutating func pool(_ kind: PoolOp.Kind, from src: View, to dst: View, kernel: Int, stride: Int, padding: Int = 0) {
    ops.append(.pool(PoolOp(kind: kind, src: src, dst: dst, kernel: (kernel, kernel), stride: stride, padding: padding)))
  }
}
