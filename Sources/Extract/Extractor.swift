// `featx extract`: walk → split → (shard) → decode + preprocess on a helper thread, overlapping the
// backbone on the others → commit row batches to the feature store → finish. Resumes an interrupted
// store made with the same configuration; refuses one made with another.

import Backbones
import Images
import Dispatch
import FeatureStore
import Foundation
import Support

/// Everything `featx extract` needs besides the backbone.
public struct ExtractOptions: Sendable {
  /// Dataset folder (ImageFolder layout, split folders or a flat folder), or the root the list's paths are
  /// relative to.
  public var root: String
  /// A CSV list of `path,label` instead of walking `root`.
  public var listFile: String?
  /// The feature store to write.
  public var output: String
  public var preprocessing: Preprocessing
  public var split: SplitConfig
  public var classOrder: ClassOrder = .folder
  /// Which split folder is the test part when the dataset has both a validation and a test folder (nil: the
  /// validation folder).
  public var testSplit: TestSplitChoice?
  /// Images per backbone batch (and per committed row batch).
  public var batchSize = 32
  public var dtype: FeatureDType = .float32
  /// Extract shard `index` of `count` (contiguous row ranges; `featx merge` joins them).
  public var shard: (index: Int, count: Int)?
  /// Fail on the first unreadable image instead of skipping it.
  public var strict = false
  /// Replace an existing output instead of resuming or refusing.
  public var overwrite = false
  /// Decompression-bomb guard (width × height).
  public var maxPixels = ImageDecoder.defaultMaxPixels

  public init(root: String, output: String, preprocessing: Preprocessing, split: SplitConfig) {
    self.root = root
    self.output = output
    self.preprocessing = preprocessing
    self.split = split
  }
}

/// Where extraction stands, for progress displays.
public struct ExtractProgress: Sendable {
  /// Rows committed (written or skipped), counting rows of earlier runs.
  public var done: Int
  /// Rows of this store.
  public var total: Int
  /// Rows this run started at (0 unless resumed).
  public var startedAt: Int
  public var skipped: Int
  /// Seconds since this run started.
  public var elapsed: Double

  /// Images per second in this run.
  public var rate: Double { elapsed > 0 ? Double(done - startedAt) / elapsed : 0 }
  /// Estimated seconds left.
  public var remaining: Double? { rate > 0 ? Double(total - done) / rate : nil }
}

/// What an extraction did.
public struct ExtractSummary: Sendable {
  public var output: String
  /// Rows in the finished store.
  public var rows: Int
  public var train: Int
  public var test: Int
  public var skipped: [(path: String, reason: String)]
  public var ignored: [IgnoredFile]
  public var seconds: Double
  /// Images processed by this run (not counting rows an earlier run committed).
  public var processed: Int
  public var resumedFrom: Int
  /// True if the store was already complete with this configuration (nothing was done).
  public var alreadyComplete: Bool
  public var featureShape: [Int]
  /// The split folders the dataset was made of (nil for other layouts).
  public var splitFolders: SplitFolders?
}

/// An extraction's plan: what `run` will read and write.
public struct ExtractPlan: Sendable {
  public var dataset: Dataset
  /// The split part of every dataset item.
  public var split: [UInt8]
  /// The row range of every shard (one range without sharding).
  public var shards: [Range<Int>]
  /// The rows of this run's store.
  public var rows: StoreRows
  public var metadata: StoreMetadata
  public var dtype: FeatureDType

  /// Shard `index` of `count`: contiguous ranges, the last rows spread as integer division does.
  public static func shardRange(_ index: Int, of count: Int, rows: Int) -> Range<Int> {
    (index * rows / count)..<((index + 1) * rows / count)
  }

  /// Bytes of the store's features: values per image × bytes per value × rows (without the small
  /// path, label and split datasets).
  public var featureBytes: Int { metadata.featureShape.reduce(1, *) * dtype.bytes * rows.paths.count }

  /// The same with `--pool avg` or `max` (one value per channel of a `[C, H, W]` map); nil for other shapes.
  public var pooledFeatureBytes: Int? {
    metadata.featureShape.count == 3 ? metadata.featureShape[0] * dtype.bytes * rows.paths.count : nil
  }
}

/// Extracts a dataset's features into a feature store.
public final class Extractor {
  public let options: ExtractOptions
  public let backbone: Backbone
  /// `weights_file` recorded in the store (a file name, or `random:SEED`).
  public let weightsName: String

  public init(options: ExtractOptions, backbone: Backbone, weightsName: String) throws {
    try options.preprocessing.validate()
    guard options.batchSize > 0 else { throw ExtractError.invalidBatchSize(options.batchSize) }
    self.options = options
    self.backbone = backbone
    self.weightsName = weightsName
  }

  /// Runs the extraction.
  ///
  /// - Parameters:
  ///   - progress: called after every committed batch.
  ///   - interruption: polled between batches; a non-nil signal number stops the run (the store keeps
  ///     every committed row and can be resumed) with `ExtractError.interrupted`.
  public func run(progress: (ExtractProgress) -> Void = { _ in }, interruption: () -> Int32? = { nil }) throws -> ExtractSummary {
    let started = Date()
    let plan = try plan(started: started)
    let (dataset, rows, metadata) = (plan.dataset, plan.rows, plan.metadata)

    var summary = ExtractSummary(
      output: options.output, rows: 0, train: 0, test: 0, skipped: [], ignored: dataset.ignored, seconds: 0, processed: 0,
      resumedFrom: 0, alreadyComplete: false, featureShape: metadata.featureShape, splitFolders: dataset.splitFolders)
    guard let writer = try openOutput(metadata: metadata, rows: rows, summary: &summary) else {
      summary.seconds = Date().timeIntervalSince(started)
      return summary
    }
    summary.resumedFrom = writer.rowsComplete

    // Reasons of rows an earlier run skipped are found again by decoding those files once more.
    var reasons: [Int: String] = [:]
    let decoder = ImageDecoder(maxPixels: options.maxPixels)
    for row in try writer.skippedRows() {
      do { _ = try options.preprocessing.pixels(ofFileAt: options.root + "/" + rows.paths[row], decoder: decoder) } catch {
        reasons[row] = (error as? ImageError)?.reason ?? "\(error)"
      }
    }

    var pipeline = FeaturePipeline(backbone: backbone, preprocessing: options.preprocessing)
    (pipeline.parallelism, pipeline.maxPixels) = (.perImage, options.maxPixels)
    var start = writer.rowsComplete
    var skippedCount = reasons.count
    try pipeline.run(rows.paths.map { options.root + "/" + $0 }, from: start, batchSize: options.batchSize) { batch, output in
      if options.strict, let failure = batch.failures.first { throw ExtractError.badImage(failure.value) }
      let next = batch.range.upperBound
      let flags = batch.range.map { batch.failures[$0] != nil }
      try output.withUnsafeBufferPointer { try writer.commit(count: batch.range.count, values: $0, skipped: flags) }
      for (row, error) in batch.failures { reasons[row] = error.reason }
      skippedCount += batch.failures.count
      summary.processed += batch.range.count
      start = next
      progress(
        ExtractProgress(
          done: start, total: rows.count, startedAt: summary.resumedFrom, skipped: skippedCount,
          elapsed: Date().timeIntervalSince(started)))
      if let signal = interruption() {
        throw ExtractError.interrupted(path: options.output, rowsComplete: start, rows: rows.count, signal: signal)
      }
      return true
    }
    if !rows.paths.isEmpty, reasons.count == rows.paths.count, let first = reasons.keys.min() {
      // Not one image could be read: an empty store would pass for a successful run.
      writer.abandon()
      throw ExtractError.noReadableImage(
        root: options.listFile ?? options.root, count: rows.paths.count, first: rows.paths[first], reason: reasons[first] ?? "")
    }
    summary.rows = try writer.finish(skipReasons: reasons)
    let skippedRows = reasons.keys.sorted()
    summary.skipped = skippedRows.map { (rows.paths[$0], reasons[$0]!) }
    let kept = Set(0..<rows.count).subtracting(skippedRows)
    summary.train = kept.filter { rows.split[$0] == SplitPart.train.rawValue }.count
    summary.test = kept.count - summary.train
    summary.seconds = Date().timeIntervalSince(started)
    return summary
  }

  /// What an extraction will do, before any image is decoded or anything written (`extract --dry-run`,
  /// and the first step of `run`): the dataset walked, split and cut to the shard, and the store's
  /// metadata.
  ///
  /// - Throws: `ExtractError.dataset` for a dataset without images; whatever the walk or the split refuses.
  public func plan(started: Date = Date()) throws -> ExtractPlan {
    let dataset =
      try options.listFile.map { try DatasetWalk.list($0, root: options.root) }
      ?? DatasetWalk.folder(options.root, classOrder: options.classOrder, testSplit: options.testSplit)
    // The split is checked before the images are counted: a refused split is the more useful message.
    let split = try options.split.assign(dataset, source: options.listFile ?? options.root)
    guard !dataset.items.isEmpty else {
      throw ExtractError.dataset(path: options.listFile ?? options.root, reason: "no JPEG or PNG images found")
    }
    let all = dataset.items.count
    let shards = (0..<(options.shard?.count ?? 1)).map { ExtractPlan.shardRange($0, of: options.shard?.count ?? 1, rows: all) }
    let range = shards[options.shard?.index ?? 0]
    let rows = StoreRows(
      classes: dataset.classes, classFolders: dataset.classFolders, paths: range.map { dataset.items[$0].relativePath },
      labels: range.map { dataset.items[$0].label }, split: range.map { split[$0] })
    guard let size = options.preprocessing.fixedSize else {
      throw PreprocessingError(parameter: .crop, reason: "no fixed input size")
    }
    var metadata = StoreMetadata(
      featxVersion: featxVersion, arch: backbone.name, weightsFile: weightsName, weightsSHA256: backbone.weights.sha256,
      layer: backbone.layer, pooling: backbone.pooling.rawValue, preprocess: options.preprocessing.json,
      splitMode: options.split.mode, splitSeed: Int64(options.split.seed),
      splitRatio: options.split.mode == .folders
        ? Double(split.filter { $0 == SplitPart.train.rawValue }.count) / Double(max(1, split.count)) : options.split.ratio,
      created: ISO8601DateFormatter().string(from: started), source: absolutePath(options.root),
      featureShape: try backbone.outputShape(height: size.height, width: size.width),
      shard: options.shard.map { "\($0.index)/\($0.count)" } ?? "", shardStart: range.lowerBound, datasetRows: all,
      splitFolders: dataset.splitFolders?.record)
    metadata.precision = backbone.precision.rawValue
    // Where the weights are, so that predict finds them again (checked against the sha256 there).
    let weights = backbone.weights
    metadata.weightsPath =
      weights.isRandom || weights.source.isEmpty ? "" : URL(fileURLWithPath: absolutePath(weights.source)).standardized.path
    return ExtractPlan(dataset: dataset, split: split, shards: shards, rows: rows, metadata: metadata, dtype: options.dtype)
  }

  /// Creates, resumes, or refuses the output. Returns nil when it is already complete with this configuration.
  private func openOutput(metadata: StoreMetadata, rows: StoreRows, summary: inout ExtractSummary) throws -> FeatureStoreWriter? {
    let path = options.output
    try checkWritableFolder(path)
    if fileExists(path) {
      if options.overwrite {
        unlink(path)
      } else {
        // Decide with the store open read-only, and close it before reopening it for writing.
        let complete = try checkExisting(path, metadata: metadata, rows: rows, summary: &summary)
        return complete ? nil : try FeatureStoreWriter.resume(path: path)
      }
    }
    return try FeatureStoreWriter.create(path: path, metadata: metadata, rows: rows, dtype: options.dtype)
  }

  /// Refuses an existing output made with another configuration; returns true if it is already complete.
  private func checkExisting(_ path: String, metadata: StoreMetadata, rows: StoreRows, summary: inout ExtractSummary) throws
    -> Bool
  {
    let existing: FeatureStore
    do { existing = try FeatureStore(path: path) } catch {
      throw ExtractError.outputExists(path: path, why: "it is not a readable featx store (\(error))")
    }
    let differences = StoreComparison.differences(existing, metadata: metadata, rows: rows, dtype: options.dtype)
    guard differences.isEmpty else {
      throw ExtractError.outputExists(
        path: path, why: "it was made with another configuration (\(differences.prefix(3).joined(separator: "; ")))")
    }
    if existing.isComplete {
      summary.alreadyComplete = true
      summary.rows = existing.rows
      let split = try existing.split()
      summary.train = split.filter { $0 == SplitPart.train.rawValue }.count
      summary.test = split.count - summary.train
      summary.skipped = try existing.skipped()
    }
    return existing.isComplete
  }

  private func checkWritableFolder(_ path: String) throws {
    let folder = (absolutePath(path) as NSString).deletingLastPathComponent
    guard fileExists(folder) else { throw ExtractError.output(path: path, reason: "the folder \(folder) does not exist") }
    guard access(folder, W_OK) == 0 else {
      throw ExtractError.output(path: path, reason: "the folder \(folder) is not writable")
    }
  }
}

/// What differs between an existing store and the one a command would make.
public enum StoreComparison {
  public static func differences(_ store: FeatureStore, metadata m: StoreMetadata, rows: StoreRows, dtype: FeatureDType)
    -> [String]
  {
    let e = store.metadata
    var out = e.differences(from: m, in: \.extractionFingerprint).map(\.description)
    func check<T: Equatable>(_ name: String, _ old: T, _ new: T) {
      if old != new { out.append("\(name) was \(old), now \(new)") }
    }
    check("shard", e.shard, m.shard)
    check("dtype", store.dtype, dtype)
    guard out.isEmpty else { return out }
    check("classes", store.classes, rows.classes)
    check("class folders", store.classFolders, rows.classFolders)
    if store.isComplete {
      // A finished store lacks its skipped rows; compare what it kept.
      let paths = (try? store.paths()) ?? []
      let skipped = Set(((try? store.skipped()) ?? []).map(\.path))
      if paths + skipped.sorted() != rows.paths.filter({ !skipped.contains($0) }) + skipped.sorted() {
        out.append("the image list changed")
      }
    } else if (try? store.paths()) != rows.paths || (try? store.labels()) != rows.labels || (try? store.split()) != rows.split {
      out.append("the image list changed")
    }
    return out
  }
}

func absolutePath(_ path: String) -> String {
  path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
