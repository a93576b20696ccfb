import ArgumentParser
import FeatureStore
import Foundation
import Probe
import Search

/// `featx knn features.h5`: DINOv2's weighted k-NN evaluation of a feature store.
struct KnnCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "knn",
    abstract: "Weighted k-NN evaluation of a feature store (DINOv2's protocol): no training, the second number beside a probe.",
    discussion: """
      Train and test rows are L2-normalised; each test row's k most cosine-similar train rows vote for their \
      class with weight exp(similarity / T), and the class with the most weight wins (dinov2/eval/knn.py). \
      Equal similarities are ordered by store row, the earlier first; equal class weights by class index. A \
      zero vector has cosine similarity 0 with everything. Test rows are the store's test part, or every \
      labelled row of --test. The search is exact (blocked matrix products), reads the train rows once and \
      holds no test × train matrix.
      """)

  @Argument(help: "Labelled feature store written by `featx extract`.")
  var features: String

  @Option(name: .customLong("k"), help: "Neighbour counts to report, comma-separated.")
  var ks: String = "10,20,100,200"

  @Option(help: "Temperature T of the votes' weights exp(similarity / T).")
  var temperature: Double = 0.07

  @Option(
    help: ArgumentHelp(
      "Classify every labelled row of this other store against every labelled row of FEATURES.",
      discussion: "Both stores must hold features made the same way (the first difference is refused)."))
  var test: String?

  @Option(help: "Pool a flattened [C,H,W] store over H and W first: none (default), avg or max.")
  var pool: ProbePool = .none

  @Option(help: "Write the neighbour lists of the largest k to this HDF5 file (indices, similarities, query_rows).")
  var neighbors: String?

  @Option(help: "Write the confusion matrix of the best k and the mistakes picture (PNG, SVG and PDF) into this folder.")
  var plot: String?

  @Option(help: "Threads for matrix products; 0 uses every core.")
  var threads: Int = 0

  @Option(
    help: "Stream train rows from the file when they need more memory than this (e.g. 2G; default: 70% of available memory).")
  var maxMemory: String?

  @Flag(help: "Print the report as JSON.")
  var json = false

  @Flag(help: "No progress output.")
  var quiet = false

  func validate() throws {
    _ = try kValues()
    guard temperature > 0, temperature.isFinite else {
      throw ValidationError("--temperature must be positive, not \(temperature)")
    }
    guard threads >= 0 else { throw ValidationError("--threads must be 0 (every CPU) or more, not \(threads)") }
    _ = try MemorySize.parse(maxMemory, option: "--max-memory")
  }

  func kValues() throws -> [Int] {
    let parts = ks.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
      throw ValidationError("--k takes positive whole numbers, e.g. 20 or 10,20,100,200; not '\(ks)'")
    }
    return parts.map { $0! }
  }

  func run() throws {
    var settings = KNNSettings()
    settings.ks = try kValues()
    settings.temperature = temperature
    settings.threads = threads
    let memory = try MemorySize.parse(maxMemory, option: "--max-memory")
    var data = try HDF5Guard.read(features, as: .store) {
      try ProbeDataset.load(path: features, pool: pool, maxMemory: memory, everyRowTrains: test != nil)
    }
    if let test {
      let training = data
      data = try HDF5Guard.read(test, as: .store) { try training.testing(on: test, maxMemory: memory) }
    }
    guard let store = data.store else { return }
    Terminal.warnIfRandomWeights(store.metadata, path: features)
    let testRows = data.test?.rows ?? 0
    if !quiet {
      Terminal.warn(
        "\(features): \(data.train.rows) train rows, \(testRows) test rows\(test.map { " from \($0)" } ?? ""), "
          + "\(data.train.dimension) features, \(data.classes.count) classes")
    }
    let evaluation: KNNEvaluation
    do {
      evaluation = try WeightedKNN.evaluate(data, settings: settings) { searched in
        if !quiet && Terminal.isTTY { Terminal.status("searched \(searched) of \(data.train.rows) train rows") }
      }
    } catch SearchError.tooFewRows(let k, let rows) {
      throw ValidationError("--k \(k) is more than the \(rows) train rows of \(features); ask for k ≤ \(rows)")
    } catch SearchError.noTestRows(let path) {
      throw ValidationError("\(path) has no test rows to classify (every labelled row is train); give --test OTHER.h5")
    }
    if let neighbors {
      try evaluation.neighbors.write(
        to: neighbors, searchedRows: data.train.storeRows, queryRows: data.test!.storeRows, store: features,
        queries: test ?? features)
    }
    if let plot {
      let best = evaluation.best.report
      try EvaluateText.writePlot(best, to: plot)
      try Pictures.writeMistakes(best, storePath: test ?? features, to: plot)
    }
    if json {
      print(try JSONText.encode(KnnJSON(evaluation, settings: settings, train: data.train.rows, test: testRows)))
    } else {
      print(KnnText.render(evaluation, settings: settings, store: features, plots: plot, neighbors: neighbors), terminator: "")
    }
  }
}

/// `featx knn --json`.
struct KnnJSON: Encodable {
  struct PerK: Encodable {
    var k: Int
    var report: ProbeReport
  }
  var temperature: Double
  var trainRows: Int
  var testRows: Int
  var searchSeconds: Double
  var seconds: Double
  var bestK: Int
  var results: [PerK]

  init(_ e: KNNEvaluation, settings: KNNSettings, train: Int, test: Int) {
    temperature = settings.temperature
    trainRows = train
    testRows = test
    searchSeconds = e.searchSeconds
    seconds = e.seconds
    bestK = e.best.k
    results = e.results.map { PerK(k: $0.k, report: $0.report) }
  }
}

/// The text report of `featx knn`.
enum KnnText {
  static func render(_ e: KNNEvaluation, settings: KNNSettings, store: String, plots: String?, neighbors: String?) -> String {
    var out = "weighted k-NN (T \(settings.temperature)), \(String(format: "%.1f", e.seconds)) s\n"
    out += "     k   top-1   top-5\n"
    for r in e.results {
      let m = r.report.test!
      out += String(format: "%6d  %.4f  %.4f\n", r.k, m.top1, m.top5)
    }
    let best = e.best
    out += "best k = \(best.k):\n"
    out += ProbeText.details(best.report)
    if let neighbors { out += "neighbours (k = \(e.neighbors.k)) in \(neighbors)\n" }
    if let plots { out += "plots in \(plots)\n" }
    return out
  }
}
