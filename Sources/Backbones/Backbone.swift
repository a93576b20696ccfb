import DNNL
import Support
import Dispatch
import Glibc
import Synchronization
import Weights

/// A frozen backbone that turns preprocessed images into feature vectors.
///
/// Images are float32 `[3, H, W]` (NCHW) after ToTensor/Normalize. With several images and several
/// threads, each thread runs whole images single-threaded (no synchronisation inside a network; results
/// do not depend on the thread count); a single image uses all threads inside each layer.
public final class Backbone: @unchecked Sendable {
  // Sendable: mutable state (compiled networks and workspaces) lives in `cache`, behind a Mutex, and
  // each workspace is handed to one worker at a time.

  /// Architecture name, e.g. `densenet121`.
  public let name: String
  public let config: ArchitectureConfig
  /// The tapped layer, e.g. `features` or `avgpool`.
  public let layer: String
  public let pooling: Pooling
  /// The validated weights.
  public let weights: StateDict
  /// Threads used by `run`.
  public let threads: Int
  /// The numbers the network computes in.
  public let precision: Precision
  /// A transformer's mixed-precision plan with this type for its products' buffers, whatever `precision`
  /// says (`CompiledNetwork`'s `productType`; tests run the plan in float32 on CPUs without bfloat16).
  let productType: ElementType?

  /// Compiled networks by input size, threads and batch; idle workspaces by network.
  private struct Cache {
    var networks: [String: CompiledNetwork] = [:]
    var workspaces: [ObjectIdentifier: [Workspace]] = [:]
  }
  private let cache = Mutex(Cache())

  /// Validates `weights` against the architecture and prepares to run.
  ///
  /// - Parameters:
  ///   - name: architecture name used in messages and stores.
  ///   - config: hyper-parameters.
  ///   - weights: a state_dict (checked: names, shapes; legacy DenseNet keys renamed).
  ///   - layer: layer to tap (default: `features` for DenseNet, `avgpool` for ResNet).
  ///   - pooling: how the tapped map becomes a vector.
  ///   - threads: worker threads; 0 means every CPU this process may use (`CPU.available`).
  ///   - precision: float32 (torchvision's numbers) or bfloat16 (`Precision.resolve` checks the CPU).
  public convenience init(
    name: String, config: ArchitectureConfig, weights: StateDict, layer: String? = nil, pooling: Pooling = .flatten,
    threads: Int = 0, precision: Precision = .float32
  ) throws {
    try self.init(
      name: name, config: config, weights: weights, layer: layer, pooling: pooling, threads: threads, precision: precision,
      productType: nil)
  }

  /// As above, with a transformer's products computed in `productType` in a mixed-precision plan: float32
  /// runs the bfloat16 plan's staging buffers and conversions on any CPU, and must give float32's numbers.
  package init(
    name: String, config: ArchitectureConfig, weights: StateDict, layer: String? = nil, pooling: Pooling = .flatten,
    threads: Int = 0, precision: Precision = .float32, productType: ElementType?
  ) throws {
    var config = config.adapted(toKeys: Set(weights.keys))
    if case .visionTransformer(let c) = config {
      config = .visionTransformer(c.trained(on: TimmConfig.filterKeys(weights, architecture: name)))
    }
    let layer = layer ?? config.defaultLayer
    guard config.layers.contains(layer) else {
      throw BackboneError.unknown(kind: "layer of \(name)", value: layer, choices: config.layers)
    }
    self.name = name
    self.config = config
    self.layer = layer
    self.pooling = pooling
    self.weights = try WeightCheck.conform(weights, to: config, name: name)
    self.threads = threads > 0 ? threads : CPU.available
    self.precision = precision
    self.productType = productType
  }

  /// A named torchvision architecture.
  public convenience init(
    arch: Architecture, weights: StateDict, layer: String? = nil, pooling: Pooling = .flatten, threads: Int = 0,
    precision: Precision = .float32
  ) throws {
    try self.init(
      name: arch.rawValue, config: arch.config, weights: weights, layer: layer, pooling: pooling, threads: threads,
      precision: precision)
  }

  /// Images per network execution where the architecture allows more than one (`FEATX_IMAGES_PER_RUN`).
  static let imagesPerExecution: Int = {
    if let text = getenv("FEATX_IMAGES_PER_RUN").map({ String(cString: $0) }), let n = Int(text), n >= 1 { return n }
    return 8
  }()

  /// Bytes of attention scores one execution may hold (per worker).
  static let scoresBudget = 128 << 20

  /// Shape of one output vector before flattening for `height` x `width` inputs, e.g. [1024, 7, 7].
  public func outputShape(height: Int, width: Int) throws -> [Int] {
    let (graph, tap) = try self.graph(height: height, width: width)
    return try graph.outputShape(of: tap, pooling: pooling)
  }

  /// Multiply-adds per image up to the tapped layer, counted on torchvision's op order (so GFLOPS are
  /// comparable with other engines running torchvision's graph).
  public func multiplyAdds(height: Int, width: Int) -> Int {
    let graph = config.graph(height: height, width: width)
    let tap = graph.taps.first { $0.name == layer }
    return graph.torchvisionMultiplyAdds(opCount: tap?.opCount ?? graph.ops.count)
  }

  /// How the threads share the work of one call.
  public enum Parallelism: Sendable {
    /// Whole images per thread; a lone image uses every thread inside its layers (lowest latency).
    case automatic
    /// Always whole images per thread, so every image's result is bit-identical however the images are
    /// batched (extraction relies on this for resumed and sharded stores).
    case perImage
  }

  /// Runs `count` images of `height` x `width`.
  ///
  /// - Parameters:
  ///   - images: `count * 3 * height * width` values, image after image, each NCHW.
  ///   - output: `count * outputShape.product` values, one row per image.
  ///   - parallelism: see `Parallelism`.
  public func run(
    images: UnsafeBufferPointer<Float>, count: Int, height: Int, width: Int, into output: UnsafeMutableBufferPointer<Float>,
    parallelism: Parallelism = .automatic
  ) throws {
    precondition(images.count == count * 3 * height * width, "Backbone.run: \(images.count) input values for \(count) images")
    guard count > 0 else { return }
    // ResNets run `imagesPerExecution` images per network execution (several images keep the small late
    // layers efficient, and let oneDNN pick Winograd for 3x3 convolutions); a partial group is padded.
    // Extraction always uses the same grouping, so an image's features never depend on its batch.
    let perExecution = try imagesPerRun(height: height, width: width)
    let n = parallelism == .perImage || count >= perExecution ? perExecution : 1
    let workers = min(threads, (count + n - 1) / n)
    let perImage = workers > 1 || parallelism == .perImage ? 1 : threads
    let network = try self.network(height: height, width: width, threadsPerImage: perImage, batch: n)
    precondition(output.count == count * network.outputCount, "Backbone.run: output holds \(output.count) values")
    let pool = try takeWorkspaces(network, count: workers)
    defer { giveBack(pool, network) }
    guard let input = images.baseAddress, let out = output.baseAddress else { return }
    // Work units of `network.batch` consecutive images, dealt round-robin to the workers.
    let units = (count + network.batch - 1) / network.batch
    if workers == 1 {
      try OpenMP.withThreads(perImage) {
        for unit in 0..<units { try pool[0].run(unit: unit, of: count, input: input, output: out) }
      }
      return
    }
    let failure = FirstError()
    // Each worker takes the next unit when it is free, so a worker slowed down (another process on its
    // core) does not hold up the batch; which worker runs a unit never changes its result.
    let next = Atomic<Int>(0)
    nonisolated(unsafe) let (src, dst) = (input, out)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      OpenMP.withThreads(1) {
        while !failure.isSet {
          let unit = next.add(1, ordering: .relaxed).oldValue
          guard unit < units else { break }
          do { try pool[w].run(unit: unit, of: count, input: src, output: dst) } catch { failure.set(error) }
        }
      }
    }
    if let error = failure.error { throw error }
  }

  /// Images one network execution runs under `.perImage` (a smaller call is padded to it): 1, or
  /// `FEATX_IMAGES_PER_RUN` (8) where the graph allows several.
  public func imagesPerRun(height: Int, width: Int) throws -> Int {
    let (graph, tap) = try self.graph(height: height, width: width)
    guard CompiledNetwork.usesWholeBuffers(graph, opCount: tap.opCount) else { return 1 }
    // Attention scores grow with the square of the tokens (DINOv2 at 518: 45 MB per image for ViT-S), so
    // large grids run fewer images at once; the grouping depends on the graph alone, never on `count`.
    return min(Backbone.imagesPerExecution, max(1, Backbone.scoresBudget / max(1, graph.attentionScoresBytes)))
  }

  /// What every primitive of the network computes and the oneDNN implementation that runs it (`gemm:jit`,
  /// `jit:avx2`, `ref:any`, …), in execution order, for `height` × `width` inputs run `batch` at a time
  /// on one thread per image (how extraction runs): a `ref` implementation is a reference kernel, many
  /// times slower than a tuned one.
  public func implementations(height: Int, width: Int, batch: Int = 1) throws -> [(what: String, implementation: String)] {
    let (graph, tap) = try self.graph(height: height, width: width)
    let n = CompiledNetwork.usesWholeBuffers(graph, opCount: tap.opCount) ? batch : 1
    let network = try self.network(height: height, width: width, threadsPerImage: 1, batch: n)
    return network.steps.map { ($0.primitive.purpose, $0.primitive.implementation) }
  }

  /// Bytes of activations one worker's workspace holds for `height` × `width` inputs, one image per run.
  public struct ActivationMemory: Sendable {
    /// The arena the buffers share by liveness.
    public var arenaBytes: Int
    /// Buffers with memory of their own (padded channel ranges, the pooled output, bfloat16 copies).
    public var separateBytes: Int
    /// What the shared buffers would take, each with memory of its own.
    public var unsharedBytes: Int
    /// Pairs of buffers that some primitive uses at once and that share bytes: 0 unless the plan is wrong.
    public var conflicts: Int
  }

  /// The workspace memory plan's figures (`MemoryPlan`) for `height` × `width` inputs.
  public func activationMemory(height: Int, width: Int) throws -> ActivationMemory {
    let network = try self.network(height: height, width: width, threadsPerImage: 1, batch: 1)
    let plan = network.memoryPlan
    let bytes = network.bufferBytes
    let shared = plan.offsets.indices.filter { plan.offsets[$0] != nil }
    var conflicts = 0
    for (i, a) in shared.enumerated() {
      guard let start = plan.offsets[a], let span = plan.spans[a] else { continue }
      for b in shared[(i + 1)...] {
        guard let other = plan.offsets[b], let otherSpan = plan.spans[b], span.overlaps(otherSpan) else { continue }
        if start < other + bytes[b] && other < start + bytes[a] { conflicts += 1 }
      }
    }
    return ActivationMemory(
      arenaBytes: plan.arenaBytes, separateBytes: plan.separate.map { bytes[$0] }.reduce(0, +),
      unsharedBytes: shared.map { bytes[$0] }.reduce(0, +), conflicts: conflicts)
  }

  // MARK: - Compiled networks and workspaces

  /// The graph for an input size, and the tapped layer in it.
  private func graph(height: Int, width: Int) throws -> (Graph, Tap) {
    try config.validate(height: height, width: width, arch: name)
    let graph = config.graph(height: height, width: width)
    guard let tap = graph.taps.first(where: { $0.name == layer }),
      graph.buffers.allSatisfy({ $0.height >= 1 && $0.width >= 1 })
    else { throw BackboneError.inputTooSmall(arch: name, height: height, width: width) }
    return (graph, tap)
  }

  private func network(height: Int, width: Int, threadsPerImage: Int, batch: Int) throws -> CompiledNetwork {
    let key = "\(height)x\(width)/\(threadsPerImage)/\(batch)"
    return try cache.withLock { cache in
      if let network = cache.networks[key] { return network }
      let (graph, tap) = try self.graph(height: height, width: width)
      // oneDNN picks each primitive's blocking for the thread count it is created with.
      let network = try OpenMP.withThreads(threadsPerImage) {
        try CompiledNetwork(
          graph: graph, tap: tap, pooling: pooling, weights: weights, threadsPerImage: threadsPerImage, batch: batch,
          precision: precision, productType: productType)
      }
      cache.networks[key] = network
      return network
    }
  }

  private func takeWorkspaces(_ network: CompiledNetwork, count: Int) throws -> [Workspace] {
    let key = ObjectIdentifier(network)
    var pool = cache.withLock { cache in
      let taken = Array((cache.workspaces[key] ?? []).suffix(count))
      cache.workspaces[key]?.removeLast(taken.count)
      return taken
    }
    while pool.count < count { pool.append(try Workspace(network)) }
    return pool
  }

  private func giveBack(_ pool: [Workspace], _ network: CompiledNetwork) {
    cache.withLock { $0.workspaces[ObjectIdentifier(network), default: []].append(contentsOf: pool) }
  }
}
