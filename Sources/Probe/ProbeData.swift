// The rows a probe trains and evaluates on: read from a feature store, optionally pooled over the
// stored map's H and W, held in memory when they fit and streamed from the file in row chunks when
// they do not.

import FeatureStore
import Foundation
import Support

/// Spatial pooling applied when a flattened `[C, H, W]` store is probed.
public enum ProbePool: String, Sendable, CaseIterable {
  case none, avg, max
}

/// A set of feature rows with their labels, in memory or streamed from a store.
public final class FeatureMatrix: @unchecked Sendable {
  // Sendable: immutable after init; streamed reads go through the store, which featx reads from one
  // thread at a time (training is single-threaded outside GEMM).
  public let rows: Int
  /// Values per row (after probe-time pooling).
  public let dimension: Int
  /// Class index of every row.
  public let labels: [Int]
  /// Store row of every row (for messages).
  public let storeRows: [Int]

  private let memory: [Float]?
  private let store: FeatureStore?
  private let pool: ProbePool
  private let mapShape: [Int]
  /// For a subset view: the parent matrix and which of its rows this view holds.
  private let parent: FeatureMatrix?
  private let parentRows: [Int]

  /// Rows held in memory (row-major `rows * dimension` values).
  public init(values: [Float], dimension: Int, labels: [Int], storeRows: [Int]? = nil) {
    precondition(values.count == labels.count * dimension, "FeatureMatrix: \(values.count) values for \(labels.count) rows")
    rows = labels.count
    self.dimension = dimension
    self.labels = labels
    self.storeRows = storeRows ?? Array(0..<labels.count)
    memory = values
    store = nil
    pool = .none
    mapShape = [dimension]
    parent = nil
    parentRows = []
  }

  /// A view of some rows of `parent` (no copy; chunks are gathered on demand).
  private init(parent: FeatureMatrix, rows indices: [Int]) {
    rows = indices.count
    dimension = parent.dimension
    labels = indices.map { parent.labels[$0] }
    storeRows = indices.map { parent.storeRows[$0] }
    memory = nil
    store = nil
    pool = .none
    mapShape = [parent.dimension]
    self.parent = parent
    parentRows = indices
  }

  /// The rows `indices` of this matrix, as a view.
  public func subset(_ indices: [Int]) -> FeatureMatrix { FeatureMatrix(parent: self, rows: indices) }

  /// Rows streamed from `store` (store rows `storeRows`), pooled with `pool` over `mapShape` = [C, H, W].
  init(streaming store: FeatureStore, storeRows: [Int], labels: [Int], pool: ProbePool, mapShape: [Int]) {
    rows = storeRows.count
    self.store = store
    self.storeRows = storeRows
    self.labels = labels
    self.pool = pool
    self.mapShape = mapShape
    dimension = pool == .none ? mapShape.reduce(1, *) : mapShape[0]
    memory = nil
    parent = nil
    parentRows = []
  }

  /// True when rows are read from the file on every pass.
  public var isStreamed: Bool { parent?.isStreamed ?? (memory == nil) }

  /// All rows in memory (reads them if streamed).
  public func values() throws -> [Float] {
    if let memory { return memory }
    // Read straight into the result, chunk by chunk: no zero fill and no second copy (with the NaN check
    // below, a 2.4 GB store's load went from 4.4–4.6 s to 3.6 s).
    return try [Float](unsafeUninitializedCapacity: rows * dimension) { out, initialized in
      var start = 0
      while start < rows {
        let range = start..<min(rows, start + 256)
        try read(
          Array(range),
          into: UnsafeMutableBufferPointer(rebasing: out[(range.lowerBound * dimension)..<(range.upperBound * dimension)]))
        start = range.upperBound
      }
      initialized = rows * dimension
    }
  }

  /// Calls `body` with consecutive chunks of at most `maxRows` rows (row-major).
  public func forEachChunk(maxRows: Int, _ body: (Range<Int>, UnsafeBufferPointer<Float>) throws -> Void) throws {
    if let memory {
      try memory.withUnsafeBufferPointer { all in
        var start = 0
        while start < rows {
          let range = start..<min(rows, start + maxRows)
          try body(range, UnsafeBufferPointer(rebasing: all[(range.lowerBound * dimension)..<(range.upperBound * dimension)]))
          start = range.upperBound
        }
      }
      return
    }
    var buffer = [Float](repeating: 0, count: min(rows, maxRows) * dimension)
    var start = 0
    while start < rows {
      let range = start..<min(rows, start + maxRows)
      try buffer.withUnsafeMutableBufferPointer { try read(Array(range), into: $0) }
      try buffer.withUnsafeBufferPointer { try body(range, UnsafeBufferPointer(rebasing: $0[0..<(range.count * dimension)])) }
      start = range.upperBound
    }
  }

  /// Copies rows `indices` (any order) into `out` (row-major).
  public func gather(_ indices: [Int], into out: UnsafeMutableBufferPointer<Float>) throws {
    if let parent {
      try parent.gather(indices.map { parentRows[$0] }, into: out)
      return
    }
    if let memory {
      memory.withUnsafeBufferPointer { all in
        for (i, r) in indices.enumerated() {
          (out.baseAddress! + i * dimension).update(from: all.baseAddress! + r * dimension, count: dimension)
        }
      }
      return
    }
    try read(indices, into: out)
  }

  /// Reads rows from the store, merging runs of consecutive store rows into one read each.
  private func read(_ indices: [Int], into out: UnsafeMutableBufferPointer<Float>) throws {
    if parent != nil { return try gather(indices, into: out) }
    guard let store else { return }
    let raw = store.dimension
    var scratch = [Float]()
    var i = 0
    while i < indices.count {
      var j = i + 1
      while j < indices.count && storeRows[indices[j]] == storeRows[indices[j - 1]] + 1 { j += 1 }
      let first = storeRows[indices[i]]
      let range = first..<(first + (j - i))
      if pool == .none {
        try store.readFeatures(rows: range, into: UnsafeMutableBufferPointer(rebasing: out[(i * raw)..<(j * raw)]))
      } else {
        if scratch.count < range.count * raw { scratch = [Float](repeating: 0, count: range.count * raw) }
        try scratch.withUnsafeMutableBufferPointer {
          try store.readFeatures(rows: range, into: UnsafeMutableBufferPointer(rebasing: $0[0..<(range.count * raw)]))
        }
        for r in 0..<range.count {
          scratch.withUnsafeBufferPointer { src in
            ProbeDataset.poolRow(
              UnsafeBufferPointer(rebasing: src[(r * raw)..<((r + 1) * raw)]), shape: mapShape, pool: pool,
              into: UnsafeMutableBufferPointer(rebasing: out[((i + r) * dimension)..<((i + r + 1) * dimension)]))
          }
        }
      }
      i = j
    }
    let values = UnsafeBufferPointer(rebasing: out[0..<(indices.count * dimension)])
    if let k = FeatureMatrix.firstNonFinite(values) {
      let row = storeRows[indices[k / dimension]]
      throw ProbeError.nonFinite(path: store.path, row: row, image: (try? store.paths()[row]) ?? "?")
    }
  }

  /// The index of the first NaN or infinity in `values`, if any. Eight lanes at a time (`x * 0` is 0 for a
  /// finite x and NaN otherwise), then one by one in the first block that has one: an element-wise
  /// `isFinite` loop took 0.44 s of a 2.4 GB store's load.
  static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
    let lanes = 8
    let blocks = values.count / lanes
    if let base = values.baseAddress, blocks > 0 {
      let raw = UnsafeRawPointer(base)
      for block in 0..<blocks {
        let v = raw.loadUnaligned(fromByteOffset: block * lanes * 4, as: SIMD8<Float>.self)
        let probe = v * 0
        if probe != SIMD8<Float>(repeating: 0) {
          return (block * lanes..<(block + 1) * lanes).first { !values[$0].isFinite }
        }
      }
    }
    return (blocks * lanes..<values.count).first { !values[$0].isFinite }
  }
}

extension FeatureMatrix {
  /// Every row of `store` (labels as stored, -1 for an unlabelled row), in memory when they fit in
  /// `maxMemory` (default: `ProbeDataset.defaultMemoryBudget`), else streamed from the file.
  public static func allRows(of store: FeatureStore, maxMemory: Int? = nil) throws -> FeatureMatrix {
    try store.requireComplete()
    let rows = Array(0..<store.rows)
    let streamed = FeatureMatrix(
      streaming: store, storeRows: rows, labels: try store.labels().map { Int($0) }, pool: .none,
      mapShape: store.metadata.featureShape)
    guard store.rows * store.dimension * 4 <= maxMemory ?? ProbeDataset.defaultMemoryBudget else { return streamed }
    return FeatureMatrix(values: try streamed.values(), dimension: streamed.dimension, labels: streamed.labels, storeRows: rows)
  }
}

extension ProbeDataset {
  /// This data with `shots` train rows per class (CLIP_benchmark's `fewshot_k`): each class's train rows,
  /// shuffled by `SeededShuffle.byClass` (NumPy's `RandomState(seed)`, one permutation per class in class
  /// order), and the first `shots` taken; the rows then keep store order. Classes with fewer train rows are
  /// used whole and returned in `short`. Test rows are unchanged.
  public func fewShot(_ shots: Int, seed: UInt32) -> (data: ProbeDataset, short: [Int]) {
    precondition(shots >= 1, "fewShot: \(shots) shots")
    var picked: [Int] = []
    var short: [Int] = []
    for members in SeededShuffle.byClass(labels: train.labels, seed: seed) {
      if members.count < shots { short.append(train.labels[members[0]]) }
      picked += members.prefix(shots)
    }
    var copy = self
    copy.train = train.subset(picked.sorted())
    return (copy, short)
  }
}

/// The train and test rows of a feature store, ready for a probe.
public struct ProbeDataset {
  /// The store the rows came from (nil for rows built in memory).
  public var store: FeatureStore?
  public var train: FeatureMatrix
  /// Test rows (the store's split = test, or carved from train with `valRatio`); nil if none.
  public var test: FeatureMatrix?
  public var classes: [String]
  /// Shape of one probed vector (after probe-time pooling).
  public var featureShape: [Int]
  public var pool: ProbePool

  /// Rows built in memory (e.g. from another source than a feature store).
  public init(train: FeatureMatrix, test: FeatureMatrix?, classes: [String]) {
    store = nil
    self.train = train
    self.test = test
    self.classes = classes
    featureShape = [train.dimension]
    pool = .none
  }

  init(store: FeatureStore, train: FeatureMatrix, test: FeatureMatrix?, classes: [String], featureShape: [Int], pool: ProbePool) {
    self.store = store
    self.train = train
    self.test = test
    self.classes = classes
    self.featureShape = featureShape
    self.pool = pool
  }

  /// Loads `path` for probing.
  ///
  /// - Parameters:
  ///   - pool: pool a flattened `[C, H, W]` store over H and W at probe time.
  ///   - valRatio: when the store has no test rows, hold out this fraction of train as test.
  ///   - maxMemory: stream from the file when the rows need more bytes than this (default: 70% of the
  ///     memory available).
  ///   - everyRowTrains: train on every labelled row, whatever its split (the test rows then come from
  ///     elsewhere: `testing(on:)`).
  public static func load(
    path: String, pool: ProbePool = .none, valRatio: Double? = nil, seed: UInt32 = 0, maxMemory: Int? = nil,
    everyRowTrains: Bool = false
  ) throws -> ProbeDataset {
    let store = try FeatureStore(path: path)
    try store.requireComplete()
    let shape = store.metadata.featureShape
    if pool != .none, shape.count != 3 {
      throw ProbeError.invalidSetting(
        .pooling, reason: "\(pool.rawValue) pooling needs a flattened [C, H, W] store; \(path) holds \(shape)")
    }
    let labels = try store.labels()
    guard labels.first != -1 else { throw ProbeError.unlabelled(path: path) }
    let split = try store.split()
    var trainRows = labels.indices.filter { labels[$0] >= 0 && (everyRowTrains || split[$0] == SplitPart.train.rawValue) }
    var testRows = everyRowTrains ? [] : labels.indices.filter { labels[$0] >= 0 && split[$0] == SplitPart.test.rawValue }
    if testRows.isEmpty, let valRatio, valRatio > 0 {
      let carved = SplitRows.holdOut(trainRows, labels: trainRows.map { Int(labels[$0]) }, fraction: valRatio, seed: seed)
      (trainRows, testRows) = (carved.keep, carved.held)
    }
    guard !trainRows.isEmpty else { throw ProbeError.noTrainRows(path: path) }
    let trainClasses = Set(trainRows.map { labels[$0] })
    guard trainClasses.count >= 2 else { throw ProbeError.tooFewClasses(path: path, found: trainClasses.count) }

    let dimension = pool == .none ? store.dimension : shape[0]
    let bytes = (trainRows.count + testRows.count) * dimension * 4 + (pool == .none ? 0 : store.dimension * 4 * 1024)
    let budget = maxMemory ?? defaultMemoryBudget
    let stream = bytes > budget
    func matrix(_ rows: [Int]) throws -> FeatureMatrix {
      let streamed = FeatureMatrix(
        streaming: store, storeRows: rows, labels: rows.map { Int(labels[$0]) }, pool: pool, mapShape: shape)
      if stream { return streamed }
      return FeatureMatrix(values: try streamed.values(), dimension: dimension, labels: streamed.labels, storeRows: rows)
    }
    return ProbeDataset(
      store: store, train: try matrix(trainRows), test: testRows.isEmpty ? nil : try matrix(testRows), classes: store.classes,
      featureShape: pool == .none ? shape : [shape[0]], pool: pool)
  }

  /// Average or maximum of a [C, H, W] row over H and W.
  static func poolRow(
    _ row: UnsafeBufferPointer<Float>, shape: [Int], pool: ProbePool, into out: UnsafeMutableBufferPointer<Float>
  ) {
    let plane = shape.dropFirst().reduce(1, *)
    for c in 0..<shape[0] {
      let values = row[(c * plane)..<((c + 1) * plane)]
      out[c] = pool == .max ? values.max() ?? 0 : Float(values.reduce(0.0) { $0 + Double($1) } / Double(plane))
    }
  }

  /// `MemAvailable` from /proc/meminfo, in bytes (8 GiB if unknown).
  /// What a probe may hold when `--max-memory` is not given: 70 % of the memory available now, leaving the
  /// rest to the page cache and other processes.
  static var defaultMemoryBudget: Int { Int(Double(availableMemory()) * 0.7) }

  static func availableMemory() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
      let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 8 << 30 }
    return kb * 1024
  }
}

/// Seeded, per-class hold-out of rows (`SeededShuffle.byClass`, the shuffle of the store's stratified split).
enum SplitRows {
  /// `count` stratified folds: each class's rows in a numpy permutation, dealt round-robin.
  static func folds(_ rows: [Int], labels: [Int], count: Int, seed: UInt32) -> [(keep: [Int], held: [Int])] {
    var foldOf = [Int](repeating: 0, count: rows.count)
    var next = 0
    for members in SeededShuffle.byClass(labels: labels, seed: seed) {
      for i in members {
        foldOf[i] = next % count
        next += 1
      }
    }
    return (0..<count).map { k in
      (rows.indices.filter { foldOf[$0] != k }.map { rows[$0] }, rows.indices.filter { foldOf[$0] == k }.map { rows[$0] })
    }
  }

  /// Holds out `fraction` of each class's rows (at least one of a class with two or more rows).
  static func holdOut(_ rows: [Int], labels: [Int], fraction: Double, seed: UInt32) -> (keep: [Int], held: [Int]) {
    var held = Set<Int>()
    for members in SeededShuffle.byClass(labels: labels, seed: seed) {
      let count = members.count > 1 ? max(1, Int(Double(members.count) * fraction)) : 0
      held.formUnion(members.prefix(count))
    }
    return (
      rows.indices.filter { !held.contains($0) }.map { rows[$0] }, rows.indices.filter { held.contains($0) }.map { rows[$0] }
    )
  }
}
