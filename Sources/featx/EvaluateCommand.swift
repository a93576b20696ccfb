import ArgumentParser
import Charts
import FeatureStore
import Foundation
import Probe

/// `featx evaluate head.h5 features.h5`: a head's report on any labelled feature store.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score a head on a labelled feature store: top-1/top-5, per class, confusion, most confused pairs.",
    discussion: """
      The report is probe's, part by part of the store's split (its train rows, its test rows). The store's \
      features must be made the way the head's were (arch, weights, layer, pooling, preprocessing, \
      precision): the first difference is refused. Its classes are matched to the head's by class folder, \
      then by name; rows of a class the head does not know are refused, as is a store without labels.
      """)

  @Argument(help: "Head file written by `featx probe`.")
  var head: String

  @Argument(help: "Labelled feature store written by `featx extract` (.h5).")
  var features: String

  @Option(
    help:
      "Write a confusion-matrix heatmap (PNG, SVG and PDF) and mistakes.png (the most confidently wrong images) into this folder."
  )
  var plot: String?

  @Option(help: "Threads for matrix products; 0 uses every core.")
  var threads: Int = 0

  @Option(
    help:
      "Stream rows from the file when they need more memory than this (e.g. 2G, 500M; default: 70% of available memory)."
  )
  var maxMemory: String?

  @Flag(help: "Print the report as JSON.")
  var json = false

  func validate() throws {
    guard threads >= 0 else { throw ValidationError("--threads must be 0 (every CPU) or more, not \(threads)") }
    _ = try MemorySize.parse(maxMemory, option: "--max-memory")
  }

  func run() throws {
    let loaded = try HDF5Guard.read(head, as: .head) { try Head.read(path: head) }
    let memory = try MemorySize.parse(maxMemory, option: "--max-memory")
    // The guard's deadline bounds libhdf5's reading, not the scoring: an ImageNet-sized store takes minutes
    // to score, and was refused as damaged when both ran under it.
    let rows = try HDF5Guard.read(features, as: .store) {
      try Evaluation.load(head: loaded, headPath: head, storePath: features, maxMemory: memory)
    }
    let report = try Evaluation.score(rows, head: loaded, threads: threads)
    let store = rows.store
    Terminal.warnIfRandomWeights(store, path: features)
    if let plot {
      try EvaluateText.writePlot(report, to: plot)
      try Pictures.writeMistakes(report, storePath: features, to: plot)
    }
    if json {
      print(try JSONText.encode(report))
    } else {
      let own = store.created == loaded.extraction.created && store.source == loaded.extraction.source
      print(EvaluateText.render(report, head: head, store: features, trainedOnIt: own, plots: plot), terminator: "")
    }
  }
}

/// The text report of `featx evaluate` (and of `featx predict` on labelled images).
enum EvaluateText {
  static func render(_ r: ProbeReport, head: String, store: String, trainedOnIt: Bool, plots: String?) -> String {
    let rows = r.train.rows + (r.test?.rows ?? 0)
    var out = "\(head) on \(store): \(rows) labelled rows"
    out +=
      trainedOnIt
      ? " (the store it was trained on: its train rows are the ones it learned from)\n"
      : " (a store it was not trained on: every row is new to it)\n"
    out += ProbeText.metrics(r)
    if let plots { out += "plots in \(plots)\n" }
    return out
  }

  /// The summary after `featx predict`'s per-image output on labelled folder trees.
  static func renderImages(_ r: ProbeReport, head: String, trees: [String]) -> String {
    let rows = r.train.rows + (r.test?.rows ?? 0)
    var out = "\(head) on the labelled images of \(trees.joined(separator: ", ")): \(rows) images"
    out += r.train.rows > 0 ? " (split folders: train and test parts)\n" : "\n"
    if rows == 0 {
      return out + "no labelled image could be read\n"
    }
    return out + ProbeText.metrics(r)
  }

  /// `confusion.png`, `.svg` and `.pdf` in `folder` (the report has no training curves to draw); the
  /// caller adds `mistakes.png` when the rows are a store's.
  static func writePlot(_ r: ProbeReport, to folder: String) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try Plot.confusionMatrix(
      r.confusion, classes: r.classes, title: "Confusion matrix (\(r.confusionOf) rows)", to: folder + "/confusion")
  }
}
