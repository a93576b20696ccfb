import ArgumentParser
import Charts
import FeatureStore
import Foundation
import Glibc
import Probe
import Support

extension ProbePool: ExpressibleByArgument {}
extension GramPrecision: ExpressibleByArgument {}

/// `featx probe features.h5 -o head.h5`: train a linear head on stored features and report how well it does.
struct ProbeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Train a linear/softmax head on a feature store and report its accuracy.",
    discussion: """
      The default solver is full-batch L-BFGS on the L2-regularised softmax loss, with the regularisation \
      picked on a validation part of train and a final refit on all of train. --recipe seed reproduces the \
      bird workflow instead: Adam (lr 1e-5), batch 64, 50 epochs, printing its per-epoch line. When the train \
      rows do not fit in --max-memory and outnumber the features 8 to 1 (ImageNet-sized stores), the default \
      is a linear discriminant instead (--recipe lda): class means from one pass over the file and a shrunk \
      covariance from a seeded subsample of 65536 rows, where every L-BFGS iteration would read and multiply \
      every row twice; --recipe lbfgs keeps L-BFGS.
      """)

  @Argument(help: "Feature store written by `featx extract`.")
  var features: String

  @Option(name: .shortAndLong, help: "Head file to write (.h5).")
  var output: String

  @Option(
    help:
      "Training recipe: default (L-BFGS with a regularisation sweep; lda for streamed stores with 8x more rows than features), lbfgs, lda (linear discriminant), or seed (the bird workflow's Adam)."
  )
  var recipe: String = "default"

  @Option(help: "Adam epochs (seed recipe; default: 50).")
  var epochs: Int?

  @Option(help: "Adam learning rate (seed recipe; default: 1e-5).")
  var lr: Double?

  @Option(help: "Adam batch size (seed recipe; default: 64).")
  var batch: Int?

  @Option(help: "Adam weight decay (seed recipe; default: 0).")
  var weightDecay: Double?

  @Option(
    help:
      "L2 strength(s) for L-BFGS, comma-separated (loss = mean CE + l2/2·||W||²); one value skips the sweep (default: 10,1,1e-1,…,1e-6)."
  )
  var l2: String?

  @Option(help: "Maximum L-BFGS iterations of the final fit.")
  var maxIterations: Int = 300

  @Option(help: "Maximum L-BFGS iterations per L2 value of the sweep (it only ranks the values).")
  var sweepIterations: Int = 50

  @Flag(help: "Standardise every feature with train mean/std (folded into the saved weights).")
  var standardize = false

  @Option(
    help: """
      Numbers of the Gram matrix when features outnumber rows: auto (bf16 where the CPU multiplies it natively, \
      else f32), f32, or bf16 (features rounded to 8 significant bits, products summed in f32; twice the speed).
      """)
  var gram: GramPrecision = .automatic

  @Option(help: "Pool a flattened [C,H,W] store over H and W before training: none (default), avg or max.")
  var pool: ProbePool = .none

  @Option(help: "When the store has no test rows, hold out this fraction of train as test.")
  var valRatio: Double?

  @Option(
    help: ArgumentHelp(
      "Report on this other feature store: train on every labelled row of FEATURES, test on every labelled row of this one.",
      discussion: """
        Both stores must hold features made the same way (arch, weights, layer, pooling, preprocessing, \
        precision; the first difference is refused), and this one's classes must be among FEATURES' classes \
        (matched by class folder, then by name).
        """))
  var test: String?

  @Option(
    help: ArgumentHelp(
      "Train on K images per class, or a series such as 1,2,4,8,16,all reported and plotted against the shots.",
      discussion: """
        Each class's train rows are shuffled with --seed (NumPy's RandomState, one permutation per class in \
        class order) and the first K kept; classes with fewer are used whole and listed. Test rows are \
        unchanged. A series writes the head of its last point to --output.
        """))
  var shots: String?

  @Option(help: "Seed for initialisation, shuffling and validation splits.")
  var seed: UInt32 = 0

  @Option(help: "Threads for matrix products; 0 uses every core.")
  var threads: Int = 0

  @Option(
    help: "Stream rows from the file when they need more memory than this (e.g. 2G, 500M; default: 70% of available memory).")
  var maxMemory: String?

  @Option(
    help:
      "Write loss/accuracy curves, a confusion-matrix heatmap (PNG, SVG and PDF) and mistakes.png (the most confidently wrong images) into this folder."
  )
  var plot: String?

  @Flag(help: "Print the report as JSON.")
  var json = false

  @Flag(help: "No progress output.")
  var quiet = false

  func validate() throws {
    guard Self.recipes.contains(recipe) else {
      throw ValidationError("--recipe must be one of \(Self.recipes.joined(separator: ", "))")
    }
    if let valRatio { guard valRatio > 0, valRatio < 1 else { throw ValidationError("--val-ratio must be in (0, 1)") } }
    _ = try shotCounts()
    if test != nil, valRatio != nil {
      throw ValidationError("--val-ratio holds out test rows from FEATURES, --test takes them from another store: give one")
    }
    _ = try memoryLimit()
    do { try settings().validate() } catch ProbeError.invalidSetting(let setting, let reason) {
      throw ValidationError("\(Self.option(for: setting)) \(reason)")
    }
  }

  /// The option that sets `setting` (the library names settings, not flags).
  static func option(for setting: ProbeSetting) -> String {
    switch setting {
    case .threads: "--threads"
    case .lambdas: "--l2"
    case .maxIterations: "--max-iterations"
    case .sweepIterations: "--sweep-iterations"
    case .validationFraction: "the validation fraction"
    case .gramPrecision: "--gram"
    case .epochs: "--epochs"
    case .batchSize: "--batch"
    case .learningRate: "--lr"
    case .weightDecay: "--weight-decay"
    case .pooling: "--pool"
    case .shrinkage: "the discriminant's shrinkage"
    case .covarianceRows: "the discriminant's covariance rows"
    }
  }

  static let recipes = ["default", "lbfgs", "lda", "seed"]

  /// The default recipe's choice for stores far larger than memory: a linear discriminant when the train
  /// rows are streamed from the file and outnumber the features 8 to 1.
  static func prefersDiscriminant(_ train: FeatureMatrix) -> Bool {
    train.isStreamed && train.rows >= 8 * train.dimension
  }

  /// The training settings the options ask for.
  func settings() throws -> ProbeSettings {
    var settings = recipe == "seed" ? ProbeSettings.seedRecipe : ProbeSettings()
    if recipe == "lda" { settings.solver = .discriminant }
    settings.threads = threads
    settings.seed = seed
    settings.standardize = standardize
    settings.gramPrecision = gram
    settings.maxIterations = maxIterations
    settings.sweepMaxIterations = sweepIterations
    if let lambdas = try lambdas() { settings.lambdas = lambdas }
    if let epochs { settings.epochs = epochs }
    if let lr { settings.learningRate = lr }
    if let batch { settings.batchSize = batch }
    if let weightDecay { settings.weightDecay = weightDecay }
    return settings
  }

  func run() throws {
    let interruption = ProbeInterruption(output: output)
    defer { interruption.cancel() }
    var settings = try settings()
    var data: ProbeDataset
    do {
      data = try HDF5Guard.read(features, as: .store) {
        try ProbeDataset.load(
          path: features, pool: pool, valRatio: valRatio, seed: seed, maxMemory: try memoryLimit(), everyRowTrains: test != nil)
      }
      if let test {
        let training = data
        data = try HDF5Guard.read(test, as: .store) { try training.testing(on: test, maxMemory: try memoryLimit()) }
      }
    } catch ProbeError.invalidSetting(let setting, let reason) {
      throw ValidationError("\(Self.option(for: setting)): \(reason)")
    }
    guard let store = data.store else { return }
    Terminal.warnIfRandomWeights(store.metadata, path: features)
    if !quiet {
      Terminal.warn(
        "\(features): \(data.train.rows) train / \(data.test?.rows ?? 0) test rows, \(data.train.dimension) features, "
          + "\(data.classes.count) classes\(data.train.isStreamed ? " (streamed from the file)" : "")"
          + (test.map { "; test rows from \($0)" } ?? ""))
    }
    if recipe == "default", Self.prefersDiscriminant(data.train) {
      settings.solver = .discriminant
      if !quiet {
        Terminal.warn(
          "the train rows do not fit in memory: fitting a linear discriminant (one pass over the file); "
            + "--recipe lbfgs keeps L-BFGS, at two passes over every row per iteration")
      }
    }
    if let counts = try shotCounts() {
      guard data.test != nil else {
        throw ValidationError(
          "--shots reports test accuracy, and \(features) has no test rows; give --test OTHER.h5 or --val-ratio")
      }
      if counts.count > 1 { return try runShots(counts, data: data, settings: settings, store: store) }
      data = fewShot(data, counts[0])
    }
    let probe = try ProbeTrainer.train(data, settings: settings) { event in report(event, recipe: recipe) }
    let result = try ProbeReport(probe: probe, data: data)
    let head = Head(
      model: probe.model, classes: data.classes, classFolders: store.classFolders, extraction: store.metadata,
      probePool: pool, standardization: probe.standardization, reportJSON: try JSONText.encode(result))
    try head.write(to: output, report: result)
    if let plot {
      try ProbePlots.write(result, to: plot)
      try Pictures.writeMistakes(result, storePath: result.confusionOf == "test" ? (test ?? features) : features, to: plot)
    }
    if json {
      print(try JSONText.encode(result))
    } else {
      print(ProbeText.render(result, output: output, plots: plot), terminator: "")
    }
  }

  /// The shot counts `--shots` asks for (nil: all train rows), nil without the option.
  func shotCounts() throws -> [Int?]? {
    guard let shots else { return nil }
    let parts = shots.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    let counts = parts.map { $0 == "all" ? Int?.none : Int($0) }
    guard !parts.isEmpty, zip(parts, counts).allSatisfy({ $0 == "all" || ($1 ?? 0) >= 1 }) else {
      throw ValidationError("--shots takes images per class, e.g. 4 or 1,2,4,8,16,all; not '\(shots)'")
    }
    return counts
  }

  /// `data` with `shots` train rows per class (nil: unchanged), saying which classes have fewer.
  func fewShot(_ data: ProbeDataset, _ shots: Int?) -> ProbeDataset {
    guard let shots else { return data }
    let (subset, short) = data.fewShot(shots, seed: seed)
    if !short.isEmpty && !quiet {
      Terminal.warn(
        "\(shots) shots: \(short.count) class(es) have fewer train rows and are used whole: "
          + short.prefix(10).map { data.classes[$0] }.joined(separator: ", ") + (short.count > 10 ? ", …" : ""))
    }
    return subset
  }

  /// One point of a `--shots` series.
  struct ShotPoint: Encodable {
    var shots: String
    var trainRows: Int
    var top1: Double
    var top5: Double
    var lambda: Double?
  }

  /// `--shots 1,2,4,…`: a probe per count, a table, `shots.png/svg/pdf` with --plot, and the last head.
  func runShots(_ counts: [Int?], data: ProbeDataset, settings: ProbeSettings, store: FeatureStore) throws {
    var points: [ShotPoint] = []
    var last: (report: ProbeReport, probe: TrainedProbe)?
    for count in counts {
      let subset = fewShot(data, count)
      let probe = try ProbeTrainer.train(subset, settings: settings) { _ in }
      let report = try ProbeReport(probe: probe, data: subset)
      let point = ShotPoint(
        shots: count.map(String.init) ?? "all", trainRows: subset.train.rows, top1: report.test?.top1 ?? .nan,
        top5: report.test?.top5 ?? .nan, lambda: probe.lambda)
      if !quiet {
        Terminal.warn(String(format: "%@ shots: %d train rows, test top-1 %.4f", point.shots, point.trainRows, point.top1))
      }
      points.append(point)
      last = (report, probe)
    }
    guard let (report, probe) = last else { return }
    let head = Head(
      model: probe.model, classes: data.classes, classFolders: store.classFolders, extraction: store.metadata,
      probePool: pool, standardization: probe.standardization, reportJSON: try JSONText.encode(report))
    try head.write(to: output, report: report)
    if let plot {
      try FileManager.default.createDirectory(atPath: plot, withIntermediateDirectories: true)
      try Plot.lineChart(
        title: "Test accuracy against labelled images per class",
        xLabel: "labelled images per class (shots)", yLabel: "test accuracy",
        series: [PlotSeries(name: "top-1", values: points.map(\.top1)), PlotSeries(name: "top-5", values: points.map(\.top5))],
        xTickLabels: points.map(\.shots), to: plot + "/shots")
    }
    if json {
      struct Series: Encodable {
        var shots: [ShotPoint]
        var output: String
      }
      print(try JSONText.encode(Series(shots: points, output: output)))
    } else {
      var out = "shots  train rows   top-1   top-5\n"
      for p in points {
        out +=
          p.shots.padding(toLength: 5, withPad: " ", startingAt: 0)
          + String(format: "  %10d  %.4f  %.4f\n", p.trainRows, p.top1, p.top5)
      }
      out += "wrote \(output) (\(points.last!.shots) shots)\n"
      if let plot { out += "plots in \(plot)\n" }
      print(out, terminator: "")
    }
  }

  /// The tenth of a pass last logged (progress lines without a terminal); one command runs per process.
  nonisolated(unsafe) private static var passTenth = -1

  private func report(_ event: ProbeEvent, recipe: String) {
    switch event {
    case .epoch(let p):
      // The bird workflow's line, with its numbers (loss = sum of batch-mean losses / rows).
      let line =
        "epoch: \(p.step)  ;loss: \(ProbeText.py3(p.seedLoss ?? .nan))  ;accuracy: \(ProbeText.py3(p.trainAccuracy))"
        + "  ;test_loss: \(ProbeText.py3(p.seedTestLoss ?? .nan))  ;test_accuracy: \(ProbeText.py3(p.testAccuracy ?? .nan))\n"
      // With --json, stdout carries only the JSON document; the epoch lines go to stderr.
      (json ? FileHandle.standardError : FileHandle.standardOutput).write(Data(line.utf8))
    case .sweep(let s) where !quiet:
      Terminal.warn(
        String(
          format: "l2 %-8@ validation accuracy %.4f  loss %.4f  (%d iterations)", "\(s.lambda)", s.validationAccuracy,
          s.validationLoss, s.iterations))
    case .refit(let lambda) where !quiet:
      Terminal.warn("refit on all train rows with l2 \(lambda)")
    case .pass(let name, let done, let total, let seconds) where !quiet:
      let eta = done > 0 && done < total ? seconds * Double(total - done) / Double(done) : 0
      let line = String(
        format: "%@: %d of %d rows (%.0f%%), %.0f s, ETA %.0f s", name, done, total, 100 * Double(done) / Double(max(total, 1)),
        seconds, eta)
      // On a terminal one updating line; in a log a line per tenth of the pass.
      if Terminal.isTTY {
        Terminal.status(line)
      } else if done * 10 / max(total, 1) != Self.passTenth {
        Self.passTenth = done * 10 / max(total, 1)
        Terminal.warn(line)
      }
    case .iteration(let i, let loss) where !quiet && Terminal.isTTY:
      Terminal.status(String(format: "iteration %d: objective %.6f", i, loss))
    default:
      break
    }
  }

  func lambdas() throws -> [Double]? {
    guard let l2 else { return nil }
    let values = l2.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.count == l2.split(separator: ",").count, values.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw ValidationError("--l2 takes non-negative numbers, e.g. 1e-4 or 1e-2,1e-3,1e-4")
    }
    return values
  }

  func memoryLimit() throws -> Int? { try MemorySize.parse(maxMemory, option: "--max-memory") }
}

/// The text report of `featx probe`.
enum ProbeText {
  /// Python's `round(x, 3)` as `print` shows it (the seed's format): 0.25, 0.036, 1.0.
  static func py3(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : "inf" }
    var text = String(format: "%.3f", (x * 1000).rounded(.toNearestOrEven) / 1000)
    while text.hasSuffix("0") && !text.hasSuffix(".0") { text.removeLast() }
    return text
  }

  static func render(_ r: ProbeReport, output: String, plots: String?) -> String {
    var out = ""
    out += "solver \(r.solver)"
    if let lambda = r.lambda { out += ", l2 \(lambda)" }
    out += String(format: ", %.1f s\n", r.seconds)
    if !r.sweep.isEmpty {
      out +=
        "sweep (validation accuracy): "
        + r.sweep.map { String(format: "%@ %.4f", "\($0.lambda)", $0.validationAccuracy) }.joined(separator: ", ") + "\n"
    }
    out += metrics(r)
    out += "wrote \(output)\n"
    if let plots { out += "plots in \(plots)\n" }
    return out
  }

  /// The accuracy table (a part without rows is left out), the worst classes and the most confused pairs.
  static func metrics(_ r: ProbeReport) -> String {
    var out = ""
    out += "          rows   top-1   top-5    loss\n"
    func line(_ name: String, _ m: SplitMetrics) -> String {
      String(
        format: "%@ %6d  %.4f  %.4f  %.4f\n", name.padding(toLength: 6, withPad: " ", startingAt: 0), m.rows, m.top1, m.top5,
        m.loss)
    }
    if r.train.rows > 0 || r.test == nil { out += line("train", r.train) }
    if let test = r.test { out += line("test", test) }
    return out + details(r)
  }

  /// The worst classes and the most confused pairs of a report.
  static func details(_ r: ProbeReport) -> String {
    var out = ""
    let worst = r.perClass.prefix(10)
    if !worst.isEmpty {
      out += "worst classes (\(r.confusionOf)):\n"
      let width = worst.map(\.name.displayWidth).max() ?? 0
      for c in worst { out += String(format: "  %.3f  ", c.accuracy) + c.name.padded(toWidth: width) + "  (\(c.rows) rows)\n" }
    }
    var confusions: [(count: Int, truth: Int, predicted: Int)] = []
    for (t, row) in r.confusion.enumerated() {
      for (p, n) in row.enumerated() where p != t && n > 0 { confusions.append((n, t, p)) }
    }
    confusions.sort { ($0.count, -$0.truth) > ($1.count, -$1.truth) }
    if !confusions.isEmpty {
      out += "most confused (\(r.confusionOf), true → predicted):\n"
      for c in confusions.prefix(5) { out += "  \(c.count)× \(r.classes[c.truth]) → \(r.classes[c.predicted])\n" }
    }
    return out
  }
}

/// A probe does not resume: SIGINT or SIGTERM stops it at once saying so and that nothing was written
/// (the head is written to a temporary file and renamed into place), with status 130 or 143.
final class ProbeInterruption {
  private var sources: [DispatchSourceSignal] = []

  init(output: String) {
    sources = StopSignals.watch { number in
      Terminal.warn(
        "\ninterrupted (\(StopSignals.name(number))): \(output) was not written; a probe does not "
          + "resume, so run the same command again to start over")
      _exit(128 + number)
    }
  }

  func cancel() { StopSignals.stop(sources) }
}
