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
    // Each shard is opened, checked and read for its row lists, then closed: a merge of a thousand shards
    // holds one file open at a time (a cluster's descriptor limit is often 1024), and the features are
    // streamed shard by shard into the output.
    var byIndex: [Int: Shard] = [:]
    var first: Shard?
    for path in inputs {
      let shard = try Shard(try FeatureStore(path: path))
      guard first == nil || first!.count == shard.count else {
        throw FeatureStoreError.invalid(path: path, reason: "shard of \(shard.count), the others are of \(first!.count)")
      }
      guard byIndex[shard.index] == nil else {
        throw FeatureStoreError.invalid(path: path, reason: "shard \(shard.index) is given twice")
      }
      if let first {
        let differences = first.differences(from: shard)
        guard differences.isEmpty else {
          throw FeatureStoreError.invalid(
            path: path, reason: "made with another configuration than \(first.path) (\(differences.joined(separator: "; ")))")
        }
      }
      first = first ?? shard
      byIndex[shard.index] = shard
    }
    guard let first else { throw FeatureStoreError.invalid(path: output, reason: "no shard stores given") }
    let n = first.count
    let missing = (0..<n).filter { byIndex[$0] == nil }
    guard missing.isEmpty else {
      throw FeatureStoreError.invalid(
        path: output, reason: "shards \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) are missing")
    }
    let ordered = (0..<n).map { byIndex[$0]! }
    let total = first.metadata.datasetRows
    for (k, shard) in ordered.enumerated() {
      let start = k * total / n
      let end = (k + 1) * total / n
      guard shard.metadata.shardStart == start, shard.rows.count + shard.skipped.count == end - start else {
        throw FeatureStoreError.invalid(path: shard.path, reason: "shard \(k)/\(n) should hold dataset rows \(start)..<\(end)")
      }
    }

    var metadata = first.metadata
    metadata.shard = ""
    metadata.shardStart = 0
    metadata.created = ordered.map(\.metadata.created).min() ?? metadata.created
    let rows = StoreRows(
      classes: first.rows.classes, classFolders: first.rows.classFolders, paths: ordered.flatMap(\.rows.paths),
      labels: ordered.flatMap(\.rows.labels), split: ordered.flatMap(\.rows.split))
    let offsets = ordered.reduce(into: [0]) { $0.append($0.last! + $1.rows.count) }
    var open: (index: Int, store: FeatureStore)?
    try FeatureStoreWriter.writeComplete(
      path: output, metadata: metadata, rows: rows, dtype: first.dtype, skipped: ordered.flatMap(\.skipped)
    ) { range, buffer in
      var row = range.lowerBound
      var written = 0
      while row < range.upperBound {
        let index = ordered.indices.first { offsets[$0] <= row && row < offsets[$0 + 1] }!
        if open?.index != index { open = (index, try FeatureStore(path: ordered[index].path)) }
        let local = row - offsets[index]
        let take = min(range.upperBound - row, ordered[index].rows.count - local)
        let d = metadata.dimension
        try open!.store.readFeatures(
          rows: local..<(local + take), into: UnsafeMutableBufferPointer(rebasing: buffer[(written * d)..<((written + take) * d)])
        )
        row += take
        written += take
      }
    }
    return rows.count
  }

  /// What the merge needs of one shard store, read while it was open.
  private struct Shard {
    let path: String
    let index: Int
    let count: Int
    let metadata: StoreMetadata
    let dtype: FeatureDType
    let rows: StoreRows
    let skipped: [(path: String, reason: String)]

    init(_ store: FeatureStore) throws {
      try store.requireComplete()
      let parts = store.metadata.shard.split(separator: "/").compactMap { Int($0) }
      guard parts.count == 2, parts[0] >= 0, parts[0] < parts[1] else {
        throw FeatureStoreError.invalid(path: store.path, reason: "not a shard store (no `shard` attribute k/N)")
      }
      (path, index, count) = (store.path, parts[0], parts[1])
      (metadata, dtype) = (store.metadata, store.dtype)
      rows = StoreRows(
        classes: store.classes, classFolders: store.classFolders, paths: try store.paths(), labels: try store.labels(),
        split: try store.split())
      skipped = try store.skipped()
    }

    /// How `other` was made differently, as readable items (empty: the same extraction).
    func differences(from other: Shard) -> [String] {
      var found = metadata.differences(from: other.metadata, in: \.extractionFingerprint).map(\.description)
      if other.dtype != dtype { found.append("dtype was \(dtype), now \(other.dtype)") }
      if other.rows.classes != rows.classes { found.append("the classes differ") }
      if other.rows.classFolders != rows.classFolders { found.append("the class folders differ") }
      return found
    }
  }
}
