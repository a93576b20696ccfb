// Thin, checked layer over oneDNN's C API (2.6): one owning class per handle kind, one status check
// that takes a sentence. Nothing here knows about networks; Network.swift builds on it.

import CDNNL

/// Checks a oneDNN status and throws `BackboneError.dnnl` with what featx was doing.
@inline(__always)
package func dnnl(_ status: dnnl_status_t, _ operation: @autoclosure () -> String) throws {
  if status != dnnl_success {
    throw BackboneError.dnnl(operation: operation(), status: String(cString: dnnl_status2str(status)))
  }
}

/// The CPU engine. oneDNN engines are immutable and thread-safe once created.
package final class DNNLEngine: @unchecked Sendable {
  // Sendable: the handle is created once and only read afterwards; oneDNN engines are thread-safe.
  package let handle: dnnl_engine_t

  static let cpu: DNNLEngine? = try? DNNLEngine()

  private init() throws {
    var engine: dnnl_engine_t?
    try dnnl(dnnl_engine_create(&engine, dnnl_cpu, 0), "create the oneDNN CPU engine")
    guard let engine else { throw BackboneError.dnnl(operation: "create the oneDNN CPU engine", status: "no engine") }
    handle = engine
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
  package let handle: dnnl_stream_t
  package init(_ engine: DNNLEngine) throws {
    var stream: dnnl_stream_t?
    try dnnl(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "create a oneDNN stream")
    handle = stream!
  }
  deinit { dnnl_stream_destroy(handle) }

  package func wait() throws { try dnnl(dnnl_stream_wait(handle), "wait for a oneDNN stream") }
}

/// A memory object: a descriptor bound to a buffer featx owns (never allocated by oneDNN).
package final class DNNLMemory {
  package let handle: dnnl_memory_t
  package init(_ desc: dnnl_memory_desc_t, _ engine: DNNLEngine, _ pointer: UnsafeMutableRawPointer?, _ what: String) throws {
    var md = desc
    var memory: dnnl_memory_t?
    try dnnl(dnnl_memory_create(&memory, &md, engine.handle, pointer), "create memory for \(what)")
    handle = memory!
  }
  deinit { dnnl_memory_destroy(handle) }

  /// Points the memory object at another buffer (e.g. the next image of a batch).
  package func bind(_ pointer: UnsafeMutableRawPointer) throws {
    try dnnl(dnnl_memory_set_data_handle(handle, pointer), "rebind a oneDNN memory object")
  }
}

/// Primitive attributes: post-ops and user-managed scratchpad.
package final class DNNLAttributes {
  package let handle: dnnl_primitive_attr_t
  /// With `userScratchpad`, featx passes each primitive's scratch memory (the networks share one buffer);
  /// otherwise oneDNN allocates it.
  package init(userScratchpad: Bool = true) throws {
    var attr: dnnl_primitive_attr_t?
    try dnnl(dnnl_primitive_attr_create(&attr), "create primitive attributes")
    handle = attr!
    if userScratchpad {
      try dnnl(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "set scratchpad mode")
    }
  }
  deinit { dnnl_primitive_attr_destroy(handle) }

  /// Sets the post-op chain: an optional residual sum (`dst += result`) then an optional ReLU.
  package func setPostOps(sum: Bool, relu: Bool) throws {
    guard sum || relu else { return }
    var ops: dnnl_post_ops_t?
    try dnnl(dnnl_post_ops_create(&ops), "create post-ops")
    defer { dnnl_post_ops_destroy(ops) }
    if sum { try dnnl(dnnl_post_ops_append_sum(ops, 1.0), "append a sum post-op") }
    if relu { try dnnl(dnnl_post_ops_append_eltwise(ops, 1.0, dnnl_eltwise_relu, 0, 0), "append a ReLU post-op") }
    try dnnl(dnnl_primitive_attr_set_post_ops(handle, ops), "set post-ops")
  }
}

/// A primitive with the descriptor it was created from (for querying memory descriptors).
package final class DNNLPrimitive {
  package let handle: dnnl_primitive_t
  let desc: dnnl_primitive_desc_t
  let what: String

  /// Creates the primitive from an operation descriptor (`dnnl_*_desc_t`).
  package init(op: UnsafeRawPointer, attributes: DNNLAttributes?, engine: DNNLEngine, what: String) throws {
    self.what = what
    var pd: dnnl_primitive_desc_t?
    try dnnl(
      dnnl_primitive_desc_create(&pd, op.assumingMemoryBound(to: dnnl_op_desc_t.self), attributes?.handle, engine.handle, nil),
      "create a primitive descriptor for \(what)")
    var primitive: dnnl_primitive_t?
    let status = dnnl_primitive_create(&primitive, pd)
    if status != dnnl_success { dnnl_primitive_desc_destroy(pd) }
    try dnnl(status, "create the primitive for \(what)")
    desc = pd!
    handle = primitive!
  }

  /// A reorder from one layout to another.
  init(reorderFrom source: dnnl_memory_desc_t, to target: dnnl_memory_desc_t, engine: DNNLEngine, what: String) throws {
    self.what = what
    var (s, t) = (source, target)
    var pd: dnnl_primitive_desc_t?
    try dnnl(dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &t, engine.handle, nil), "create a reorder for \(what)")
    var primitive: dnnl_primitive_t?
    let status = dnnl_primitive_create(&primitive, pd)
    if status != dnnl_success { dnnl_primitive_desc_destroy(pd) }
    try dnnl(status, "create the reorder for \(what)")
    desc = pd!
    handle = primitive!
  }

  deinit {
    dnnl_primitive_destroy(handle)
    dnnl_primitive_desc_destroy(desc)
  }

  /// The memory descriptor the primitive chose for `query` (e.g. `dnnl_query_weights_md`).
  func memoryDesc(_ query: dnnl_query_t, index: Int32 = 0) -> dnnl_memory_desc_t {
    dnnl_primitive_desc_query_md(desc, query, index).pointee
  }

  /// Scratchpad bytes this primitive needs.
  var scratchpadBytes: Int {
    var md = memoryDesc(dnnl_query_scratchpad_md)
    return dnnl_memory_desc_get_size(&md)
  }

  /// Executes with `args` on `stream`.
  @inline(__always)
  package func execute(_ stream: DNNLStream, _ args: UnsafeBufferPointer<dnnl_exec_arg_t>) throws {
    try dnnl(dnnl_primitive_execute(handle, stream.handle, Int32(args.count), args.baseAddress), "run \(what)")
  }
}

/// Memory descriptors.
package enum MemoryDesc {
  /// A float32 descriptor with a fixed layout tag.
  static func f32(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    try make(dims, dnnl_f32, tag)
  }

  /// A descriptor of any element type with a fixed layout tag.
  package static func make(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { dnnl_dim_t($0) }
    try dnnl(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), d, type, tag), "describe a \(dims) tensor")
    return md
  }

  /// Bytes needed by a descriptor.
  static func bytes(_ md: dnnl_memory_desc_t) -> Int {
    var m = md
    return dnnl_memory_desc_get_size(&m)
  }

  /// True if two descriptors describe the same layout.
  static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
    var (x, y) = (a, b)
    return dnnl_memory_desc_equal(&x, &y) != 0
  }
}

/// What the CPU can do, as oneDNN sees it (ONEDNN_MAX_CPU_ISA included).
package enum CPUFeatures {
  /// True when oneDNN multiplies bfloat16 natively (AVX512_BF16 or AMX): twice float32's rate.
  package static var nativeBFloat16: Bool {
    let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
    return dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16
  }
}

/// OpenMP thread count of the calling thread (oneDNN's parallel regions follow it).
enum OpenMP {
  static func setThreads(_ n: Int) { omp_set_num_threads(Int32(max(1, n))) }
  static var maxThreads: Int { Int(omp_get_max_threads()) }
}
