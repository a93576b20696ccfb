import Glibc
import HDF5
import Support

/// What is known about every row before any feature is computed.
public struct StoreRows: Sendable, Equatable {
  /// Class display names, indexed by label.
  public var classes: [String]
  /// Class folder names, indexed by label.
  public var classFolders: [String]
  /// Image paths relative to the dataset root, one per row.
  public var paths: [String]
  /// Label of every row (index into `classes`, -1 when unlabelled).
  public var labels: [Int64]
  /// `SplitPart` raw value of every row.
  public var split: [UInt8]

  public init(classes: [String], classFolders: [String], paths: [String], labels: [Int64], split: [UInt8]) {
    precondition(paths.count == labels.count && paths.count == split.count, "StoreRows: per-row arrays differ in length")
    precondition(classes.count == classFolders.count, "StoreRows: classes and classFolders differ in length")
    self.classes = classes
    self.classFolders = classFolders
    self.paths = paths
    self.labels = labels
    self.split = split
  }

  /// Number of rows.
  public var count: Int { paths.count }
}

/// Writes a feature store row batch by row batch, so that it can be resumed after any interruption.
///
/// Durability protocol (docs/FORMAT.md, "Writing and resuming"): `create` writes every dataset at its
/// final size (features with file space reserved up front), so committing a batch only writes raw row
/// bytes and then rewrites the fixed-size `rows_complete` attribute in place. A process killed at any
/// moment therefore leaves a file whose `rows_complete` never counts rows that were not written.
/// `finish()` writes the finished, compact store to a temporary file and renames it over the original.
public final class FeatureStoreWriter {
  /// Row status values of `/row_status` while writing.
  enum RowStatus: UInt8 {
    case pending = 0
    case written = 1
    case skipped = 2
  }

  /// The store's path.
  public let path: String
  /// How the features are made.
  public let metadata: StoreMetadata
  /// Per-row facts.
  public let storeRows: StoreRows
  /// Stored element type.
  public let dtype: FeatureDType
  /// Rows committed so far (written or skipped), in order from row 0.
  public private(set) var rowsComplete: Int

  private let file: H5File
  private let root: H5Group
  private let features: H5Dataset
  private let rowStatus: H5Dataset

  private init(
    path: String, metadata: StoreMetadata, storeRows: StoreRows, dtype: FeatureDType, rowsComplete: Int,
    file: H5File, root: H5Group
  ) throws {
    self.path = path
    self.metadata = metadata
    self.storeRows = storeRows
    self.dtype = dtype
    self.rowsComplete = rowsComplete
    self.file = file
    self.root = root
    features = try root.dataset(StoreFormat.features)
    rowStatus = try root.dataset(StoreFormat.rowStatus)
  }

  /// Number of rows.
  public var rows: Int { storeRows.count }

  /// Rows per chunk of `/features`: about 1 MiB per chunk, at least one row.
  static func chunkRows(dimension: Int, dtype: FeatureDType, rows: Int) -> Int {
    let bytesPerRow = max(1, dimension * dtype.bytes)
    return max(1, min(max(rows, 1), (1 << 20) / bytesPerRow))
  }

  /// Creates (or replaces) the store at `path` with every row's metadata and no features yet.
  public static func create(
    path: String, metadata: StoreMetadata, rows storeRows: StoreRows, dtype: FeatureDType
  ) throws -> FeatureStoreWriter {
    // Built under a temporary name and renamed into place once flushed, so that the output path only
    // ever holds a valid working store (a process killed while creating leaves no half-made file).
    let temporary = path + ".featx-tmp"
    unlink(temporary)
    do {
      return try createWorking(temporary: temporary, path: path, metadata: metadata, rows: storeRows, dtype: dtype)
    } catch {
      unlink(temporary)
      throw error
    }
  }

  private static func createWorking(
    temporary: String, path: String, metadata: StoreMetadata, rows storeRows: StoreRows, dtype: FeatureDType
  ) throws -> FeatureStoreWriter {
    try storeCall {
      let file = try H5File(path: temporary, mode: .truncate)
      let root = try file.root()
      try metadata.write(to: root)
      try root.attributes.set("rows_complete", .int64(0))
      try root.attributes.set("complete", .int64(0))
      try writeRowData(root, storeRows)
      let n = storeRows.count
      let d = metadata.dimension
      let chunk = chunkRows(dimension: d, dtype: dtype, rows: n)
      let features = try root.createDataset(
        StoreFormat.features, type: dtype.element, shape: [n, d],
        options: H5DatasetOptions(chunk: [chunk, max(d, 1)], allocateEarly: true))
      try features.attributes.set(StoreFormat.featureShape, .int64s(metadata.featureShape.map { Int64($0) }))
      try root.createDataset(StoreFormat.rowStatus, values: [UInt8](repeating: RowStatus.pending.rawValue, count: n))
      try file.flush()
      guard rename(temporary, path) == 0 else {
        unlink(temporary)
        throw FeatureStoreError.invalid(
          path: path, reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
      }
      return try FeatureStoreWriter(
        path: path, metadata: metadata, storeRows: storeRows, dtype: dtype, rowsComplete: 0, file: file, root: root)
    }
  }

  /// Reopens an incomplete store written by `create` to continue after its last committed row.
  ///
  /// - Throws: `FeatureStoreError` if the file is not an incomplete featx store.
  public static func resume(path: String) throws -> FeatureStoreWriter {
    // Read everything through the validating reader, and close it before reopening for writing
    // (HDF5 refuses a read-write open of a file this process has open read-only).
    let (storeRows, metadata, dtype, done) = try {
      let reader = try FeatureStore(path: path)
      guard !reader.isComplete else {
        throw FeatureStoreError.invalid(path: path, reason: "it is already complete and cannot be resumed")
      }
      let storeRows = StoreRows(
        classes: reader.classes, classFolders: reader.classFolders, paths: try reader.paths(),
        labels: try reader.labels(), split: try reader.split())
      return (storeRows, reader.metadata, reader.dtype, reader.rowsComplete)
    }()
    return try storeCall {
      let file = try H5File(path: path, mode: .readWrite)
      let root = try file.root()
      guard try root.contains(StoreFormat.rowStatus) else {
        throw FeatureStoreError.missingDataset(path: path, name: StoreFormat.rowStatus)
      }
      let writer = try FeatureStoreWriter(
        path: path, metadata: metadata, storeRows: storeRows, dtype: dtype, rowsComplete: done, file: file, root: root)
      let status = try writer.rowStatus.read(UInt8.self, rows: 0..<done)
      if let bad = status.firstIndex(of: RowStatus.pending.rawValue) {
        throw FeatureStoreError.invalid(path: path, reason: "row \(bad) is counted in rows_complete but was never written")
      }
      return writer
    }
  }

  /// Deletes the working store: for a run that produced nothing worth resuming (every image failed).
  /// The open handle stays valid until the writer goes away; the path is gone at once.
  public func abandon() {
    unlink(path)
  }

  /// Indices (among committed rows) of rows recorded as skipped.
  public func skippedRows() throws -> [Int] {
    let status = try storeCall { try rowStatus.read(UInt8.self, rows: 0..<rowsComplete) }
    return status.indices.filter { status[$0] == RowStatus.skipped.rawValue }
  }

  /// Commits the next `count` rows: writes their features, then advances `rows_complete`.
  ///
  /// - Parameters:
  ///   - count: rows in this batch, starting at `rowsComplete`.
  ///   - values: `count * dimension` values, row-major; rows that are skipped may hold anything.
  ///   - skipped: per row of the batch, true if the image could not be read.
  public func commit(count: Int, values: UnsafeBufferPointer<Float>, skipped: [Bool]) throws {
    precondition(
      skipped.count == count && values.count == count * metadata.dimension,
      "FeatureStoreWriter.commit: \(count) rows need \(count * metadata.dimension) values and \(count) flags")
    guard count > 0 else { return }
    let range = rowsComplete..<(rowsComplete + count)
    guard range.upperBound <= rows else {
      throw FeatureStoreError.invalid(path: path, reason: "commit of rows \(range) past the end (\(rows) rows)")
    }
    try storeCall {
      switch dtype {
      case .float32:
        try features.write(values, rows: range)
      case .float16:
        let half = values.map { Float16($0) }
        try half.withUnsafeBufferPointer { try features.write($0, rows: range) }
      }
      let status = skipped.map { $0 ? RowStatus.skipped.rawValue : RowStatus.written.rawValue }
      try status.withUnsafeBufferPointer { try rowStatus.write($0, rows: range) }
      // Raw rows first, then the counter that claims them.
      try file.flush()
      try root.attributes.set("rows_complete", .int64(Int64(range.upperBound)))
      try file.flush()
    }
    rowsComplete = range.upperBound
  }

  /// Finalises a fully committed store: drops skipped rows, records them under `/skipped`, marks the store
  /// complete, and atomically replaces the working file with the result.
  ///
  /// - Parameter skipReasons: reason text for each skipped row index (a generic reason is used if absent).
  /// - Returns: the number of rows in the finished store.
  @discardableResult
  public func finish(skipReasons: [Int: String]) throws -> Int {
    guard rowsComplete == rows else {
      throw FeatureStoreError.incomplete(path: path, rowsComplete: rowsComplete, rows: rows)
    }
    let status = try storeCall { try rowStatus.read(UInt8.self) }
    let keep = status.indices.filter { status[$0] == RowStatus.written.rawValue }
    let skipped = status.indices.filter { status[$0] == RowStatus.skipped.rawValue }
    let kept = StoreRows(
      classes: storeRows.classes, classFolders: storeRows.classFolders, paths: keep.map { storeRows.paths[$0] },
      labels: keep.map { storeRows.labels[$0] }, split: keep.map { storeRows.split[$0] })
    let skippedList = skipped.map { (path: storeRows.paths[$0], reason: skipReasons[$0] ?? "could not be read") }
    let d = metadata.dimension
    try FeatureStoreWriter.writeComplete(
      path: path, metadata: metadata, rows: kept, dtype: dtype, skipped: skippedList
    ) { range, buffer in
      // Copy the kept rows in runs of consecutive source rows.
      var out = 0
      var i = range.lowerBound
      while i < range.upperBound {
        var j = i + 1
        while j < range.upperBound && keep[j] == keep[j - 1] + 1 { j += 1 }
        let source = keep[i]..<(keep[j - 1] + 1)
        let slice = UnsafeMutableBufferPointer(rebasing: buffer[(out * d)..<((out + source.count) * d)])
        try readRows(source, into: slice)
        out += source.count
        i = j
      }
    }
    return keep.count
  }

  private func readRows(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
    try storeCall {
      switch dtype {
      case .float32:
        try features.read(rows: range, into: buffer)
      case .float16:
        let half = try features.read(Float16.self, rows: range)
        for i in 0..<half.count { buffer[i] = Float(half[i]) }
      }
    }
  }

  private static func writeRowData(_ root: H5Group, _ rows: StoreRows) throws {
    try root.createDataset(StoreFormat.classes, strings: rows.classes)
    try root.createDataset(StoreFormat.classFolders, strings: rows.classFolders)
    try root.createDataset(StoreFormat.paths, strings: rows.paths)
    try root.createDataset(StoreFormat.labels, values: rows.labels)
    try root.createDataset(StoreFormat.split, values: rows.split)
  }

  /// Writes a complete store in one go to a temporary file next to `path`, then renames it into place.
  ///
  /// - Parameter copyRows: fills the buffer with rows `range` of the finished store (float32).
  public static func writeComplete(
    path: String, metadata: StoreMetadata, rows storeRows: StoreRows, dtype: FeatureDType,
    skipped: [(path: String, reason: String)],
    copyRows: (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void
  ) throws {
    try replaceAtomically(path) { temporary in
      try storeCall {
        let file = try H5File(path: temporary, mode: .createExclusive)
        let root = try file.root()
        try metadata.write(to: root)
        try writeRowData(root, storeRows)
        let n = storeRows.count
        let d = metadata.dimension
        let chunk = chunkRows(dimension: d, dtype: dtype, rows: n)
        let features = try root.createDataset(
          StoreFormat.features, type: dtype.element, shape: [n, d], options: H5DatasetOptions(chunk: [chunk, max(d, 1)]))
        try features.attributes.set(StoreFormat.featureShape, .int64s(metadata.featureShape.map { Int64($0) }))
        let group = try root.createGroup(StoreFormat.skipped)
        try group.createDataset(StoreFormat.skippedPaths, strings: skipped.map(\.path))
        try group.createDataset(StoreFormat.skippedReasons, strings: skipped.map(\.reason))
        // Copy in blocks of about 64 MiB.
        let block = max(chunk, (64 << 20) / max(1, d * 4) / chunk * chunk)
        var buffer = [Float](repeating: 0, count: min(block, max(n, 1)) * d)
        var start = 0
        while start < n {
          let range = start..<min(n, start + block)
          try buffer.withUnsafeMutableBufferPointer { all in
            let part = UnsafeMutableBufferPointer(rebasing: all[0..<(range.count * d)])
            try copyRows(range, part)
            switch dtype {
            case .float32:
              try features.write(UnsafeBufferPointer(part), rows: range)
            case .float16:
              let half = part.map { Float16($0) }
              try half.withUnsafeBufferPointer { try features.write($0, rows: range) }
            }
          }
          start = range.upperBound
        }
        try root.attributes.set("rows_complete", .int64(Int64(n)))
        try root.attributes.set("complete", .int64(1))
        try file.flush()
      }
    }
  }
}
