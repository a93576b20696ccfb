// Compiles a Graph with its weights into oneDNN primitives (once), and runs them per image.
//
// Constants (weights with BatchNorm folded in) are prepared once by `ConstantPreparation`.
//
// Layout: activations use one layout for the whole network: channels-last (NHWC) for graphs that ask for
// it (RDNet, whose LayerNorm normalises each pixel's channels), else oneDNN's blocked nChw8c (AVX2) or
// nChw16c (AVX-512) when every channel count and offset is a multiple of the block (true for every
// torchvision model), else plain NCHW. Weights are reordered once, at compile time, into the layout each
// convolution asked for ("any"). A network whose operations all read and write whole buffers (ResNet,
// EfficientNet) runs several images per execution; one that uses channel ranges (DenseNet's concatenation
// in place, Inception's branches) runs N = 1, where a channel range of a buffer is a dense tensor.

import DNNL
import Glibc

/// 64-byte aligned, zeroed memory owned by Swift.
final class AlignedBuffer: @unchecked Sendable {
  // Sendable: the pointer is fixed; networks only read weight buffers after compilation, and each
  // workspace buffer is used by one worker at a time.
  let pointer: UnsafeMutableRawPointer
  let bytes: Int

  /// - Throws: `BackboneError.outOfMemory` if `posix_memalign` cannot provide the bytes.
  init(bytes: Int) throws {
    var p: UnsafeMutableRawPointer?
    let size = max(bytes, 64)
    guard posix_memalign(&p, 64, size) == 0, let p else { throw BackboneError.outOfMemory(bytes: size) }
    pointer = p
    self.bytes = bytes
    memset(pointer, 0, size)
  }

  deinit { free(pointer) }

  var floats: UnsafeMutablePointer<Float> { pointer.assumingMemoryBound(to: Float.self) }
}

/// How activations are laid out in memory.
enum ActivationLayout: Equatable {
  case plain
  case blocked(Int)
  /// NHWC: a channel range is a strided view, so channels-last graphs concatenate with copies.
  case channelsLast

  var tag: Layout {
    switch self {
    case .plain: .nchw
    case .blocked(16): .nChw16c
    case .blocked: .nChw8c
    case .channelsLast: .nhwc
    }
  }

  /// The blocked layout oneDNN's kernels prefer on this CPU.
  static var preferredBlock: Int { CPU.avx512 ? 16 : 8 }

  /// Blocked if every view of the graph is a whole buffer or block-aligned, else plain. (A whole buffer
  /// of, say, 24 channels is blocked too: oneDNN pads it to 32 with zeros.)
  static func choose(for graph: Graph, ops: ArraySlice<GraphOp>) -> ActivationLayout {
    if graph.channelsLast { return .channelsLast }
    let block = preferredBlock
    func aligned(_ v: View) -> Bool {
      let buffer = graph.buffers[v.buffer]
      if v.buffer == 0 || buffer.plain || (v.channelOffset == 0 && v.channels == buffer.channels) { return true }
      return v.channelOffset % block == 0 && v.channels % block == 0
    }
    return ops.allSatisfy { $0.views.allSatisfy(aligned) } ? .blocked(block) : .plain
  }

  /// Channels a buffer of `channels` occupies in this layout (blocked layouts round up to the block).
  func paddedChannels(_ channels: Int) -> Int {
    guard case .blocked(let block) = self else { return channels }
    return (channels + block - 1) / block * block
  }
}

extension GraphOp {
  /// The views the operation reads and writes.
  var views: [View] {
    switch self {
    case .conv(let c): [c.src, c.dst]
    case .norm(let n): [n.src, n.dst]
    case .pool(let p): [p.src, p.dst]
    case .affine(let a): [a.src, a.dst]
    case .layerNorm(let l): [l.src, l.dst]
    case .copy(let c): [c.src, c.dst]
    case .gate(let g): [g.src, g.gate, g.dst]
    }
  }
}

/// Where an execution argument's memory comes from.
enum ArgumentSource {
  /// A channel view of a workspace buffer (buffer 0 is the caller's input image).
  case view(View)
  /// A constant owned by the network (weights, bias, BatchNorm statistics).
  case constant(Int)
  /// The workspace's scratchpad.
  case scratchpad
  /// The caller's output row for this image.
  case output
}

/// One primitive call.
struct Step {
  let primitive: DNNLPrimitive
  let arguments: [(ArgumentRole, ArgumentSource, MemoryDescriptor)]
}

/// A backbone compiled for one input size and one thread count per image.
final class CompiledNetwork: @unchecked Sendable {
  // Sendable: immutable after init; oneDNN primitives may execute concurrently with distinct memory.
  let engine: DNNLEngine
  let graph: Graph
  let layout: ActivationLayout
  let steps: [Step]
  let constants: [AlignedBuffer]
  let scratchpadBytes: Int
  let threadsPerImage: Int
  /// Images per execution (N of every tensor). More than one only when no operation uses a channel
  /// range of a buffer (ResNets), since in a blocked layout only N = 1 keeps such a range dense.
  let batch: Int
  /// Values written per image (the pooled or flattened tap).
  let outputCount: Int
  /// Shape of one output before flattening, e.g. [1024, 7, 7] or [2048].
  let outputShape: [Int]
  /// Element type of weights and activations (accumulation is always float32).
  let precision: Precision
  /// Bytes per activation value.
  var elementBytes: Int { precision == .bfloat16 ? 2 : 4 }
  /// In bfloat16, the workspace buffer holding the input image converted from the caller's float32.
  var inputCopy: Int? { precision == .bfloat16 ? graph.buffers.count + 1 : nil }
  /// In bfloat16, the float32 workspace buffer an input transform writes before its result is converted
  /// (oneDNN's binary kernels have no fast float32 → bfloat16 path).
  var affineCopy: Int? { Self.affineCopy(graph, precision) }

  static func affineCopy(_ graph: Graph, _ precision: Precision) -> Int? {
    let transforms = graph.ops.contains { if case .affine = $0 { true } else { false } }
    return precision == .bfloat16 && transforms ? graph.buffers.count + 2 : nil
  }

  /// - Parameters:
  ///   - graph: the whole architecture for this input size.
  ///   - tap: the layer to stop at.
  ///   - pooling: how the tap's map becomes the output.
  ///   - weights: validated state_dict.
  ///   - threadsPerImage: OpenMP threads each image's primitives use.
  ///   - precision: bfloat16 stores weights and activations as bfloat16 (products summed in float32);
  ///     BatchNorm statistics, biases and the output stay float32.
  init(
    graph: Graph, tap: Tap, pooling: Pooling, weights: StateDict, threadsPerImage: Int, batch: Int = 1,
    precision: Precision = .float32
  ) throws {
    engine = try DNNLEngine.shared()
    self.graph = graph
    self.precision = precision
    let activation: ElementType = precision == .bfloat16 ? .bfloat16 : .float32
    let inputCopy = precision == .bfloat16 ? graph.buffers.count + 1 : nil
    self.threadsPerImage = threadsPerImage
    precondition(
      batch == 1 || CompiledNetwork.usesWholeBuffers(graph, opCount: tap.opCount),
      "CompiledNetwork: batch > 1 needs whole-buffer views")
    self.batch = batch
    let ops = graph.ops[0..<tap.opCount]
    layout = ActivationLayout.choose(for: graph, ops: ops)
    var constants: [AlignedBuffer] = []
    var steps: [Step] = []
    let layout = self.layout
    let engine = self.engine
    let stream = try DNNLStream(engine)

    /// The buffer an operation really reads: in bfloat16, the converted copy of the input.
    func resolved(_ v: View) -> View {
      guard v.buffer == 0, let inputCopy else { return v }
      return View(buffer: inputCopy, channelOffset: v.channelOffset, channels: v.channels)
    }
    func describe(_ v: View) throws -> MemoryDescriptor {
      let shape = graph.buffers[v.buffer]
      let dims = [batch, v.channels, shape.height, shape.width]
      if layout == .channelsLast, v.buffer != 0, !shape.plain, v.channels != shape.channels {
        let c = shape.channels  // a channel range: pixels stay `c` apart
        return try MemoryDescriptor(dims, activation, strides: [c * shape.height * shape.width, 1, shape.width * c, c])
      }
      return try MemoryDescriptor(dims, activation, v.buffer == 0 || shape.plain ? .nchw : layout.tag)
    }
    /// A whole channels-last buffer as the 2-D [pixels, channels] matrix LayerNorm normalises the rows of.
    func pixelRows(_ v: View) throws -> MemoryDescriptor {
      let shape = graph.buffers[v.buffer]
      guard layout == .channelsLast, v.channels == shape.channels else {
        throw DNNLError(operation: "lay out a layer norm", status: "needs a whole channels-last buffer")
      }
      return try MemoryDescriptor([batch * shape.height * shape.width, v.channels], activation, .ab)
    }
    /// A `[C]` tensor as the `[1, C, 1, 1]` operand of a per-channel binary operation.
    let perChannel = { (channels: Int) in try MemoryDescriptor([1, channels, 1, 1], .float32, .nchw) }
    if let inputCopy {
      // float32 NCHW from the caller → bfloat16 NCHW, once per execution.
      let whole = View(buffer: 0, channelOffset: 0, channels: graph.buffers[0].channels)
      let shape = graph.buffers[0]
      let from = try MemoryDescriptor([batch, whole.channels, shape.height, shape.width], .float32, .nchw)
      let to = try describe(whole)
      let convert = try DNNLPrimitive(reorderFrom: from, to: to, engine: engine, what: "input to bfloat16")
      steps.append(
        Step(
          primitive: convert,
          arguments: [
            (.from, .view(whole), from),
            (.to, .view(View(buffer: inputCopy, channelOffset: 0, channels: whole.channels)), to),
          ]))
    }
    func constant(_ values: [Float]) throws -> Int {
      let buffer = try AlignedBuffer(bytes: values.count * 4)
      values.withUnsafeBufferPointer { buffer.floats.update(from: $0.baseAddress!, count: values.count) }
      constants.append(buffer)
      return constants.count - 1
    }
    func tensor(_ name: String) throws -> [Float] {
      guard let t = weights.tensors[name], t.isFloatingPoint else {
        throw BackboneError.weightsMismatch(
          path: weights.source, arch: "this architecture", problems: ["missing \(name)"], looksLike: nil)
      }
      return t.values
    }

    for op in ops {
      switch op {
      case .conv(let c):
        let srcMD = try describe(c.src)
        let dstMD = try describe(c.dst)
        let (o, g, kh, kw) = (c.dst.channels, c.groups, c.kernel.height, c.kernel.width)
        let weightDims = g == 1 ? [o, c.src.channels, kh, kw] : [g, o / g, c.src.channels / g, kh, kw]
        let anyWeights = try MemoryDescriptor(weightDims, activation, .any)
        let biasMD = try MemoryDescriptor([o], .float32, .a)
        let attributes = try DNNLAttributes()
        var chain: [PostOp] = []
        var operands: [(ArgumentRole, ArgumentSource, MemoryDescriptor)] = []
        for step in c.post {
          switch step {
          case .sum: chain.append(.sum)
          case .relu: chain.append(.eltwise(.relu))
          case .relu6: chain.append(.eltwise(.clip(low: 0, high: 6)))
          case .silu: chain.append(.eltwise(.swish(alpha: 1)))
          case .sigmoid: chain.append(.eltwise(.logistic))
          case .gelu: chain.append(.eltwise(.geluErf))
          case .hardSigmoid: chain += [.eltwise(.linear(alpha: 1 / 6, beta: 0.5)), .eltwise(.clip(low: 0, high: 1))]
          case .scale(let name):
            let md = try perChannel(o)
            operands.append((.postOperand(chain.count), .constant(try constant(try tensor(name))), md))
            chain.append(.binary(.mul, md))
          }
        }
        try attributes.setPostOps(chain)
        let primitive = try DNNLPrimitive.convolution(
          source: srcMD, weights: anyWeights, bias: biasMD, destination: dstMD, stride: c.stride,
          padding: (c.padding.height, c.padding.width), paddingEnd: c.paddingEnd.map { ($0.height, $0.width) },
          attributes: attributes, engine: engine, what: "convolution \(c.weight)")
        let (kernel, bias) = try ConstantPreparation.convolution(c, outputs: o, epsilon: graph.normEpsilon, tensor)
        let userMD = try MemoryDescriptor(weightDims, .float32, g == 1 ? .oihw : .goihw)
        let chosenMD = primitive.weightsDescriptor
        let weightIndex = try Network.reorder(
          kernel, from: userMD, to: chosenMD, engine: engine, stream: stream, into: &constants)
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(resolved(c.src)), srcMD), (.weights, .constant(weightIndex), chosenMD),
              (.bias, .constant(try constant(bias)), biasMD), (.destination, .view(c.dst), dstMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ] + operands))

      case .norm(let n):
        let srcMD = try describe(n.src)
        let dstMD = try describe(n.dst)
        let primitive = try DNNLPrimitive.batchNormalization(
          source: srcMD, epsilon: graph.normEpsilon, relu: n.relu, engine: engine, what: "batch norm \(n.norm)")
        let vectorMD = try MemoryDescriptor([n.src.channels], .float32, .a)
        guard primitive.destinationDescriptor == dstMD else {
          throw DNNLError(operation: "lay out batch norm \(n.norm)", status: "unexpected destination layout")
        }
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(resolved(n.src)), srcMD), (.destination, .view(n.dst), dstMD),
              (.mean, .constant(try constant(try tensor(n.norm + ".running_mean"))), vectorMD),
              (.variance, .constant(try constant(try tensor(n.norm + ".running_var"))), vectorMD),
              (.scale, .constant(try constant(try tensor(n.norm + ".weight"))), vectorMD),
              (.shift, .constant(try constant(try tensor(n.norm + ".bias"))), vectorMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ]))

      case .pool(let p):
        let (srcMD, dstMD) = (try describe(p.src), try describe(p.dst))
        let algorithm: PoolingAlgorithm =
          switch p.kind {
          case .max: .max
          case .average: .averageExcludingPadding
          case .averageIncludingPadding: .averageIncludingPadding
          }
        let primitive = try DNNLPrimitive.pooling(
          algorithm, source: srcMD, destination: dstMD, kernel: p.kernel, stride: p.stride, padding: p.padding,
          paddingEnd: p.paddingEnd.map { ($0.height, $0.width) }, engine: engine, what: "\(p.kind) pooling")
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(resolved(p.src)), srcMD), (.destination, .view(p.dst), dstMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ]))

      case .affine(let a):
        // Reads the caller's float32 image itself (not its bfloat16 copy): the product and the sum are
        // rounded in float32 as torchvision's, and only the result takes the activations' type (in
        // bfloat16, through a float32 buffer and a conversion).
        let shape = graph.buffers[a.src.buffer]
        let srcMD = try MemoryDescriptor([batch, a.src.channels, shape.height, shape.width], .float32, .nchw)
        let dstMD = srcMD
        let result =
          Self.affineCopy(graph, precision).map { View(buffer: $0, channelOffset: 0, channels: a.dst.channels) } ?? a.dst
        let perChannel = try MemoryDescriptor([1, a.src.channels, 1, 1], .float32, .nchw)
        let attributes = try DNNLAttributes()
        try attributes.setPostOps([.binary(.add, perChannel)])
        let primitive = try DNNLPrimitive.binary(
          .mul, source: srcMD, source1: perChannel, destination: dstMD, attributes: attributes, engine: engine,
          what: "input transform")
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(a.src), srcMD), (.source1, .constant(try constant(a.scale)), perChannel),
              (.postOperand(0), .constant(try constant(a.shift)), perChannel), (.destination, .view(result), dstMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ]))
        if result != a.dst {
          let converted = try describe(a.dst)
          let convert = try DNNLPrimitive(reorderFrom: dstMD, to: converted, engine: engine, what: "input transform to bfloat16")
          steps.append(Step(primitive: convert, arguments: [(.from, .view(result), dstMD), (.to, .view(a.dst), converted)]))
        }

      case .layerNorm(let l):
        let (srcMD, dstMD) = (try pixelRows(l.src), try pixelRows(l.dst))
        let primitive = try DNNLPrimitive.layerNormalization(
          data: srcMD, epsilon: graph.layerNormEpsilon, engine: engine, what: "layer norm \(l.norm)")
        let vectorMD = try MemoryDescriptor([l.src.channels], .float32, .a)
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(resolved(l.src)), srcMD), (.destination, .view(l.dst), dstMD),
              (.scale, .constant(try constant(try tensor(l.norm + ".weight"))), vectorMD),
              (.shift, .constant(try constant(try tensor(l.norm + ".bias"))), vectorMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ]))

      case .copy(let c):
        let (srcMD, dstMD) = (try describe(c.src), try describe(c.dst))
        let primitive = try DNNLPrimitive(reorderFrom: srcMD, to: dstMD, engine: engine, what: "concatenation copy")
        steps.append(
          Step(primitive: primitive, arguments: [(.from, .view(resolved(c.src)), srcMD), (.to, .view(c.dst), dstMD)]))

      case .gate(let g):
        let (srcMD, gateMD, dstMD) = (try describe(g.src), try describe(g.gate), try describe(g.dst))
        let attributes = try DNNLAttributes()
        var operands: [(ArgumentRole, ArgumentSource, MemoryDescriptor)] = []
        if let scale = g.scale {
          let md = try perChannel(g.src.channels)
          try attributes.setPostOps([.binary(.mul, md)])
          operands.append((.postOperand(0), .constant(try constant(try tensor(scale))), md))
        }
        let primitive = try DNNLPrimitive.binary(
          .mul, source: srcMD, source1: gateMD, destination: dstMD, attributes: attributes, engine: engine,
          what: "squeeze-and-excitation gate")
        steps.append(
          Step(
            primitive: primitive,
            arguments: [
              (.source, .view(resolved(g.src)), srcMD), (.source1, .view(g.gate), gateMD), (.destination, .view(g.dst), dstMD),
              (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
            ] + operands))
      }
    }

    // The output: the tap, pooled over H and W if asked, reordered to plain channel-major order.
    let shape = graph.buffers[tap.view.buffer]
    let tapMD = try describe(tap.view)
    var finalView = tap.view
    var finalMD = tapMD
    var (oh, ow) = (shape.height, shape.width)
    if pooling != .flatten {
      let pooledBuffer = graph.buffers.count  // a workspace-only buffer after the graph's own
      finalView = View(buffer: pooledBuffer, channelOffset: 0, channels: tap.view.channels)
      // The pooled vector in float32 even from bfloat16 activations (the window sums in float32 anyway);
      // where oneDNN has no such pooling, in the activations' type.
      func globalPooling(into type: ElementType) throws -> (DNNLPrimitive, MemoryDescriptor) {
        let md = try MemoryDescriptor([batch, tap.view.channels, 1, 1], type, layout.tag)
        let primitive = try DNNLPrimitive.pooling(
          pooling == .max ? .max : .averageExcludingPadding, source: tapMD, destination: md, kernel: (oh, ow), stride: 1,
          padding: 0, engine: engine, what: "\(pooling.rawValue) pooling of \(tap.name)")
        return (primitive, md)
      }
      let primitive: DNNLPrimitive
      do { (primitive, finalMD) = try globalPooling(into: .float32) } catch  where activation != .float32 {
        (primitive, finalMD) = try globalPooling(into: activation)
      }
      steps.append(
        Step(
          primitive: primitive,
          arguments: [
            (.source, .view(tap.view), tapMD), (.destination, .view(finalView), finalMD),
            (.scratchpad, .scratchpad, primitive.scratchpadDescriptor),
          ]))
      (oh, ow) = (1, 1)
    }
    let plainMD = try MemoryDescriptor([batch, tap.view.channels, oh, ow], .float32, .nchw)
    let toPlain = try DNNLPrimitive(reorderFrom: finalMD, to: plainMD, engine: engine, what: "output of \(tap.name)")
    steps.append(
      Step(primitive: toPlain, arguments: [(.from, .view(finalView), finalMD), (.to, .output, plainMD)]))

    outputCount = tap.view.channels * oh * ow
    outputShape =
      pooling == .flatten && !(oh == 1 && ow == 1 && tap.isVector)
      ? [tap.view.channels, oh, ow] : [tap.view.channels]
    self.steps = steps
    self.constants = constants
    scratchpadBytes = steps.map { $0.primitive.scratchpadBytes }.max() ?? 0
  }

  /// Bytes of every buffer a workspace needs (the graph's, plus the pooled output).
  var bufferBytes: [Int] {
    let input = graph.buffers[0]
    return graph.buffers.map {
      batch * (($0.plain ? $0.channels : layout.paddedChannels($0.channels)) * $0.height * $0.width * elementBytes + 64)
    }
      + [batch * (outputCount * 4 + 64)]
      + (inputCopy == nil ? [] : [batch * (input.channels * input.height * input.width * 2 + 64)])
      + (affineCopy == nil ? [] : [batch * (input.channels * input.height * input.width * 4 + 64)])
  }

  /// True if every operation up to `opCount` reads and writes whole buffers.
  static func usesWholeBuffers(_ graph: Graph, opCount: Int) -> Bool {
    func whole(_ v: View) -> Bool { v.channelOffset == 0 && v.channels == graph.buffers[v.buffer].channels }
    return graph.ops.prefix(opCount).allSatisfy { $0.views.allSatisfy(whole) }
  }
}

/// Per-worker state: activation buffers, memory objects bound to them, and a stream.
final class Workspace: @unchecked Sendable {
  // Sendable: a workspace is used by exactly one worker at a time (Backbone hands out one per worker).
  let network: CompiledNetwork
  private let stream: DNNLStream
  private let buffers: [AlignedBuffer?]
  private let scratchpad: AlignedBuffer
  private var arguments: [ExecutionArguments] = []
  /// Memory objects bound to the caller's input / output, rebound per image.
  private var inputMemories: [DNNLMemory] = []
  private var outputMemories: [DNNLMemory] = []

  init(_ network: CompiledNetwork) throws {
    self.network = network
    stream = try DNNLStream(network.engine)
    buffers = try network.bufferBytes.enumerated().map { $0.offset == 0 ? nil : try AlignedBuffer(bytes: $0.element) }
    scratchpad = try AlignedBuffer(bytes: network.scratchpadBytes)
    for step in network.steps {
      var stepArguments: [(ArgumentRole, DNNLMemory)] = []
      for (role, source, md) in step.arguments {
        let memory: DNNLMemory
        switch source {
        case .view(let v) where v.buffer == 0:
          memory = try DNNLMemory(md, network.engine, nil, "the input image")
          inputMemories.append(memory)
        case .view(let v):
          let shape = network.graph.buffers.indices.contains(v.buffer) ? network.graph.buffers[v.buffer] : nil
          let planeFloats = (shape?.height ?? 1) * (shape?.width ?? 1) * network.batch
          guard let buffer = buffers[v.buffer] else { preconditionFailure("Workspace: buffer \(v.buffer) was not allocated") }
          // A channel range starts `channelOffset` planes in (NCHW and blocked) or values in (channels-last).
          let stride = network.layout == .channelsLast && !(shape?.plain ?? false) ? 1 : planeFloats
          let pointer = buffer.pointer + v.channelOffset * stride * network.elementBytes
          memory = try DNNLMemory(md, network.engine, pointer, "an activation")
        case .constant(let index):
          memory = try DNNLMemory(md, network.engine, network.constants[index].pointer, "a weight")
        case .scratchpad:
          memory = try DNNLMemory(md, network.engine, scratchpad.pointer, "the scratchpad")
        case .output:
          memory = try DNNLMemory(md, network.engine, nil, "the output")
          outputMemories.append(memory)
        }
        stepArguments.append((role, memory))
      }
      arguments.append(ExecutionArguments(stepArguments))
    }
  }

  /// Runs work unit `unit` of a call with `count` images: images `unit*N ..< min(count, (unit+1)*N)`
  /// of `input` (image after image, NCHW) into the same rows of `output`. A partial unit is padded
  /// with zero images in the workspace's own buffers.
  func run(unit: Int, of count: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
    let n = network.batch
    let first = unit * n
    let images = min(n, count - first)
    let inputStride = 3 * network.graph.buffers[0].height * network.graph.buffers[0].width
    let outputStride = network.outputCount
    if images == n {
      try run(input: input + first * inputStride, output: output + first * outputStride)
      return
    }
    let (paddedInput, paddedOutput) =
      try padding ?? (AlignedBuffer(bytes: n * inputStride * 4), AlignedBuffer(bytes: n * outputStride * 4))
    padding = (paddedInput, paddedOutput)
    paddedInput.floats.update(from: input + first * inputStride, count: images * inputStride)
    (paddedInput.floats + images * inputStride).update(repeating: 0, count: (n - images) * inputStride)
    try run(input: paddedInput.floats, output: paddedOutput.floats)
    (output + first * outputStride).update(from: paddedOutput.floats, count: images * outputStride)
  }

  /// Padded input and output for a partial last unit, made on first use.
  private var padding: (AlignedBuffer, AlignedBuffer)?

  /// Runs `network.batch` images: `input` is [N, 3, H, W] float32 NCHW, `output` receives
  /// `N * network.outputCount` values.
  func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
    for m in inputMemories { try m.bind(UnsafeMutableRawPointer(mutating: input)) }
    for m in outputMemories { try m.bind(output) }
    for (step, args) in zip(network.steps, arguments) {
      try step.primitive.execute(stream, args)
    }
    try stream.wait()
  }
}

/// Shared helpers of network compilation.
enum Network {
  /// Per-channel scale and shift of an inference BatchNorm, in double precision.
  static func normScaleShift(
    _ name: String, epsilon: Float, _ tensor: (String) throws -> [Float]
  ) throws -> (scale: [Double], shift: [Double]) {
    let gamma = try tensor(name + ".weight")
    let beta = try tensor(name + ".bias")
    let mean = try tensor(name + ".running_mean")
    let variance = try tensor(name + ".running_var")
    var scale = [Double](repeating: 0, count: gamma.count)
    var shift = scale
    for c in gamma.indices {
      scale[c] = Double(gamma[c]) / (Double(variance[c]) + Double(epsilon)).squareRoot()
      shift[c] = Double(beta[c]) - Double(mean[c]) * scale[c]
    }
    return (scale, shift)
  }

  /// Copies `values` (laid out as `from`) into a new constant laid out as `to`.
  static func reorder(
    _ values: [Float], from: MemoryDescriptor, to: MemoryDescriptor, engine: DNNLEngine, stream: DNNLStream,
    into constants: inout [AlignedBuffer]
  ) throws -> Int {
    let target = try AlignedBuffer(bytes: to.bytes)
    var source = values
    try source.withUnsafeMutableBytes { raw in
      let src = try DNNLMemory(from, engine, raw.baseAddress, "user weights")
      let dst = try DNNLMemory(to, engine, target.pointer, "reordered weights")
      let primitive = try DNNLPrimitive(reorderFrom: from, to: to, engine: engine, what: "weight reorder")
      try primitive.execute(stream, ExecutionArguments([(.from, src), (.to, dst)]))
      try stream.wait()
    }
    constants.append(target)
    return constants.count - 1
  }
}

/// The one step that turns state_dict tensors into the constants a compiled network uses, once, at compile
/// time: a convolution's weight and bias with the BatchNorm that follows it folded in (in double precision,
/// rounded once). Per-channel layer scales and input transforms stay post-ops and their own steps, where
/// folding would change the reference's rounding (RDNet's `gamma` multiplies after GELU).
enum ConstantPreparation {
  /// `conv`'s kernel and bias as the primitive receives them: `w' = w * s`, `b' = b * s + (beta - mean * s)`
  /// with `s = gamma / sqrt(var + eps)` when a BatchNorm follows (BN(conv + b) = conv * s + b * s + shift),
  /// else the tensors as they are (a zero bias where the convolution has none).
  static func convolution(
    _ conv: ConvOp, outputs o: Int, epsilon: Float, _ tensor: (String) throws -> [Float]
  ) throws -> (kernel: [Float], bias: [Float]) {
    var kernel = try tensor(conv.weight)
    var bias = try conv.bias.map(tensor) ?? [Float](repeating: 0, count: o)
    guard let norm = conv.foldedNorm else { return (kernel, bias) }
    let (scale, shift) = try Network.normScaleShift(norm, epsilon: epsilon, tensor)
    let perOutput = kernel.count / o
    for oc in 0..<o {
      for i in 0..<perOutput { kernel[oc * perOutput + i] = Float(Double(kernel[oc * perOutput + i]) * scale[oc]) }
      bias[oc] = Float(Double(bias[oc]) * scale[oc] + shift[oc])
    }
    return (kernel, bias)
  }
}
