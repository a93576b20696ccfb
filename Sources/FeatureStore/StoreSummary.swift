/// Counts and settings of a feature store, as shown by `featx info` (and its `--json`).
public struct StoreSummary: Codable, Sendable, Equatable {
  /// Rows and split sizes of one class.
  public struct ClassCount: Codable, Sendable, Equatable {
    public var label: Int
    public var name: String
    public var folder: String
    public var rows: Int
    public var train: Int
    public var test: Int
  }

  public var path: String
  public var format: String
  public var formatVersion: Int64
  public var featxVersion: String
  public var complete: Bool
  public var rows: Int
  public var rowsComplete: Int
  public var dimension: Int
  public var featureShape: [Int]
  public var dtype: String
  public var arch: String
  public var weightsFile: String
  public var weightsSHA256: String
  /// Absolute path of the weights file at extraction (empty for random weights; absent when not recorded).
  public var weightsPath: String?
  public var randomWeights: Bool
  public var layer: String
  public var pooling: String
  /// `f32` or `bf16`: the numbers the backbone computed in.
  public var precision: String
  public var preprocess: String
  public var splitMode: String
  public var splitSeed: Int64
  public var splitRatio: Double
  /// The split folders of a `folders` store (absent otherwise).
  public var splitFolders: SplitFolderRecord?
  public var train: Int
  public var test: Int
  public var unlabelled: Int
  public var classes: [ClassCount]
  public var skipped: [String: String]
  public var created: String
  public var source: String
  public var shard: String

  /// Summarises `store` (reads labels, split and the skipped list; not the features).
  public init(_ store: FeatureStore) throws {
    let m = store.metadata
    let labels = try store.labels()
    let split = try store.split()
    var counts = store.classes.indices.map {
      ClassCount(label: $0, name: store.classes[$0], folder: store.classFolders[$0], rows: 0, train: 0, test: 0)
    }
    var train = 0
    var test = 0
    var unlabelled = 0
    for (label, part) in zip(labels, split) {
      let isTrain = part == SplitPart.train.rawValue
      if isTrain { train += 1 } else { test += 1 }
      guard label >= 0, Int(label) < counts.count else {
        unlabelled += 1
        continue
      }
      counts[Int(label)].rows += 1
      if isTrain { counts[Int(label)].train += 1 } else { counts[Int(label)].test += 1 }
    }
    path = store.path
    format = StoreFormat.tag
    formatVersion = store.formatVersion
    featxVersion = m.featxVersion
    complete = store.isComplete
    rows = store.rows
    rowsComplete = store.rowsComplete
    dimension = store.dimension
    featureShape = m.featureShape
    dtype = store.dtype.rawValue
    arch = m.arch
    weightsFile = m.weightsFile
    weightsSHA256 = m.weightsSHA256
    weightsPath = m.weightsPath
    randomWeights = m.usesRandomWeights
    layer = m.layer
    precision = m.precision
    pooling = m.pooling
    preprocess = m.preprocess
    splitMode = m.splitMode.rawValue
    splitSeed = m.splitSeed
    splitRatio = m.splitRatio
    splitFolders = m.splitFolders
    self.train = train
    self.test = test
    self.unlabelled = unlabelled
    classes = counts
    skipped = Dictionary(try store.skipped().map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
    created = m.created
    source = m.source
    shard = m.shard
  }
}
