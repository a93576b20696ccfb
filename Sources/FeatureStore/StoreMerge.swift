/// Joins the shard stores of one extraction (`featx extract --shard k/N`) into the store a single
/// process would have written: same rows in the same order, same metadata but for the shard fields.
public enum StoreMerge {
  /// Merges `inputs` (any order) into `output`, written atomically.
  ///
  /// - Returns: the number of rows of the merged store.
  /// - Throws: `FeatureStoreError` naming the shard that is incomplete, missing, duplicated or made with
  ///   another configuration.
  @discardableResult
  public static func merge(_ inputs: [String], into output: String) throws -> Int {
    let stores = try inputs.map { try FeatureStore(path: $0) }
    guard let first = stores.first else {
      throw FeatureStoreError.invalid(path: output, reason: "no shard stores given")
    }
    var byIndex: [Int: FeatureStore] = [:]
    var count: Int?
    for store in stores {
      try store.requireComplete()
      let parts = store.metadata.shard.split(separator: "/").compactMap { Int($0) }
      guard parts.count == 2, parts[0] >= 0, parts[0] < parts[1] else {
        throw FeatureStoreError.invalid(path: store.path, reason: "not a shard store (no `shard` attribute k/N)")
      }
      guard count == nil || count == parts[1] else {
        throw FeatureStoreError.invalid(path: store.path, reason: "shard of \(parts[1]), the others are of \(count!)")
      }
      count = parts[1]
      guard byIndex[parts[0]] == nil else {
        throw FeatureStoreError.invalid(path: store.path, reason: "shard \(parts[0]) is given twice")
      }
      byIndex[parts[0]] = store
      var differences = first.metadata.differences(from: store.metadata, in: \.extractionFingerprint).map(\.description)
      if store.dtype != first.dtype { differences.append("dtype was \(first.dtype), now \(store.dtype)") }
      if store.classes != first.classes { differences.append("the classes differ") }
      if store.classFolders != first.classFolders { differences.append("the class folders differ") }
      guard differences.isEmpty else {
        throw FeatureStoreError.invalid(
          path: store.path,
          reason: "made with another configuration than \(first.path) (\(differences.joined(separator: "; ")))")
      }
    }
    let n = count!
    let missing = (0..<n).filter { byIndex[$0] == nil }
    guard missing.isEmpty else {
      throw FeatureStoreError.invalid(
        path: output, reason: "shards \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) are missing")
    }
    let ordered = (0..<n).map { byIndex[$0]! }
    let total = first.metadata.datasetRows
    for (k, store) in ordered.enumerated() {
      let start = k * total / n
      let end = (k + 1) * total / n
      let held = store.rows + (try store.skipped().count)
      guard store.metadata.shardStart == start, held == end - start else {
        throw FeatureStoreError.invalid(path: store.path, reason: "shard \(k)/\(n) should hold dataset rows \(start)..<\(end)")
      }
    }

    var metadata = first.metadata
    metadata.shard = ""
    metadata.shardStart = 0
    metadata.created = ordered.map(\.metadata.created).min() ?? metadata.created
    let rows = StoreRows(
      classes: first.classes, classFolders: first.classFolders, paths: try ordered.flatMap { try $0.paths() },
      labels: try ordered.flatMap { try $0.labels() }, split: try ordered.flatMap { try $0.split() })
    let skipped = try ordered.flatMap { try $0.skipped() }
    let offsets = ordered.reduce(into: [0]) { $0.append($0.last! + $1.rows) }
    try FeatureStoreWriter.writeComplete(path: output, metadata: metadata, rows: rows, dtype: first.dtype, skipped: skipped) {
      range, buffer in
      var row = range.lowerBound
      var written = 0
      while row < range.upperBound {
        let shard = ordered.indices.first { offsets[$0] <= row && row < offsets[$0 + 1] }!
        let local = row - offsets[shard]
        let take = min(range.upperBound - row, ordered[shard].rows - local)
        let d = metadata.dimension
        try ordered[shard].readFeatures(
          rows: local..<(local + take), into: UnsafeMutableBufferPointer(rebasing: buffer[(written * d)..<((written + take) * d)])
        )
        row += take
        written += take
      }
    }
    return rows.count
  }
}
