import Glibc
import HDF5
import Support

/// A feature store opened for reading: rows of feature vectors with their labels, paths and split.
///
/// Opening validates the format tag, the version and the presence and shapes of every dataset, so a
/// store that opens can be read without further checks. An incomplete store (extraction interrupted)
/// opens too; `isComplete` and `rowsComplete` say how far it got, and `requireComplete()` refuses it.
public final class FeatureStore {
  /// The file's path.
  public let path: String
  /// How the features were made.
  public let metadata: StoreMetadata
  /// Number of rows in the file (for an incomplete store, including rows not yet written).
  public let rows: Int
  /// Values per row.
  public let dimension: Int
  /// Stored element type of `/features`.
  public let dtype: FeatureDType
  /// Class display names, indexed by label.
  public let classes: [String]
  /// Class folder names, indexed by label (equal to `classes` when folders carry no display name).
  public let classFolders: [String]
  /// Rows whose features are written (equals `rows` when complete).
  public let rowsComplete: Int
  /// True once extraction finished and the file was finalised.
  public let isComplete: Bool
  /// The `format_version` of the file.
  public let formatVersion: Int64

  private let file: H5File
  private let features: H5Dataset
  private let root: H5Group
  /// Size of the file in bytes when opened (bounds what its datasets may declare).
  private let fileSize: Int

  /// Opens the store at `path`.
  ///
  /// - Throws: `FeatureStoreError` naming the file: missing, not HDF5, another format, a newer version,
  ///   or a damaged store.
  public init(path: String) throws {
    self.path = path
    var info = stat()
    guard stat(path, &info) == 0 else { throw FeatureStoreError.missingFile(path: path) }
    guard H5File.isHDF5(path: path) else {
      throw FeatureStoreError.notHDF5(path: path, looksLike: FileSignature.describe(path))
    }
    do {
      let file = try H5File(path: path, mode: .readOnly)
      let root = try file.root()
      let tag = try root.attributes.get("format")?.stringValue
      guard tag == StoreFormat.tag else { throw FeatureStoreError.wrongFormat(path: path, found: tag ?? "none") }
      let version = try root.attributes.get("format_version")?.int64Value ?? 0
      guard version <= StoreFormat.version else { throw FeatureStoreError.newerVersion(path: path, version: version) }
      guard version >= 1 else { throw FeatureStoreError.invalid(path: path, reason: "format_version \(version)") }
      for name in [StoreFormat.features, StoreFormat.labels, StoreFormat.classes, StoreFormat.paths, StoreFormat.split] {
        guard try root.contains(name) else { throw FeatureStoreError.missingDataset(path: path, name: name) }
      }
      let features = try root.dataset(StoreFormat.features)
      let metadata = try StoreMetadata.read(from: root, features: features, path: path)
      let shape = try features.shape()
      guard shape.count == 2 else { throw FeatureStoreError.invalid(path: path, reason: "/features has shape \(shape)") }
      // Hostile files may declare anything: check sizes before anything is computed or allocated from them.
      var product = 1
      for extent in metadata.featureShape {
        let (next, overflow) = product.multipliedReportingOverflow(by: extent)
        guard extent >= 1, !overflow else {
          throw FeatureStoreError.invalid(path: path, reason: "feature_shape \(metadata.featureShape) is not a valid shape")
        }
        product = next
      }
      // A row costs at least one byte of file even compressed (gzip's ratio is at most ~1032:1 on the
      // 8-byte labels); more declared rows than that cannot be real data.
      guard shape[0] <= 129 * Int(info.st_size) + 1024 else {
        throw FeatureStoreError.invalid(path: path, reason: "it declares \(shape[0]) rows in a file of \(info.st_size) bytes")
      }
      guard shape[1] == product else {
        throw FeatureStoreError.invalid(
          path: path, reason: "/features has \(shape[1]) columns but feature_shape \(metadata.featureShape)")
      }
      switch features.elementType {
      case .float32: dtype = .float32
      case .float16: dtype = .float16
      default: throw FeatureStoreError.invalid(path: path, reason: "/features holds \(features.elementType)")
      }
      for name in [StoreFormat.labels, StoreFormat.paths, StoreFormat.split] {
        let n = try root.dataset(name).shape()
        guard n == [shape[0]] else {
          throw FeatureStoreError.invalid(path: path, reason: "/\(name) has shape \(n), expected [\(shape[0])]")
        }
      }
      let rowLimit = 129 * Int(info.st_size) + 1024
      for name in [StoreFormat.classes, StoreFormat.classFolders] where try root.contains(name) {
        guard try root.dataset(name).shape().first ?? 0 <= rowLimit else {
          throw FeatureStoreError.invalid(path: path, reason: "/\(name) declares more entries than the file can hold")
        }
      }
      let classes = try root.dataset(StoreFormat.classes).readStrings()
      let folders =
        try root.contains(StoreFormat.classFolders) ? try root.dataset(StoreFormat.classFolders).readStrings() : classes
      guard folders.count == classes.count else {
        throw FeatureStoreError.invalid(path: path, reason: "/class_folders and /classes differ in length")
      }
      let done = Int(try root.attributes.get("rows_complete")?.int64Value ?? 0)
      let complete = try root.attributes.get("complete")?.int64Value == 1
      guard done >= 0, done <= shape[0], !complete || done == shape[0] else {
        throw FeatureStoreError.invalid(path: path, reason: "rows_complete \(done) does not fit \(shape[0]) rows")
      }
      (self.file, self.root, self.features, self.metadata) = (file, root, features, metadata)
      fileSize = Int(info.st_size)
      (rows, dimension, formatVersion) = (shape[0], shape[1], version)
      (self.classes, classFolders, rowsComplete, isComplete) = (classes, folders, done, complete)
    } catch let error as HDF5Error {
      throw FeatureStoreError.hdf5(error)
    }
  }

  /// Throws `FeatureStoreError.incomplete` unless extraction finished.
  public func requireComplete() throws {
    guard isComplete else { throw FeatureStoreError.incomplete(path: path, rowsComplete: rowsComplete, rows: rows) }
  }

  /// Labels (indices into `classes`; -1 for unlabelled images), checked: every label is a class index,
  /// or every label is -1 (an unlabelled store).
  /// - Throws: `FeatureStoreError.badValue` naming the first bad row.
  public func labels() throws -> [Int64] {
    let labels = try storeCall { try root.dataset(StoreFormat.labels).read(Int64.self) }
    try FeatureStore.checkLabels(labels, classes: classes.count, path: path)
    return labels
  }

  /// The label rule of docs/FORMAT.md: all labels in 0..<classes, or all -1.
  static func checkLabels(_ labels: [Int64], classes: Int, path: String) throws {
    let unlabelled = labels.first == -1
    for (row, label) in labels.enumerated() {
      if unlabelled {
        guard label == -1 else {
          throw FeatureStoreError.badValue(
            path: path, dataset: StoreFormat.labels, row: row,
            reason: "holds \(label) while row 0 holds -1: a store is either labelled (0…C-1) or unlabelled (-1) throughout")
        }
      } else if label < 0 || label >= Int64(classes) {
        let range = classes > 0 ? "0…\(classes - 1)" : "none: /classes is empty"
        throw FeatureStoreError.badValue(
          path: path, dataset: StoreFormat.labels, row: row,
          reason: label == -1
            ? "holds -1 (unlabelled) in a labelled store: a store is either labelled (0…C-1) or unlabelled (-1) throughout"
            : "holds \(label), which is not a class index (the store has \(classes) classes: \(range))")
      }
    }
  }

  /// True if the store holds no labels (every row's label is -1), as extraction of an unlabelled folder writes.
  public func isUnlabelled() throws -> Bool { try labels().first == -1 }

  /// Image paths relative to the dataset root.
  public func paths() throws -> [String] { try storeCall { try root.dataset(StoreFormat.paths).readStrings() } }

  /// Split part of every row (`SplitPart` raw values), checked to be 0 (train) or 1 (test).
  /// - Throws: `FeatureStoreError.badValue` naming the first bad row.
  public func split() throws -> [UInt8] {
    // Read as Int64 so that no value is clipped on the way (-1 in an int8 dataset would read as uint8 0).
    let split = try storeCall { try root.dataset(StoreFormat.split).read(Int64.self) }
    if let row = split.firstIndex(where: { $0 != 0 && $0 != 1 }) {
      throw FeatureStoreError.badValue(
        path: path, dataset: StoreFormat.split, row: row, reason: "holds \(split[row]); split values are 0 (train) or 1 (test)")
    }
    return split.map { UInt8($0) }
  }

  /// Images that could not be read during extraction, with the reason.
  public func skipped() throws -> [(path: String, reason: String)] {
    try storeCall {
      guard try root.contains(StoreFormat.skipped) else { return [] }
      let group = try root.group(StoreFormat.skipped)
      for name in [StoreFormat.skippedPaths, StoreFormat.skippedReasons] {
        guard try group.dataset(name).shape().first ?? 0 <= rows + 129 * fileSize + 1024 else {
          throw FeatureStoreError.invalid(path: path, reason: "/skipped/\(name) declares more entries than the file can hold")
        }
      }
      let paths = try group.dataset(StoreFormat.skippedPaths).readStrings()
      let reasons = try group.dataset(StoreFormat.skippedReasons).readStrings()
      return zip(paths, reasons).map { (path: $0, reason: $1) }
    }
  }

  /// Reads rows `range` into `buffer` (row-major, `range.count * dimension` values), converting float16.
  public func readFeatures(rows range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
    precondition(buffer.count == range.count * dimension, "FeatureStore.readFeatures: buffer size mismatch")
    guard range.lowerBound >= 0, range.upperBound <= rows else {
      throw FeatureStoreError.invalid(path: path, reason: "rows \(range) requested, the store has \(rows)")
    }
    try storeCall {
      switch dtype {
      case .float32:
        try features.read(rows: range, into: buffer)
      case .float16:
        var half = [Float16](repeating: 0, count: buffer.count)
        try half.withUnsafeMutableBufferPointer { try features.read(rows: range, into: $0) }
        for i in 0..<half.count { buffer[i] = Float(half[i]) }
      }
    }
  }

  /// Rows `range` as a new array (row-major).
  public func features(rows range: Range<Int>) throws -> [Float] {
    let count = range.count * dimension
    return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      try readFeatures(rows: range, into: buffer)
      initialized = count
    }
  }

  /// One row.
  public func row(_ index: Int) throws -> [Float] { try features(rows: index..<(index + 1)) }

  /// Every row in memory (`rows * dimension` values).
  public func allFeatures() throws -> [Float] { try features(rows: 0..<rows) }

  /// Chunk shape of `/features` (nil if contiguous).
  public func featureChunkShape() throws -> [Int]? { try storeCall { try features.chunkShape() } }

  /// Reads every part of the store that featx's commands read (labels, paths, split, skipped, chunk shape),
  /// but of the features only the first few rows and the last, going on past errors; returns the first
  /// error. For `featx check-hdf5` and the fuzzers, which run libhdf5's parser over untrusted files.
  @discardableResult
  public func readEverySection() -> Error? {
    let few = min(rows, max(0, 4_000_000 / max(dimension, 1)), 8)
    let reads: [() throws -> Void] = [
      { _ = try self.labels() }, { _ = try self.paths() }, { _ = try self.split() }, { _ = try self.skipped() },
      { _ = try self.featureChunkShape() }, { if few > 0 { _ = try self.features(rows: 0..<few) } },
      { if self.rows > 0 { _ = try self.features(rows: (self.rows - 1)..<self.rows) } },
    ]
    var first: Error?
    for read in reads {
      do { try read() } catch { first = first ?? error }
    }
    return first
  }
}
