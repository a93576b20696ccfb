// Scoring a linear head on rows it was not trained on: a head on any labelled store (`featx evaluate`), a
// probe on another store (`featx probe --test`), a head on labelled images (`featx predict` on a folder
// tree). The rows must come from features made the same way as the head's (arch, weights, layer, pooling,
// preprocessing, precision, feature shape), and their classes must be classes the head knows (matched by
// class folder, then by name); the report is probe's, computed by the same code.

import DNNL
import FeatureStore
import Foundation
import Support

extension Head {
  /// The head's index of a class folder: matched by folder name, else by class (display) name; nil when
  /// the head does not know the class.
  public func classIndex(folder: String, name: String) -> Int? {
    classFolders.firstIndex(of: folder) ?? classes.firstIndex(of: name)
  }
}

/// Labelled predictions of one part of the scored rows: logits `rows x classes` and true labels.
public struct ScoredRows: Sendable {
  public var logits: [Float]
  public var labels: [Int]
  /// The store row of each scored row (nil: rows that are not in a store, such as images).
  public var storeRows: [Int]?

  public init(logits: [Float], labels: [Int], storeRows: [Int]? = nil) {
    self.logits = logits
    self.labels = labels
    self.storeRows = storeRows
  }
}

extension ProbeReport {
  /// The report of `model` on rows it was not trained on (no solver, sweep or history): `train` and `test`
  /// are the parts the rows came from (a store's split, or split folders), either may be absent; per-class
  /// accuracy and the confusion matrix describe test when there is a test part, else train.
  public init(scored train: ScoredRows?, test: ScoredRows?, classes: [String], dimension: Int, seconds: Double) {
    let c = classes.count
    func metrics(_ s: ScoredRows) -> (SplitMetrics, [Int]) { SplitMetrics.scoring(s.logits, labels: s.labels, classes: c) }
    let none = SplitMetrics(rows: 0, top1: .nan, top5: .nan, loss: .nan)
    let trainPart = train.map(metrics)
    let testPart = test.map(metrics)
    let detail =
      testPart.map { ($0.1, test!, "test") } ?? trainPart.map { ($0.1, train!, "train") }
      ?? ([], ScoredRows(logits: [], labels: []), "test")
    let mistakes = detail.1.storeRows.map {
      Mistake.worst(
        probabilities: Softmax.probabilities(detail.1.logits, classes: c), predicted: detail.0, labels: detail.1.labels,
        storeRows: $0, classes: c)
    }
    self.init(
      solver: "evaluate", lambda: nil, seconds: seconds, dimension: dimension, classes: classes,
      train: trainPart?.0 ?? none, test: testPart?.0, predicted: detail.0, labels: detail.1.labels, part: detail.2,
      sweep: [], history: [], mistakes: mistakes)
  }

  /// The report of `model` on the labelled rows of `matrices`, computed exactly as `featx probe` computes
  /// its own (`ProbeReport.evaluate`: the same logits, scored in the same chunks, so an ImageNet-sized part
  /// never has all its logits in memory at once).
  public init(evaluating model: LinearModel, train: FeatureMatrix?, test: FeatureMatrix?, classes: [String], seconds: Double)
    throws
  {
    typealias Part = (metrics: SplitMetrics, predicted: [Int], mistakes: [Mistake], labels: [Int], name: String)
    func scored(_ m: FeatureMatrix?, _ name: String) throws -> Part? {
      guard let m, m.rows > 0 else { return nil }
      let (metrics, predicted, mistakes) = try ProbeReport.evaluate(model, m, classes: classes.count)
      return (metrics, predicted, mistakes, m.labels, name)
    }
    let trainPart = try scored(train, "train")
    let testPart = try scored(test, "test")
    // Per class, confusion and mistakes describe test when there is a test part, else train.
    let detail = testPart ?? trainPart
    self.init(
      solver: "evaluate", lambda: nil, seconds: seconds, dimension: model.dimension, classes: classes,
      train: trainPart?.metrics ?? SplitMetrics(rows: 0, top1: .nan, top5: .nan, loss: .nan), test: testPart?.metrics,
      predicted: detail?.predicted ?? [], labels: detail?.labels ?? [], part: detail?.name ?? "test", sweep: [], history: [],
      mistakes: detail?.mistakes)
  }
}

/// The rows of a feature store in another class list's indices, checked against an extraction fingerprint.
struct MappedStore {
  var store: FeatureStore
  /// Per store row: the index among the reference classes (-1: unlabelled).
  var labels: [Int]
  var split: [UInt8]

  /// Opens `path` for scoring against `reference` (a head or a training store, named in messages).
  static func open(
    _ path: String, reference: String, expected: StoreMetadata, classes: [String], classFolders: [String], pool: ProbePool
  ) throws -> MappedStore {
    let store = try FeatureStore(path: path)
    try store.requireComplete()
    if let d = expected.differences(from: store.metadata, in: \.featureFingerprint).first {
      throw ProbeError.fingerprintMismatch(
        reference: reference, store: path, setting: d.setting, expected: d.expected, found: d.found)
    }
    let shape = store.metadata.featureShape
    if pool != .none, shape.count != 3 {
      throw ProbeError.invalidSetting(
        .pooling, reason: "\(pool.rawValue) pooling needs a flattened [C, H, W] store; \(path) holds \(shape)")
    }
    let raw = try store.labels()
    guard raw.contains(where: { $0 >= 0 }) else { throw ProbeError.nothingToScore(path: path) }
    // Class by class folder, else by display name.
    var index: [Int] = []
    var unknown: [String] = []
    let used = Set(raw.filter { $0 >= 0 }.map { Int($0) })
    for i in store.classes.indices {
      if let j = classFolders.firstIndex(of: store.classFolders[i]) ?? classes.firstIndex(of: store.classes[i]) {
        index.append(j)
      } else {
        index.append(-1)
        if used.contains(i) { unknown.append(store.classFolders[i]) }
      }
    }
    guard unknown.isEmpty else {
      throw ProbeError.unknownClasses(store: path, reference: reference, classes: unknown, known: classes.count)
    }
    return MappedStore(store: store, labels: raw.map { $0 >= 0 ? index[Int($0)] : -1 }, split: try store.split())
  }

  /// Rows `rows` as a matrix (in memory, or streamed from the file when `stream`).
  func matrix(_ rows: [Int], pool: ProbePool, stream: Bool) throws -> FeatureMatrix {
    let shape = store.metadata.featureShape
    let streamed = FeatureMatrix(streaming: store, storeRows: rows, labels: rows.map { labels[$0] }, pool: pool, mapShape: shape)
    if stream { return streamed }
    return FeatureMatrix(values: try streamed.values(), dimension: streamed.dimension, labels: streamed.labels, storeRows: rows)
  }

  /// Labelled rows of one split part (nil: every part).
  func rows(_ part: SplitPart?) -> [Int] {
    labels.indices.filter { labels[$0] >= 0 && (part == nil || split[$0] == part!.rawValue) }
  }

  func bytes(_ rows: Int, pool: ProbePool) -> Int {
    rows * (pool == .none ? store.dimension : store.metadata.featureShape[0]) * 4
  }
}

extension ProbeDataset {
  /// This training data with every labelled row of the store at `path` as its test rows (`featx probe
  /// --test`): features made the same way as the training store's, classes among its classes.
  public func testing(on path: String, maxMemory: Int? = nil) throws -> ProbeDataset {
    guard let training = store else {
      throw ProbeError.invalidSetting(.validationFraction, reason: "rows built in memory have no store to compare with")
    }
    let other = try MappedStore.open(
      path, reference: training.path, expected: training.metadata, classes: classes, classFolders: training.classFolders,
      pool: pool)
    let rows = other.rows(nil)
    let budget = maxMemory ?? ProbeDataset.defaultMemoryBudget
    let test = try other.matrix(rows, pool: pool, stream: other.bytes(rows.count, pool: pool) > budget)
    guard test.dimension == train.dimension else {
      throw ProbeError.dimensionMismatch(head: training.path, expected: train.dimension, got: test.dimension)
    }
    return ProbeDataset(
      store: training, train: train, test: test, classes: classes, featureShape: featureShape, pool: pool)
  }
}

/// `featx evaluate`: a head's report on a labelled store.
public enum Evaluation {
  /// Scores `head` on the labelled rows of the store at `storePath`, part by part (its train and test rows).
  ///
  /// - Throws: `ProbeError.fingerprintMismatch` naming the first setting in which the store's features
  ///   were made differently from the head's; `ProbeError.nothingToScore` for an unlabelled store;
  ///   `ProbeError.unknownClasses` for rows of classes the head does not know.
  public static func report(
    head: Head, headPath: String, storePath: String, maxMemory: Int? = nil, threads: Int = 0
  ) throws -> (report: ProbeReport, store: StoreMetadata) {
    let rows = try load(head: head, headPath: headPath, storePath: storePath, maxMemory: maxMemory)
    return (try score(rows, head: head, threads: threads), rows.store)
  }

  /// The labelled rows of a store to score, in memory or streamed from the file.
  public struct Rows {
    public let train: FeatureMatrix
    public let test: FeatureMatrix
    public let store: StoreMetadata
    let started: Date
  }

  /// `report`'s first step: checks the store against the head and reads its rows (in memory when they fit
  /// in `maxMemory`, default 70 % of the memory available, else streamed by `score`).
  public static func load(head: Head, headPath: String, storePath: String, maxMemory: Int? = nil) throws -> Rows {
    let started = Date()
    let mapped = try MappedStore.open(
      storePath, reference: headPath, expected: head.extraction, classes: head.classes, classFolders: head.classFolders,
      pool: head.probePool)
    let trainRows = mapped.rows(.train)
    let testRows = mapped.rows(.test)
    let budget = maxMemory ?? ProbeDataset.defaultMemoryBudget
    let stream = mapped.bytes(trainRows.count + testRows.count, pool: head.probePool) > budget
    let train = try mapped.matrix(trainRows, pool: head.probePool, stream: stream)
    let test = try mapped.matrix(testRows, pool: head.probePool, stream: stream)
    guard train.dimension == head.model.dimension else {
      throw ProbeError.dimensionMismatch(head: headPath, expected: head.model.dimension, got: train.dimension)
    }
    return Rows(train: train, test: test, store: mapped.store.metadata, started: started)
  }

  /// `report`'s second step: the head's report on the rows `load` read.
  public static func score(_ rows: Rows, head: Head, threads: Int = 0) throws -> ProbeReport {
    func scored() throws -> ProbeReport {
      try ProbeReport(evaluating: head.model, train: rows.train, test: rows.test, classes: head.classes, seconds: 0)
    }
    // The default thread count is probe's own when it reports, so the numbers are the very same.
    var report = threads > 0 ? try GEMM.withThreads(threads, scored) : try scored()
    report.seconds = Date().timeIntervalSince(rows.started)
    return report
  }

}
