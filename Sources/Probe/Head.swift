// The head file (HDF5, format "featx-head"): the trained weights, the class names, the metrics, and the
// complete extraction configuration copied from the feature store, so that prediction can never
// silently use another backbone, layer, pooling or preprocessing. docs/FORMAT.md describes it.

import FeatureStore
import Foundation
import Glibc
import HDF5
import Support

/// How well a head does on one part of the data.
public struct SplitMetrics: Codable, Sendable, Equatable {
  public var rows: Int
  public var top1: Double
  public var top5: Double
  /// Mean cross-entropy.
  public var loss: Double

  /// The one place metrics come from logits: top-1, top-5 and mean cross-entropy of `logits` (`rows x
  /// classes`) against `labels`, and the predicted classes (probe's report, evaluate, the training history).
  static func scoring(_ logits: [Float], labels: [Int], classes c: Int) -> (SplitMetrics, predicted: [Int]) {
    let predicted = labels.isEmpty ? [] : Metrics.argmax(logits, classes: c)
    let metrics = SplitMetrics(
      rows: labels.count, top1: Metrics.accuracy(predicted: predicted, labels: labels),
      top5: Metrics.topK(logits, labels: labels, classes: c, k: min(5, c)),
      loss: Softmax.meanCrossEntropy(logits, labels: labels, classes: c))
    return (metrics, predicted)
  }
}

/// Accuracy of one class.
public struct ClassMetric: Codable, Sendable, Equatable {
  public var label: Int
  public var name: String
  public var rows: Int
  public var accuracy: Double
}

/// A row the classifier got wrong, with how sure it was.
public struct Mistake: Codable, Sendable, Equatable {
  /// How many a report keeps (a 6 × 4 grid of pictures).
  public static let limit = 24

  /// Row of the store the scored rows came from.
  public var storeRow: Int
  public var truth: Int
  public var predicted: Int
  /// The probability (or vote share) of `predicted`.
  public var probability: Float

  public init(storeRow: Int, truth: Int, predicted: Int, probability: Float) {
    self.storeRow = storeRow
    self.truth = truth
    self.predicted = predicted
    self.probability = probability
  }

  /// The `limit` wrong rows with the highest probability of their predicted class (fastai's
  /// `plot_top_losses` shows the same rows first); equal probabilities by store row.
  public static func worst(
    probabilities: [Float], predicted: [Int], labels: [Int], storeRows: [Int], classes: Int, limit: Int = Mistake.limit
  ) -> [Mistake] {
    let wrong = labels.indices.filter { predicted[$0] != labels[$0] }.map {
      Mistake(
        storeRow: storeRows[$0], truth: labels[$0], predicted: predicted[$0],
        probability: probabilities[$0 * classes + predicted[$0]])
    }
    return worst(of: wrong, limit: limit)
  }

  /// The `limit` most confident of `mistakes` (the most probable first, then the earlier store row).
  static func worst(of mistakes: [Mistake], limit: Int = Mistake.limit) -> [Mistake] {
    Array(mistakes.sorted { ($0.probability, -$0.storeRow) > ($1.probability, -$1.storeRow) }.prefix(limit))
  }
}

/// Everything `featx probe` reports (and saves in the head).
public struct ProbeReport: Codable, Sendable {
  public var solver: String
  public var lambda: Double?
  public var seconds: Double
  public var dimension: Int
  public var classes: [String]
  public var train: SplitMetrics
  public var test: SplitMetrics?
  /// Per class, on test rows when there are any, else train; worst first.
  public var perClass: [ClassMetric]
  /// `confusion[true][predicted]`, same rows as `perClass`.
  public var confusion: [[Int]]
  /// Which part `perClass` and `confusion` describe.
  public var confusionOf: String
  public var sweep: [SweepPoint]
  public var history: [HistoryPoint]
  /// The most confidently wrong rows of the part `confusionOf` names, most confident first (at most
  /// `Mistake.limit`); nil when the rows have no store rows to point at.
  public var mistakes: [Mistake]?

  /// Top-1/top-5/loss of `model` on `matrix`, its predictions and its mistakes.
  /// Rows scored at once: their logits and probabilities (32 MB each at 1000 classes), never all of an
  /// ImageNet-sized part's (5 GB).
  static let scoringRows = 8192

  static func evaluate(_ model: LinearModel, _ matrix: FeatureMatrix, classes c: Int) throws -> (
    SplitMetrics, [Int], [Mistake]
  ) {
    var predicted: [Int] = []
    var mistakes: [Mistake] = []
    var parts: [SplitMetrics] = []
    try matrix.forEachChunk(maxRows: Self.scoringRows) { range, chunk in
      let logits = try model.logits(chunk, rows: range.count)
      let labels = Array(matrix.labels[range])
      let (metrics, chunkPredicted) = SplitMetrics.scoring(logits, labels: labels, classes: c)
      parts.append(metrics)
      mistakes += Mistake.worst(
        probabilities: Softmax.probabilities(logits, classes: c), predicted: chunkPredicted, labels: labels,
        storeRows: Array(matrix.storeRows[range]), classes: c)
      predicted += chunkPredicted
    }
    // One chunk gives the part's own numbers; several are combined by rows (the accuracies as counts).
    var metrics = parts.first ?? SplitMetrics.scoring([], labels: [], classes: c).0
    if parts.count > 1 {
      let n = Double(matrix.rows)
      func total(_ value: KeyPath<SplitMetrics, Double>) -> Double {
        parts.reduce(0.0) { $0 + $1[keyPath: value] * Double($1.rows) }
      }
      metrics = SplitMetrics(
        rows: matrix.rows, top1: total(\.top1).rounded() / n, top5: total(\.top5).rounded() / n, loss: total(\.loss) / n)
    }
    return (metrics, predicted, Mistake.worst(of: mistakes))
  }

  /// Evaluates `probe` on `data`.
  public init(probe: TrainedProbe, data: ProbeDataset) throws {
    let c = data.classes.count
    let metrics = { (matrix: FeatureMatrix) in try ProbeReport.evaluate(probe.model, matrix, classes: c) }
    let (trainMetrics, trainPredicted, trainMistakes) = try metrics(data.train)
    var detail = (predicted: trainPredicted, labels: data.train.labels, part: "train", mistakes: trainMistakes)
    var testMetrics: SplitMetrics?
    if let test = data.test {
      let (m, testPredicted, testMistakes) = try metrics(test)
      testMetrics = m
      detail = (testPredicted, test.labels, "test", testMistakes)
    }
    self.init(
      solver: probe.settings.solver.rawValue, lambda: probe.lambda, seconds: probe.seconds, dimension: probe.model.dimension,
      classes: data.classes, train: trainMetrics, test: testMetrics, predicted: detail.predicted, labels: detail.labels,
      part: detail.part, sweep: probe.sweep, history: probe.history, mistakes: detail.mistakes)
  }

  /// The report of a classifier that gives class scores without a loss (k-NN's vote shares) on the test
  /// rows `labels` (store rows `storeRows`): top-1, top-5, per class, confusion and mistakes; loss nan.
  public init(
    classifier: String, scores: [Float], labels: [Int], storeRows: [Int], classes: [String], dimension: Int, seconds: Double
  ) {
    let c = classes.count
    let predicted = labels.isEmpty ? [] : Metrics.argmax(scores, classes: c)
    let test = SplitMetrics(
      rows: labels.count, top1: Metrics.accuracy(predicted: predicted, labels: labels),
      top5: Metrics.topK(scores, labels: labels, classes: c, k: min(5, c)), loss: .nan)
    self.init(
      solver: classifier, lambda: nil, seconds: seconds, dimension: dimension, classes: classes,
      train: SplitMetrics(rows: 0, top1: .nan, top5: .nan, loss: .nan), test: test, predicted: predicted, labels: labels,
      part: "test", sweep: [], history: [],
      mistakes: Mistake.worst(
        probabilities: scores, predicted: predicted, labels: labels, storeRows: storeRows, classes: c))
  }

  /// Every field, with per-class accuracy and the confusion matrix computed from `predicted` and `labels`
  /// (the rows of `part`).
  init(
    solver: String, lambda: Double?, seconds: Double, dimension: Int, classes: [String], train: SplitMetrics,
    test: SplitMetrics?, predicted: [Int], labels: [Int], part: String, sweep: [SweepPoint], history: [HistoryPoint],
    mistakes: [Mistake]? = nil
  ) {
    self.mistakes = mistakes
    let c = classes.count
    let matrix = Metrics.confusionMatrix(predicted: predicted, labels: labels, classes: c)
    confusion = matrix
    confusionOf = part
    let accuracy = Metrics.perClassAccuracy(matrix)
    perClass = (0..<c).map {
      ClassMetric(label: $0, name: classes[$0], rows: matrix[$0].reduce(0, +), accuracy: accuracy[$0])
    }
    .filter { $0.rows > 0 }
    .sorted { ($0.accuracy, $0.label) < ($1.accuracy, $1.label) }
    self.solver = solver
    self.lambda = lambda
    self.seconds = seconds
    self.dimension = dimension
    self.classes = classes
    self.train = train
    self.test = test
    self.sweep = sweep
    self.history = history
  }
}

/// A trained head with everything needed to use it.
public struct Head: Sendable {
  public static let formatTag = "featx-head"
  public static let formatVersion: Int64 = 1

  public var model: LinearModel
  public var classes: [String]
  public var classFolders: [String]
  /// The feature store's metadata (backbone, weights, layer, pooling, preprocessing).
  public var extraction: StoreMetadata
  /// Pooling applied at probe time on top of the store's features.
  public var probePool: ProbePool
  public var standardization: Standardization?
  /// The report of `featx probe`, as JSON.
  public var reportJSON: String
  public var featxVersion: String

  public init(
    model: LinearModel, classes: [String], classFolders: [String], extraction: StoreMetadata, probePool: ProbePool,
    standardization: Standardization?, reportJSON: String
  ) {
    self.model = model
    self.classes = classes
    self.classFolders = classFolders
    self.extraction = extraction
    self.probePool = probePool
    self.standardization = standardization
    self.reportJSON = reportJSON
    featxVersion = Support.featxVersion
  }

  /// The pooling of the backbone output that gives this head's input (store pooling, or probe-time pooling).
  public var effectivePooling: String { probePool == .none ? extraction.pooling : probePool.rawValue }

  /// Writes the head atomically (`replaceAtomically`: a temporary file beside `path`, flushed, renamed).
  public func write(to path: String, report: ProbeReport?) throws {
    try replaceAtomically(path) { try storeWrite($0, report: report) }
  }

  private func storeWrite(_ path: String, report: ProbeReport?) throws {
    let file = try H5File(path: path, mode: .createExclusive)
    let root = try file.root()
    let a = root.attributes
    try a.set("format", .string(Head.formatTag))
    try a.set("format_version", .int64(Head.formatVersion))
    try a.set("featx_version", .string(featxVersion))
    try a.set("created", .string(ISO8601DateFormatter().string(from: Date())))
    try a.set("probe_pool", .string(probePool.rawValue))
    try a.set("standardized", .int64(standardization == nil ? 0 : 1))
    try a.set("report", .string(reportJSON))
    try extraction.writeOrigin(to: a, provenancePrefix: "store_")
    try a.set("feature_shape", .int64s(extraction.featureShape.map { Int64($0) }))
    let weights = try root.createDataset("weights", type: .float32, shape: [model.dimension, model.classes])
    try model.weights.withUnsafeBufferPointer { try weights.write($0, rows: 0..<model.dimension) }
    try root.createDataset("bias", values: model.bias)
    try root.createDataset("classes", strings: classes)
    try root.createDataset("class_folders", strings: classFolders)
    if let standardization {
      let group = try root.createGroup("standardization")
      try group.createDataset("mean", values: standardization.mean)
      try group.createDataset("std", values: standardization.std)
    }
    if let report {
      let metrics = try root.createGroup("metrics")
      let c = report.confusion.count
      let confusion = try metrics.createDataset("confusion", type: .int64, shape: [c, c])
      try report.confusion.flatMap { $0.map { Int64($0) } }.withUnsafeBufferPointer { try confusion.write($0, rows: 0..<c) }
      try metrics.attributes.set("confusion_of", .string(report.confusionOf))
      try metrics.attributes.set("train_top1", .float64(report.train.top1))
      try metrics.attributes.set("train_top5", .float64(report.train.top5))
      if let test = report.test {
        try metrics.attributes.set("test_top1", .float64(test.top1))
        try metrics.attributes.set("test_top5", .float64(test.top5))
      }
      let history = try root.createGroup("history")
      let h = report.history
      try history.createDataset("step", values: h.map { Int64($0.step) })
      try history.createDataset("train_loss", values: h.map(\.trainLoss))
      try history.createDataset("train_accuracy", values: h.map(\.trainAccuracy))
      try history.createDataset("test_loss", values: h.map { $0.testLoss ?? .nan })
      try history.createDataset("test_accuracy", values: h.map { $0.testAccuracy ?? .nan })
    }
    try file.flush()
  }

  /// Reads a head.
  ///
  /// - Throws: `ProbeError.notAHead` naming the file for anything that is not a complete featx head.
  public static func read(path: String) throws -> Head {
    guard fileExists(path) else { throw ProbeError.notAHead(path: path, reason: "no such file") }
    guard H5File.isHDF5(path: path) else {
      throw ProbeError.notAHead(
        path: path, reason: "not an HDF5 file; " + (FileSignature.describe(path).map { "it is \($0)" } ?? "no HDF5 signature"))
    }
    do {
      let file = try H5File(path: path, mode: .readOnly)
      let root = try file.root()
      let a = root.attributes
      let tag = try a.get("format")?.stringValue
      guard tag == formatTag else { throw ProbeError.notAHead(path: path, reason: "format tag '\(tag ?? "none")'") }
      let version = try a.get("format_version")?.int64Value ?? 0
      guard version <= formatVersion else {
        throw ProbeError.notAHead(path: path, reason: "written by a newer featx (format_version \(version)); upgrade featx")
      }
      func string(_ key: String) throws -> String {
        guard let v = try a.get(key)?.stringValue else {
          throw ProbeError.notAHead(path: path, reason: "attribute \(key) is missing")
        }
        return v
      }
      let weights = try root.dataset("weights")
      let shape = try weights.shape()
      guard shape.count == 2 else { throw ProbeError.notAHead(path: path, reason: "weights of shape \(shape)") }
      // featx stores the weights uncompressed: a shape the file cannot hold is damage, not a head.
      let (count, overflow) = shape[0].multipliedReportingOverflow(by: shape[1])
      var info = stat()
      stat(path, &info)
      guard !overflow, shape[0] >= 1, shape[1] >= 1, count <= Int(info.st_size) / 4 else {
        throw ProbeError.notAHead(path: path, reason: "weights of shape \(shape) do not fit in the file")
      }
      // Every vector's declared length is checked before it is read: a hostile file may declare billions.
      func vector(_ group: H5Group, _ name: String, count: Int) throws -> H5Dataset {
        let dataset = try group.dataset(name)
        let declared = try dataset.shape()
        guard declared == [count] else {
          throw ProbeError.notAHead(path: path, reason: "\(name) of shape \(declared) does not match weights of shape \(shape)")
        }
        return dataset
      }
      let bias = try vector(root, "bias", count: shape[1]).read(Float.self)
      let classes = try vector(root, "classes", count: shape[1]).readStrings()
      let folders =
        try root.contains("class_folders") ? try vector(root, "class_folders", count: shape[1]).readStrings() : classes
      let model = LinearModel(dimension: shape[0], classes: shape[1], weights: try weights.read(Float.self), bias: bias)
      guard model.weights.allSatisfy(\.isFinite), bias.allSatisfy(\.isFinite) else {
        throw ProbeError.notAHead(path: path, reason: "weights hold NaN or infinite values")
      }
      var standardization: Standardization?
      if try root.contains("standardization") {
        let group = try root.group("standardization")
        standardization = Standardization(
          mean: try vector(group, "mean", count: shape[0]).read(Float.self),
          std: try vector(group, "std", count: shape[0]).read(Float.self))
      }
      guard let poolText = try a.get("probe_pool")?.stringValue, let pool = ProbePool(rawValue: poolText) else {
        throw ProbeError.notAHead(path: path, reason: "attribute probe_pool is missing")
      }
      let extraction = try StoreMetadata.readOrigin(
        from: a, provenancePrefix: "store_", featureShape: (try a.get("feature_shape")?.int64Values ?? []).map { Int($0) },
        missing: { ProbeError.notAHead(path: path, reason: "attribute \($0) is missing") },
        invalid: { ProbeError.notAHead(path: path, reason: $0) })
      var head = Head(
        model: model, classes: classes, classFolders: folders, extraction: extraction, probePool: pool,
        standardization: standardization, reportJSON: try a.get("report")?.stringValue ?? "{}")
      head.featxVersion = try string("featx_version")
      return head
    } catch let error as HDF5Error {
      throw ProbeError.notAHead(path: path, reason: error.description)
    }
  }
}
