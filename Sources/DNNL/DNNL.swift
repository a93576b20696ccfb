// Thin, checked layer over oneDNN's C API (2.6): one owning class per handle kind, one status check
// that takes a sentence, and typed builders for the few primitives featx uses (convolution, inference
// batch norm, pooling, matmul, reorder). This is the only module that imports CDNNL: the graph compiler
// (Backbones/Network.swift) and the probe's Gram matrix see Swift types only.

import CDNNL

/// A oneDNN call failed. The description says what featx was doing.
public struct DNNLError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What featx was doing, e.g. "create the primitive for convolution features.conv0.weight".
  public var operation: String
  /// oneDNN's status name, e.g. "unimplemented".
  public var status: String

  public init(operation: String, status: String) {
    self.operation = operation
    self.status = status
  }

  public var description: String {
    "oneDNN failed to \(operation): \(status). This is a featx bug; please report it with the command you ran."
  }
}

/// Checks a oneDNN status and throws `DNNLError` with what featx was doing.
@inline(__always)
func dnnl(_ status: dnnl_status_t, _ operation: @autoclosure () -> String) throws {
  if status != dnnl_success {
    throw DNNLError(operation: operation(), status: String(cString: dnnl_status2str(status)))
  }
}

/// The non-nil handle a successful oneDNN create call wrote, or a thrown error.
@inline(__always)
private func created<T>(_ handle: T?, _ operation: String) throws -> T {
  guard let handle else { throw DNNLError(operation: operation, status: "no handle returned") }
  return handle
}

// MARK: - Handles

/// The CPU engine. oneDNN engines are immutable and thread-safe once created.
package final class DNNLEngine: @unchecked Sendable {
  // Sendable: the handle is created once and only read afterwards; oneDNN engines are thread-safe.
  let handle: dnnl_engine_t

  private static let cpu: DNNLEngine? = try? DNNLEngine()

  private init() throws {
    var engine: dnnl_engine_t?
    try dnnl(dnnl_engine_create(&engine, dnnl_cpu, 0), "create the oneDNN CPU engine")
    handle = try created(engine, "create the oneDNN CPU engine")
  }

  /// The shared CPU engine, or a thrown error if oneDNN could not create one.
  package static func shared() throws -> DNNLEngine {
    guard let cpu else { return try DNNLEngine() }
    return cpu
  }

  deinit { dnnl_engine_destroy(handle) }
}

/// An execution stream. Not thread-safe: one per worker thread.
package final class DNNLStream {
  let handle: dnnl_stream_t

  package init(_ engine: DNNLEngine) throws {
    var stream: dnnl_stream_t?
    try dnnl(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "create a oneDNN stream")
    handle = try created(stream, "create a oneDNN stream")
  }

  deinit { dnnl_stream_destroy(handle) }

  /// Waits until every primitive submitted to the stream has finished.
  package func wait() throws { try dnnl(dnnl_stream_wait(handle), "wait for a oneDNN stream") }
}

/// A memory object: a descriptor bound to a buffer featx owns (never allocated by oneDNN).
package final class DNNLMemory {
  let handle: dnnl_memory_t

  /// - Parameter pointer: the buffer, or nil to bind one later with `bind(_:)`.
  package init(_ desc: MemoryDescriptor, _ engine: DNNLEngine, _ pointer: UnsafeMutableRawPointer?, _ what: String) throws {
    var md = desc.raw
    var memory: dnnl_memory_t?
    try dnnl(dnnl_memory_create(&memory, &md, engine.handle, pointer), "create memory for \(what)")
    handle = try created(memory, "create memory for \(what)")
  }

  deinit { dnnl_memory_destroy(handle) }

  /// Points the memory object at another buffer (e.g. the next image of a batch).
  package func bind(_ pointer: UnsafeMutableRawPointer) throws {
    try dnnl(dnnl_memory_set_data_handle(handle, pointer), "rebind a oneDNN memory object")
  }
}

/// Primitive attributes: post-ops and the scratchpad mode.
package final class DNNLAttributes {
  let handle: dnnl_primitive_attr_t

  /// With `userScratchpad`, featx passes each primitive's scratch memory (the networks share one buffer);
  /// otherwise oneDNN allocates it.
  package init(userScratchpad: Bool = true) throws {
    var attr: dnnl_primitive_attr_t?
    try dnnl(dnnl_primitive_attr_create(&attr), "create primitive attributes")
    handle = try created(attr, "create primitive attributes")
    if userScratchpad {
      try dnnl(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "set scratchpad mode")
    }
  }

  deinit { dnnl_primitive_attr_destroy(handle) }

  /// Sets the post-op chain: an optional residual sum (`dst += result`) then an optional ReLU.
  package func setPostOps(sum: Bool, relu: Bool) throws {
    try setPostOps((sum ? [PostOp.sum] : []) + (relu ? [.eltwise(.relu)] : []))
  }

  /// Sets the post-op chain, applied in order to each result before it is written.
  package func setPostOps(_ chain: [PostOp]) throws {
    guard !chain.isEmpty else { return }
    var ops: dnnl_post_ops_t?
    try dnnl(dnnl_post_ops_create(&ops), "create post-ops")
    defer { dnnl_post_ops_destroy(ops) }
    for op in chain {
      switch op {
      case .sum: try dnnl(dnnl_post_ops_append_sum(ops, 1.0), "append a sum post-op")
      case .eltwise(let e):
        try dnnl(dnnl_post_ops_append_eltwise(ops, 1.0, e.raw, e.alpha, e.beta), "append a \(e) post-op")
      case .binary(let algorithm, let operand):
        var md = operand.raw
        try dnnl(dnnl_post_ops_append_binary(ops, algorithm.raw, &md), "append a binary \(algorithm) post-op")
      }
    }
    try dnnl(dnnl_primitive_attr_set_post_ops(handle, ops), "set post-ops")
  }
}

/// An element-wise function (oneDNN's `dnnl_eltwise_*`) with its parameters.
package enum Eltwise: Sendable, Equatable {
  case relu
  /// GELU with the exact erf (PyTorch's `nn.GELU()` default).
  case geluErf
  /// GELU with the tanh approximation (PyTorch's `GELU(approximate='tanh')`).
  case geluTanh
  /// `alpha * x + beta`.
  case linear(alpha: Float, beta: Float)
  /// `min(max(x, low), high)`.
  case clip(low: Float, high: Float)
  /// `x * sigmoid(alpha * x)`: SiLU with alpha 1 (PyTorch's `nn.SiLU`), QuickGELU with 1.702.
  case swish(alpha: Float)
  /// `1 / (1 + exp(-x))`.
  case logistic

  var raw: dnnl_alg_kind_t {
    switch self {
    case .relu: dnnl_eltwise_relu
    case .geluErf: dnnl_eltwise_gelu_erf
    case .geluTanh: dnnl_eltwise_gelu_tanh
    case .linear: dnnl_eltwise_linear
    case .clip: dnnl_eltwise_clip_v2
    case .swish: dnnl_eltwise_swish
    case .logistic: dnnl_eltwise_logistic
    }
  }
  var alpha: Float {
    switch self {
    case .relu, .geluErf, .geluTanh, .logistic: 0
    case .linear(let a, _): a
    case .clip(let low, _): low
    case .swish(let a): a
    }
  }
  var beta: Float {
    switch self {
    case .relu, .geluErf, .geluTanh, .logistic, .swish: 0
    case .linear(_, let b): b
    case .clip(_, let high): high
    }
  }
}

/// Binary operations (oneDNN's `dnnl_binary_*`), with numpy-style broadcasting of the second operand.
package enum BinaryAlgorithm: Sendable {
  case add, mul

  var raw: dnnl_alg_kind_t { self == .add ? dnnl_binary_add : dnnl_binary_mul }
}

/// One step of a post-op chain.
package enum PostOp {
  /// `dst = result + dst` (the destination's previous contents).
  case sum
  case eltwise(Eltwise)
  /// `result op operand`; the operand is passed at execution as `.postOperand(index in the chain)`.
  case binary(BinaryAlgorithm, MemoryDescriptor)
}

// MARK: - Memory descriptors

/// Element types featx computes in.
package enum ElementType: Sendable {
  case float32
  case bfloat16

  var raw: dnnl_data_type_t {
    switch self {
    case .float32: dnnl_f32
    case .bfloat16: dnnl_bf16
    }
  }

  /// Bytes per value.
  package var bytes: Int { self == .bfloat16 ? 2 : 4 }
}

/// The memory layouts featx names (oneDNN format tags).
package enum Layout: Sendable, Equatable {
  /// 1-D.
  case a
  /// 2-D row-major, and 2-D column-major.
  case ab, ba
  /// Three-dimensional: plain `abc`, four-dimensional `abcd`.
  case abc, abcd
  /// Activations: plain, and blocked by 8 or 16 channels.
  case nchw, nChw8c, nChw16c, nhwc
  /// Convolution weights, plain (grouped: `goihw`).
  case oihw, goihw
  /// Whatever the primitive prefers (only for descriptors passed to a primitive builder).
  case any

  var raw: dnnl_format_tag_t {
    switch self {
    case .a: dnnl_a
    case .ab: dnnl_ab
    case .ba: dnnl_ba
    case .abc: dnnl_abc
    case .abcd: dnnl_abcd
    case .nchw: dnnl_nchw
    case .nChw8c: dnnl_nChw8c
    case .nChw16c: dnnl_nChw16c
    case .nhwc: dnnl_nhwc
    case .oihw: dnnl_oihw
    case .goihw: dnnl_goihw
    case .any: dnnl_format_tag_any
    }
  }
}

/// A tensor's shape, element type and layout, as oneDNN describes it.
package struct MemoryDescriptor: @unchecked Sendable, Equatable {
  // Sendable: a plain C value (no pointers to shared state).
  var raw: dnnl_memory_desc_t

  init(raw: dnnl_memory_desc_t) { self.raw = raw }

  /// A descriptor of `dims` with a fixed layout.
  package init(_ dims: [Int], _ type: ElementType = .float32, _ layout: Layout) throws {
    var md = dnnl_memory_desc_t()
    let d = dims.map { dnnl_dim_t($0) }
    try dnnl(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), d, type.raw, layout.raw), "describe a \(dims) tensor")
    raw = md
  }

  /// A tensor whose consecutive indices along dimension `i` are `strides[i]` elements apart (e.g. a channel
  /// range of a channels-last buffer).
  package init(_ dims: [Int], _ type: ElementType, strides: [Int]) throws {
    var md = dnnl_memory_desc_t()
    let d = dims.map { dnnl_dim_t($0) }
    let st = strides.map { dnnl_dim_t($0) }
    try dnnl(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), d, type.raw, st), "describe a strided \(dims) tensor")
    raw = md
  }

  /// Bytes a buffer of this descriptor needs.
  package var bytes: Int {
    var m = raw
    return dnnl_memory_desc_get_size(&m)
  }

  /// True if the two descriptors describe the same layout.
  package static func == (a: MemoryDescriptor, b: MemoryDescriptor) -> Bool {
    var (x, y) = (a.raw, b.raw)
    return dnnl_memory_desc_equal(&x, &y) != 0
  }
}

// MARK: - Primitives

/// The role of a memory argument of a primitive execution (oneDNN's `DNNL_ARG_*`).
package enum ArgumentRole: Sendable, Equatable {
  case source, weights, bias, destination, mean, variance, scale, shift, scratchpad, from, to
  /// A binary primitive's second operand.
  case source1
  /// The operand of the binary post-op at this index of the chain.
  case postOperand(Int)
  /// A concatenation's input at this index.
  case multipleSource(Int)

  var raw: Int32 {
    switch self {
    case .multipleSource(let index): DNNL_ARG_MULTIPLE_SRC + Int32(index)
    case .source1: DNNL_ARG_SRC_1
    case .postOperand(let index): DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE * Int32(index + 1) | DNNL_ARG_SRC_1
    case .source: DNNL_ARG_SRC
    case .weights: DNNL_ARG_WEIGHTS
    case .bias: DNNL_ARG_BIAS
    case .destination: DNNL_ARG_DST
    case .mean: DNNL_ARG_MEAN
    case .variance: DNNL_ARG_VARIANCE
    case .scale: DNNL_ARG_SCALE
    case .shift: DNNL_ARG_SHIFT
    case .scratchpad: DNNL_ARG_SCRATCHPAD
    case .from: DNNL_ARG_FROM
    case .to: DNNL_ARG_TO
    }
  }
}

/// The memory objects of one primitive execution, kept alive as long as the arguments are.
package struct ExecutionArguments {
  fileprivate let memories: [DNNLMemory]
  fileprivate let raw: [dnnl_exec_arg_t]

  package init(_ arguments: [(ArgumentRole, DNNLMemory)]) {
    memories = arguments.map(\.1)
    raw = arguments.map { dnnl_exec_arg_t(arg: $0.0.raw, memory: $0.1.handle) }
  }
}

/// Pooling algorithms.
package enum PoolingAlgorithm: Sendable {
  case max
  /// Average over the window's pixels inside the image (torch's `count_include_pad=False`).
  case averageExcludingPadding
  /// Average with the padding counted as zeros (torch's default `count_include_pad=True`).
  case averageIncludingPadding

  var raw: dnnl_alg_kind_t {
    switch self {
    case .max: dnnl_pooling_max
    case .averageExcludingPadding: dnnl_pooling_avg_exclude_padding
    case .averageIncludingPadding: dnnl_pooling_avg_include_padding
    }
  }
}

/// A primitive with the descriptor it was created from (for querying memory descriptors).
package final class DNNLPrimitive {
  private let handle: dnnl_primitive_t
  private let desc: dnnl_primitive_desc_t
  private let what: String

  /// Creates the primitive from an operation descriptor (`dnnl_*_desc_t`).
  private convenience init(op: UnsafeRawPointer, attributes: DNNLAttributes?, engine: DNNLEngine, what: String) throws {
    var pd: dnnl_primitive_desc_t?
    try dnnl(
      dnnl_primitive_desc_create(&pd, op.assumingMemoryBound(to: dnnl_op_desc_t.self), attributes?.handle, engine.handle, nil),
      "create a primitive descriptor for \(what)")
    try self.init(descriptor: try created(pd, "create a primitive descriptor for \(what)"), what: what)
  }

  /// A reorder from one layout to another.
  package convenience init(
    reorderFrom source: MemoryDescriptor, to target: MemoryDescriptor, engine: DNNLEngine, what: String
  ) throws {
    var (s, t) = (source.raw, target.raw)
    var pd: dnnl_primitive_desc_t?
    try dnnl(dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &t, engine.handle, nil), "create a reorder for \(what)")
    try self.init(descriptor: try created(pd, "create a reorder for \(what)"), what: what)
  }

  /// Creates the primitive of a primitive descriptor, taking ownership of the descriptor (also on failure).
  private init(descriptor: dnnl_primitive_desc_t, what: String) throws {
    self.what = what
    var primitive: dnnl_primitive_t?
    let status = dnnl_primitive_create(&primitive, descriptor)
    guard status == dnnl_success, let primitive else {
      dnnl_primitive_desc_destroy(descriptor)
      try dnnl(status, "create the primitive for \(what)")
      throw DNNLError(operation: "create the primitive for \(what)", status: "no handle returned")
    }
    desc = descriptor
    handle = primitive
  }

  /// An inference convolution with bias; the weights descriptor may be `.any` (query `weightsDescriptor`).
  /// `padding` is (height, width) on the top and left, `paddingEnd` on the bottom and right (default: `padding`).
  package static func convolution(
    source: MemoryDescriptor, weights: MemoryDescriptor, bias: MemoryDescriptor, destination: MemoryDescriptor, stride: Int,
    padding: (Int, Int), paddingEnd: (Int, Int)? = nil, attributes: DNNLAttributes, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_convolution_desc_t()
    var (s, w, b, d) = (source.raw, weights.raw, bias.raw, destination.raw)
    let strides = [dnnl_dim_t(stride), dnnl_dim_t(stride)]
    let pad = [dnnl_dim_t(padding.0), dnnl_dim_t(padding.1)]
    // oneDNN takes the bottom/right padding separately (TensorFlow's "same" pads one more there).
    let end = paddingEnd.map { [dnnl_dim_t($0.0), dnnl_dim_t($0.1)] } ?? pad
    try dnnl(
      dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_auto, &s, &w, &b, &d, strides, pad, end),
      "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: attributes, engine: engine, what: what)
    }
  }

  /// An inference batch norm with global statistics, scale and shift, optionally fused with a ReLU.
  package static func batchNormalization(
    source: MemoryDescriptor, epsilon: Float, relu: Bool, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_batch_normalization_desc_t()
    var s = source.raw
    var flags = dnnl_use_global_stats.rawValue | dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
    if relu { flags |= dnnl_fuse_norm_relu.rawValue }
    try dnnl(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &s, epsilon, flags), "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: try DNNLAttributes(), engine: engine, what: what)
    }
  }

  /// An inference pooling with a square stride; `padding` on the top and left, `paddingEnd` (default: the
  /// same) on the bottom and right, which is how PyTorch's `ceil_mode` windows are expressed.
  package static func pooling(
    _ algorithm: PoolingAlgorithm, source: MemoryDescriptor, destination: MemoryDescriptor, kernel: (Int, Int), stride: Int,
    padding: Int, paddingEnd: (Int, Int)? = nil, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_pooling_v2_desc_t()
    var (s, d) = (source.raw, destination.raw)
    let strides = [dnnl_dim_t(stride), dnnl_dim_t(stride)]
    let window = [dnnl_dim_t(kernel.0), dnnl_dim_t(kernel.1)]
    let pad = [dnnl_dim_t(padding), dnnl_dim_t(padding)]
    let end = paddingEnd.map { [dnnl_dim_t($0.0), dnnl_dim_t($0.1)] } ?? pad
    let dilation: [dnnl_dim_t] = [0, 0]
    try dnnl(
      dnnl_pooling_v2_forward_desc_init(
        &desc, dnnl_forward_inference, algorithm.raw, &s, &d, strides, window, dilation, pad, end),
      "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: try DNNLAttributes(), engine: engine, what: what)
    }
  }

  /// `destination = source op source1` (source1 broadcast where its dimensions are 1), then `attributes`' post-ops.
  package static func binary(
    _ algorithm: BinaryAlgorithm, source: MemoryDescriptor, source1: MemoryDescriptor, destination: MemoryDescriptor,
    attributes: DNNLAttributes, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_binary_desc_t()
    var (s, s1, d) = (source.raw, source1.raw, destination.raw)
    try dnnl(dnnl_binary_desc_init(&desc, algorithm.raw, &s, &s1, &d), "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: attributes, engine: engine, what: what)
    }
  }

  /// An inference layer normalization over the last dimension of `data` (source and destination alike),
  /// with scale and shift.
  package static func layerNormalization(
    data: MemoryDescriptor, epsilon: Float, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_layer_normalization_desc_t()
    var d = data.raw
    let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
    try dnnl(
      dnnl_layer_normalization_forward_desc_init(&desc, dnnl_forward_inference, &d, nil, epsilon, flags), "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: try DNNLAttributes(), engine: engine, what: what)
    }
  }

  /// A matrix product `destination (+)= source × weights (+ bias)`, batched over leading dimensions
  /// (broadcast where a dimension is 1), then `attributes`' post-ops.
  package static func matmul(
    source: MemoryDescriptor, weights: MemoryDescriptor, bias: MemoryDescriptor? = nil, destination: MemoryDescriptor,
    attributes: DNNLAttributes, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_matmul_desc_t()
    var (s, w, d) = (source.raw, weights.raw, destination.raw)
    if var b = bias?.raw {
      try dnnl(dnnl_matmul_desc_init(&desc, &s, &w, &b, &d), "describe \(what)")
    } else {
      try dnnl(dnnl_matmul_desc_init(&desc, &s, &w, nil, &d), "describe \(what)")
    }
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: attributes, engine: engine, what: what)
    }
  }

  /// An inference softmax over dimension `axis` of `data` (source and destination alike; may run in place).
  package static func softmax(data: MemoryDescriptor, axis: Int, engine: DNNLEngine, what: String) throws -> DNNLPrimitive {
    try softmax(source: data, destination: data, axis: axis, engine: engine, what: what)
  }

  /// An inference softmax over dimension `axis` of `source` into `destination`, which may have another element
  /// type (softmax v2: float32 scores in, bfloat16 probabilities out).
  package static func softmax(
    source: MemoryDescriptor, destination: MemoryDescriptor, axis: Int, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var desc = dnnl_softmax_v2_desc_t()
    var (s, d) = (source.raw, destination.raw)
    try dnnl(
      dnnl_softmax_v2_forward_desc_init(&desc, dnnl_forward_inference, dnnl_softmax_accurate, &s, &d, Int32(axis)),
      "describe \(what)")
    return try withUnsafePointer(to: &desc) {
      try DNNLPrimitive(op: UnsafeRawPointer($0), attributes: try DNNLAttributes(), engine: engine, what: what)
    }
  }

  /// The concatenation of `sources` along dimension `axis` into `destination`.
  package static func concat(
    _ sources: [MemoryDescriptor], axis: Int, destination: MemoryDescriptor, engine: DNNLEngine, what: String
  ) throws -> DNNLPrimitive {
    var d = destination.raw
    var raws = sources.map(\.raw)
    var pd: dnnl_primitive_desc_t?
    let attributes = try DNNLAttributes()
    try dnnl(
      dnnl_concat_primitive_desc_create(&pd, &d, Int32(raws.count), Int32(axis), &raws, attributes.handle, engine.handle),
      "create a concatenation for \(what)")
    return try DNNLPrimitive(descriptor: try created(pd, "create a concatenation for \(what)"), what: what)
  }

  /// The name of the implementation oneDNN chose (`jit:avx2`, `gemm:jit`, `ref:any`, …).
  package var implementation: String {
    var info: UnsafePointer<CChar>?
    guard dnnl_primitive_desc_query(desc, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info else { return "" }
    return String(cString: info)
  }

  /// What the primitive computes (as given when it was made).
  package var purpose: String { what }

  deinit {
    dnnl_primitive_destroy(handle)
    dnnl_primitive_desc_destroy(desc)
  }

  /// The descriptor oneDNN reports for `what`, or an empty (zero-byte) one when it reports none: oneDNN
  /// returns a null pointer for a query the primitive does not answer.
  private func query(_ what: dnnl_query_t) -> MemoryDescriptor {
    guard let md = dnnl_primitive_desc_query_md(desc, what, 0) else { return MemoryDescriptor(raw: dnnl_memory_desc_t()) }
    return MemoryDescriptor(raw: md.pointee)
  }

  /// The weights layout the primitive chose.
  package var weightsDescriptor: MemoryDescriptor { query(dnnl_query_weights_md) }
  /// The destination layout the primitive chose.
  package var destinationDescriptor: MemoryDescriptor { query(dnnl_query_dst_md) }
  /// The scratchpad the primitive needs (zero bytes if none).
  package var scratchpadDescriptor: MemoryDescriptor { query(dnnl_query_scratchpad_md) }
  /// Scratchpad bytes this primitive needs.
  package var scratchpadBytes: Int { scratchpadDescriptor.bytes }

  /// Executes with `arguments` on `stream`.
  @inline(__always)
  package func execute(_ stream: DNNLStream, _ arguments: ExecutionArguments) throws {
    try withExtendedLifetime(arguments.memories) {
      try arguments.raw.withUnsafeBufferPointer {
        try dnnl(dnnl_primitive_execute(handle, stream.handle, Int32($0.count), $0.baseAddress), "run \(what)")
      }
    }
  }
}
