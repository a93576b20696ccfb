// The feature-store format, version 1 (docs/FORMAT.md): names, attributes and the metadata value.

import Foundation
import HDF5

/// Names and constants of the feature-store format. docs/FORMAT.md is the prose version of this file.
public enum StoreFormat {
  /// Value of the root attribute `format`.
  public static let tag = "featx-features"
  /// Value of the root attribute `format_version` written by this featx; readers refuse newer ones.
  public static let version: Int64 = 1

  static let features = "features"
  static let labels = "labels"
  static let classes = "classes"
  static let classFolders = "class_folders"
  static let paths = "paths"
  static let split = "split"
  static let skipped = "skipped"
  static let skippedPaths = "paths"
  static let skippedReasons = "reasons"
  /// Per-row progress while a store is being written (absent from complete stores).
  static let rowStatus = "row_status"
  static let featureShape = "feature_shape"
  /// Values of the `precision` attribute of stores and heads (absent: `f32`).
  public static let precisions = ["f32", "bf16"]
}

/// How rows are assigned to the train and test parts.
public enum SplitMode: String, Sendable, Codable, CaseIterable {
  /// numpy's `permutation(N)` with the seed, first `ratio` of it train (the bird workflow).
  case random
  /// The same, per class.
  case stratified
  /// Every row is train.
  case none
  /// From the dataset's split folders (`train/`, `val/` or `test/`, each holding class folders).
  case folders
}

/// Which split folders a `split_mode = folders` store was made from (the root attribute `split_folders`).
public struct SplitFolderRecord: Sendable, Codable, Equatable {
  /// The folder whose images are train (e.g. `train`), if any.
  public var train: String?
  /// The folder whose images are test (e.g. `val`), if any.
  public var test: String?
  /// Split folders whose images were not extracted (e.g. `test` when `val` is the test part).
  public var leftOut: [String]

  public init(train: String?, test: String?, leftOut: [String] = []) {
    self.train = train
    self.test = test
    self.leftOut = leftOut
  }

  enum CodingKeys: String, CodingKey {
    case train, test
    case leftOut = "left_out"
  }

  /// The attribute's JSON text, e.g. `{"left_out":["test"],"test":"val","train":"train"}`.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// Parses the attribute's JSON text; nil if it is not such a record.
  public static func parse(_ json: String) -> SplitFolderRecord? {
    try? JSONDecoder().decode(SplitFolderRecord.self, from: Data(json.utf8))
  }

  /// `train/ → train, val/ → test (left out: test/)`.
  public var summary: String {
    var parts: [String] = []
    if let train { parts.append("\(train)/ → train") }
    if let test { parts.append("\(test)/ → test") }
    var text = parts.joined(separator: ", ")
    if !leftOut.isEmpty { text += " (left out: \(leftOut.map { $0 + "/" }.joined(separator: ", ")))" }
    return text
  }
}

/// Stored element type of `/features`.
public enum FeatureDType: String, Sendable, Codable, CaseIterable {
  case float32, float16

  var element: H5ElementType { self == .float32 ? .float32 : .float16 }
  /// Bytes of one stored value.
  public var bytes: Int { self == .float32 ? 4 : 2 }
}

/// Values of `/split`.
public enum SplitPart: UInt8, Sendable {
  case train = 0
  case test = 1
}

/// Everything a store records about how its features were made (the root attributes).
public struct StoreMetadata: Sendable, Equatable {
  /// featx version that wrote the store.
  public var featxVersion: String
  /// Backbone architecture, e.g. `densenet121`.
  public var arch: String
  /// Weights file name (or `random:SEED` for seeded random weights).
  public var weightsFile: String
  /// sha256 of the weights file (hex), or `random:SEED`.
  public var weightsSHA256: String
  /// Output layer of the backbone, e.g. `features`, `avgpool`.
  public var layer: String
  /// Pooling of that layer: `flatten`, `avg` or `max`.
  public var pooling: String
  /// JSON text of every preprocessing parameter.
  public var preprocess: String
  /// How train/test were assigned.
  public var splitMode: SplitMode
  /// Seed of the split permutation.
  public var splitSeed: Int64
  /// Fraction of rows that are train.
  public var splitRatio: Double
  /// Creation time, ISO 8601 UTC.
  public var created: String
  /// Dataset root the paths are relative to (informational).
  public var source: String
  /// Shape of one feature vector before flattening, e.g. [1024, 7, 7].
  public var featureShape: [Int]
  /// `k/N` when this store holds shard k of N, else empty.
  public var shard: String
  /// First row of the whole dataset that this store holds (0 unless sharded).
  public var shardStart: Int
  /// Number of rows of the whole dataset (equals the store's rows unless sharded).
  public var datasetRows: Int
  /// The split folders of a `split_mode = folders` store (nil otherwise).
  public var splitFolders: SplitFolderRecord?
  /// The numbers of the backbone: `f32` (absent in stores written before bf16 existed) or `bf16`.
  public var precision = "f32"
  /// Absolute path of the weights file at extraction: empty for seeded random weights, nil when unknown
  /// (stores and heads written before featx recorded it).
  public var weightsPath: String?

  public init(
    featxVersion: String, arch: String, weightsFile: String, weightsSHA256: String, layer: String,
    pooling: String, preprocess: String, splitMode: SplitMode, splitSeed: Int64, splitRatio: Double,
    created: String, source: String, featureShape: [Int], shard: String = "", shardStart: Int = 0,
    datasetRows: Int = 0, splitFolders: SplitFolderRecord? = nil
  ) {
    self.featxVersion = featxVersion
    self.arch = arch
    self.weightsFile = weightsFile
    self.weightsSHA256 = weightsSHA256
    self.layer = layer
    self.pooling = pooling
    self.preprocess = preprocess
    self.splitMode = splitMode
    self.splitSeed = splitSeed
    self.splitRatio = splitRatio
    self.created = created
    self.source = source
    self.featureShape = featureShape
    self.shard = shard
    self.shardStart = shardStart
    self.datasetRows = datasetRows
    self.splitFolders = splitFolders
  }

  /// Number of values per row.
  public var dimension: Int { featureShape.reduce(1, *) }

  /// True when the weights were seeded random ones, not a real checkpoint.
  public var usesRandomWeights: Bool { weightsSHA256.hasPrefix("random") }

  /// The string attributes that say where features came from, shared by stores and the heads trained on
  /// them. A head prefixes the store's own provenance (`store_featx_version`, `store_created`,
  /// `store_source`), since its `featx_version` and `created` are its own. `source` and `precision` may be
  /// absent (the initial values stand: empty, and float32 for files written before bf16 existed).
  private static var originAttributes:
    [(name: String, value: WritableKeyPath<StoreMetadata, String>, isProvenance: Bool, isRequired: Bool)]
  {
    [
      ("featx_version", \.featxVersion, true, true), ("arch", \.arch, false, true),
      ("weights_file", \.weightsFile, false, true), ("weights_sha256", \.weightsSHA256, false, true),
      ("layer", \.layer, false, true), ("pooling", \.pooling, false, true), ("preprocess", \.preprocess, false, true),
      ("created", \.created, true, true), ("source", \.source, true, false), ("precision", \.precision, false, false),
    ]
  }

  /// Writes the origin attributes (`originAttributes`, then `weights_path` when known): all of a head's
  /// record of its store, and the first part of a store's root attributes.
  public func writeOrigin(to a: H5Attributes, provenancePrefix: String = "") throws {
    for (name, value, isProvenance, _) in Self.originAttributes {
      try a.set((isProvenance ? provenancePrefix : "") + name, .string(self[keyPath: value]))
    }
    if let weightsPath { try a.set("weights_path", .string(weightsPath)) }
  }

  /// Reads what `writeOrigin` wrote, with `featureShape` (kept on `features` in a store, on the root in a
  /// head) and no split. `missing(name)` and `invalid(reason)` are the caller's errors.
  public static func readOrigin(
    from a: H5Attributes, provenancePrefix: String = "", featureShape: [Int], missing: (String) -> Error,
    invalid: (String) -> Error
  ) throws -> StoreMetadata {
    var metadata = StoreMetadata(
      featxVersion: "", arch: "", weightsFile: "", weightsSHA256: "", layer: "", pooling: "", preprocess: "",
      splitMode: .none, splitSeed: 0, splitRatio: 0, created: "", source: "", featureShape: featureShape)
    for (name, value, isProvenance, isRequired) in originAttributes {
      let key = (isProvenance ? provenancePrefix : "") + name
      if let text = try a.get(key)?.stringValue {
        metadata[keyPath: value] = text
      } else if isRequired {
        throw missing(key)
      }
    }
    metadata.weightsPath = try a.get("weights_path")?.stringValue
    guard StoreFormat.precisions.contains(metadata.precision) else { throw invalid("unknown precision '\(metadata.precision)'") }
    return metadata
  }

  func write(to root: H5Group) throws {
    let a = root.attributes
    try a.set("format", .string(StoreFormat.tag))
    try a.set("format_version", .int64(StoreFormat.version))
    try writeOrigin(to: a)
    try a.set("split_mode", .string(splitMode.rawValue))
    try a.set("split_seed", .int64(splitSeed))
    try a.set("split_ratio", .float64(splitRatio))
    try a.set("shard", .string(shard))
    try a.set("shard_start", .int64(Int64(shardStart)))
    try a.set("dataset_rows", .int64(Int64(datasetRows)))
    if let splitFolders { try a.set("split_folders", .string(splitFolders.json)) }
  }

  static func read(from root: H5Group, features: H5Dataset, path: String) throws -> StoreMetadata {
    let a = root.attributes
    guard let shape = try features.attributes.get(StoreFormat.featureShape)?.int64Values else {
      throw FeatureStoreError.missingAttribute(path: path, name: "features/feature_shape")
    }
    var metadata = try readOrigin(
      from: a, featureShape: shape.map { Int($0) }, missing: { FeatureStoreError.missingAttribute(path: path, name: $0) },
      invalid: { FeatureStoreError.invalid(path: path, reason: $0) })
    guard let mode = try a.get("split_mode")?.stringValue else {
      throw FeatureStoreError.missingAttribute(path: path, name: "split_mode")
    }
    guard let splitMode = SplitMode(rawValue: mode) else {
      throw FeatureStoreError.invalid(path: path, reason: "unknown split_mode '\(mode)'")
    }
    guard let seed = try a.get("split_seed")?.int64Value else {
      throw FeatureStoreError.missingAttribute(path: path, name: "split_seed")
    }
    if let text = try a.get("split_folders")?.stringValue {
      guard let record = SplitFolderRecord.parse(text) else {
        throw FeatureStoreError.invalid(path: path, reason: "split_folders is not a JSON record of split folders: \(text)")
      }
      metadata.splitFolders = record
    }
    metadata.splitMode = splitMode
    metadata.splitSeed = seed
    metadata.splitRatio = try a.get("split_ratio")?.float64Value ?? 0
    metadata.shard = try a.get("shard")?.stringValue ?? ""
    metadata.shardStart = Int(try a.get("shard_start")?.int64Value ?? 0)
    metadata.datasetRows = Int(try a.get("dataset_rows")?.int64Value ?? 0)
    return metadata
  }
}

/// A feature store could not be read or written. The description names the file and what to do.
public enum FeatureStoreError: Error, CustomStringConvertible, Equatable {
  case missingFile(path: String)
  /// Not an HDF5 file; `looksLike` says what it is, when its first bytes tell ("a PNG image").
  case notHDF5(path: String, looksLike: String?)
  case wrongFormat(path: String, found: String)
  case newerVersion(path: String, version: Int64)
  case missingDataset(path: String, name: String)
  case missingAttribute(path: String, name: String)
  case invalid(path: String, reason: String)
  /// A value in a dataset that the format does not allow (e.g. a label that names no class); `row` is the
  /// first such row.
  case badValue(path: String, dataset: String, row: Int, reason: String)
  case incomplete(path: String, rowsComplete: Int, rows: Int)
  case hdf5(HDF5Error)

  public var description: String {
    switch self {
    case .missingFile(let path):
      "\(path): no such file. Check the path, or create a store with `featx extract DATASET -o \(path)`."
    case .notHDF5(let path, let looksLike):
      "\(path): not an HDF5 file (\(looksLike.map { "it is \($0)" } ?? "no HDF5 signature")). "
        + "Pass a feature store written by `featx extract`."
    case .wrongFormat(let path, let found):
      "\(path): not a featx feature store (format tag '\(found)', expected '\(StoreFormat.tag)'). "
        + "Pass a file written by `featx extract`."
    case .newerVersion(let path, let version):
      "\(path): written by a newer featx (format_version \(version); this featx reads up to \(StoreFormat.version)). "
        + "Upgrade featx to read it."
    case .missingDataset(let path, let name):
      "\(path): damaged feature store, dataset '/\(name)' is missing. Re-run `featx extract` to rebuild it."
    case .missingAttribute(let path, let name):
      "\(path): damaged feature store, attribute '\(name)' is missing. Re-run `featx extract` to rebuild it."
    case .invalid(let path, let reason):
      "\(path): damaged feature store: \(reason). Re-run `featx extract` to rebuild it."
    case .badValue(let path, let dataset, let row, let reason):
      "\(path): /\(dataset) row \(row) \(reason). Fix the program that wrote this store (docs/FORMAT.md), or re-run `featx extract`."
    case .incomplete(let path, let done, let rows):
      "\(path): extraction is incomplete (\(done) of \(rows) rows). Resume it by running the same `featx extract` command again."
    case .hdf5(let error):
      error.description
    }
  }
}

/// Runs `body`, turning HDF5 errors into `FeatureStoreError.hdf5`.
func storeCall<T>(_ body: () throws -> T) throws -> T {
  do { return try body() } catch let error as HDF5Error { throw FeatureStoreError.hdf5(error) }
}
