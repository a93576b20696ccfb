// Training a linear head: the fast default (full-batch L-BFGS on the L2-regularised softmax loss, with
// the regularisation picked on a validation part of train, then a refit on all of train — the recipe
// CLIP and DINOv2 use to evaluate linear probes), and the bird workflow's recipe (minibatch Adam).

import DNNL
import Dispatch
import Foundation
import Support

/// How to train.
public struct ProbeSettings: Sendable {
  public enum Solver: String, Sendable, CaseIterable {
    /// Full-batch L-BFGS with a regularisation sweep (default).
    case lbfgs
    /// The bird workflow: minibatch Adam (`--recipe seed`).
    case adam
    /// Linear discriminant analysis: one pass over the rows and a covariance from a subsample, for stores
    /// far larger than memory (`--recipe lda`; chosen by the CLI when the train rows are streamed).
    case discriminant
  }

  public var solver: Solver = .lbfgs
  /// Threads for the GEMMs (0 = every core).
  public var threads = 0
  /// Seed of every random choice (initialisation, shuffling, validation split).
  public var seed: UInt32 = 0

  // L-BFGS
  /// L2 strengths to try (`lambda` in `mean CE + lambda/2 ||W||²`); one value skips the sweep.
  public var lambdas: [Double] = ProbeSettings.defaultLambdas
  /// Fraction of train held out to pick lambda.
  public var validationFraction = 0.2
  public var maxIterations = 300
  /// Iterations per value of the regularisation sweep, which only has to rank the values: the path is
  /// warm-started from strong to weak, and validation accuracy settles long before the loss converges
  /// (cub_birds50, 2359 x 50176: the same choice and test accuracy at 100 as at 300, 1.6x faster; at 50
  /// the values within validation noise of each other change places, test 0.48-0.51 for 40-100).
  public var sweepMaxIterations = 50
  /// Stop when `max |gradient| <= tolerance * max(1, objective)` (scikit-learn's lbfgs stops at 1e-4).
  public var tolerance = 1e-4
  /// Solve in the span of the training rows (Gram matrix): nil chooses it when features outnumber
  /// rows and the rows are in memory.
  public var solveInRowSpace: Bool?
  /// With more features than rows: stop when the gradient norm is this fraction of its value at W = 0.
  public var rowSpaceTolerance = 1e-5
  /// Standardise every feature with train statistics (folded into the saved weights).
  public var standardize = false
  /// Numbers of the row-space solver's Gram matrix (bfloat16 where the CPU multiplies it natively).
  public var gramPrecision = GramPrecision.automatic

  // Adam (the seed recipe's defaults)
  public var epochs = 50
  public var learningRate = 1e-5
  public var batchSize = 64
  public var beta1 = 0.9
  public var beta2 = 0.999
  public var epsilon = 1e-8
  public var weightDecay = 0.0

  // Linear discriminant
  /// Weight of the identity in the shrunk covariance `(1 − α) Σ + α tr(Σ)/D · I`.
  public var shrinkage = 0.01
  /// Rows of the seeded subsample the covariance is estimated on (65536 x 2048 float32 = 512 MB).
  public var covarianceRows = 65536

  public init() {}

  /// The bird workflow's recipe: Adam lr 1e-5, batch 64, 50 epochs.
  public static var seedRecipe: ProbeSettings {
    var s = ProbeSettings()
    s.solver = .adam
    return s
  }

  /// Checks every number before training starts.
  /// - Throws: `ProbeError.invalidSetting` naming the first setting that cannot work.
  public func validate() throws {
    func bad(_ setting: ProbeSetting, _ reason: String) -> ProbeError { .invalidSetting(setting, reason: reason) }
    guard threads >= 0 else { throw bad(.threads, "must be 0 (every CPU) or more, not \(threads)") }
    switch solver {
    case .lbfgs:
      guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
        throw bad(.lambdas, "must be finite and non-negative")
      }
      guard maxIterations >= 1 else { throw bad(.maxIterations, "must be at least 1, not \(maxIterations)") }
      guard sweepMaxIterations >= 1 else { throw bad(.sweepIterations, "must be at least 1, not \(sweepMaxIterations)") }
      guard validationFraction > 0, validationFraction < 1 else {
        throw bad(.validationFraction, "must be between 0 and 1, not \(validationFraction)")
      }
      _ = try gramPrecision.resolved()
    case .adam:
      guard epochs >= 1 else { throw bad(.epochs, "must be at least 1, not \(epochs)") }
      guard batchSize >= 1 else { throw bad(.batchSize, "must be at least 1, not \(batchSize)") }
      guard learningRate > 0, learningRate.isFinite else {
        throw bad(.learningRate, "must be a positive number, not \(learningRate)")
      }
      guard weightDecay >= 0, weightDecay.isFinite else {
        throw bad(.weightDecay, "must be a non-negative number, not \(weightDecay)")
      }
    case .discriminant:
      guard shrinkage > 0, shrinkage < 1 else { throw bad(.shrinkage, "must be between 0 and 1, not \(shrinkage)") }
      guard covarianceRows >= 2 else { throw bad(.covarianceRows, "must be at least 2, not \(covarianceRows)") }
    }
  }

  /// 10 down to 1e-6 in decades (scikit-learn's C = 1 is λ = 1/n: 6e-3 for 160 rows, 1e-4 for 9430).
  public static let defaultLambdas: [Double] = [10, 1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
}

/// One point of a training curve (an Adam epoch or an L-BFGS iteration of the final fit).
public struct HistoryPoint: Codable, Sendable, Equatable {
  public var step: Int
  /// Mean cross-entropy over train (the proper one, not the seed's sum of batch means / N): at the iterate for
  /// L-BFGS; for Adam over the epoch as it ran (each batch before its step), like its accuracy.
  public var trainLoss: Double
  public var trainAccuracy: Double
  public var testLoss: Double?
  public var testAccuracy: Double?
  /// The numbers the bird workflow prints (Adam only): sum of batch-mean losses / rows.
  public var seedLoss: Double?
  public var seedTestLoss: Double?
  /// Seconds since training started (the regularisation sweep included) when this point was reached.
  public var seconds: Double?

  /// Records the test part's loss and top-1 accuracy.
  mutating func record(test metrics: SplitMetrics) { (testLoss, testAccuracy) = (metrics.loss, metrics.top1) }
}

/// One value of the regularisation sweep.
public struct SweepPoint: Codable, Sendable, Equatable {
  public var lambda: Double
  public var validationAccuracy: Double
  public var validationLoss: Double
  public var iterations: Int
}

/// What training produced.
public struct TrainedProbe: Sendable {
  /// The head in raw-feature space (standardisation folded in).
  public var model: LinearModel
  public var standardization: Standardization?
  public var lambda: Double?
  public var sweep: [SweepPoint]
  public var history: [HistoryPoint]
  public var seconds: Double
  public var settings: ProbeSettings
}

/// Progress of training, for the CLI to print.
public enum ProbeEvent: Sendable {
  case sweep(SweepPoint)
  case iteration(Int, loss: Double)
  case epoch(HistoryPoint)
  case refit(lambda: Double)
  /// `done` of `total` rows read by the pass `name`, `seconds` after training started.
  case pass(name: String, done: Int, total: Int, seconds: Double)
}

/// Trains linear heads.
public enum ProbeTrainer {
  public static func train(
    _ data: ProbeDataset, settings: ProbeSettings, progress: (ProbeEvent) -> Void = { _ in }
  ) throws -> TrainedProbe {
    try settings.validate()
    return try GEMM.withThreads(settings.threads) {
      let started = Date()
      var result: TrainedProbe
      switch settings.solver {
      case .lbfgs: result = try trainLBFGS(data, settings, progress)
      case .adam: result = try AdamRecipe(settings: settings).train(data, progress: progress)
      case .discriminant: result = try trainDiscriminant(data, settings, progress)
      }
      result.seconds = Date().timeIntervalSince(started)
      return result
    }
  }

  // MARK: - Linear discriminant

  static func trainDiscriminant(_ data: ProbeDataset, _ settings: ProbeSettings, _ progress: (ProbeEvent) -> Void) throws
    -> TrainedProbe
  {
    let clock = Date()
    let model = try LinearDiscriminant.fit(data.train, classes: data.classes.count, settings: settings, progress: progress)
    var point = HistoryPoint(step: 0, trainLoss: .nan, trainAccuracy: .nan)
    if let test = data.test {
      point.record(test: SplitMetrics.scoring(try model.logits(test), labels: test.labels, classes: data.classes.count).0)
    }
    point.seconds = Date().timeIntervalSince(clock)
    return TrainedProbe(
      model: model, standardization: nil, lambda: nil, sweep: [], history: [point], seconds: 0, settings: settings)
  }

  // MARK: - L-BFGS with a regularisation sweep

  static func trainLBFGS(_ data: ProbeDataset, _ settings: ProbeSettings, _ progress: (ProbeEvent) -> Void) throws -> TrainedProbe
  {
    let clock = Date()
    if settings.solveInRowSpace ?? (data.train.dimension > data.train.rows && !data.train.isStreamed) {
      return try trainInRowSpace(data, settings, progress)
    }
    let classes = data.classes.count
    let standardization = settings.standardize ? try Standardization.fit(data.train) : nil
    let zero = [Float](repeating: 0, count: data.train.dimension * classes + classes)
    let (best, start, sweep) = try sweepThenStart(settings, data.train, from: zero, progress) { keep, held, lambdas, keepStates in
      // Follow the regularisation path from strong to weak on each validation fold (warm starts).
      let fitPart = data.train.subset(keep)
      let validation = data.train.subset(held)
      var path = zero
      return try lambdas.map { lambda in
        let objective = SoftmaxObjective(data: fitPart, classes: classes, lambda: lambda, standardization: standardization)
        var solver = LBFGS()
        solver.maxIterations = settings.sweepMaxIterations
        solver.gradientTolerance = settings.tolerance
        let fit = try solver.minimize(path, objective.evaluate)
        path = fit.x
        let model = LinearModel(dimension: fitPart.dimension, classes: classes, parameters: fit.x)
        let score = FoldScore(
          logits: try (standardization?.fold(model) ?? model).logits(validation), labels: validation.labels, classes: classes,
          iterations: fit.iterations)
        return (score, keepStates ? fit.x : nil)
      }
    }
    // Refit on all of train, recording the curve.
    let objective = SoftmaxObjective(data: data.train, classes: classes, lambda: best, standardization: standardization)
    var solver = LBFGS()
    solver.maxIterations = settings.maxIterations
    solver.gradientTolerance = settings.tolerance
    var history: [HistoryPoint] = []
    let fit = try solver.minimize(start, objective.evaluate) { iteration, value, x in
      progress(.iteration(iteration, loss: value))
      // The accepted point is the objective's last evaluation: its train numbers are already known.
      var point = HistoryPoint(step: iteration, trainLoss: objective.lastCrossEntropy, trainAccuracy: objective.lastAccuracy)
      point.seconds = Date().timeIntervalSince(clock)
      if let test = data.test {
        var model = LinearModel(dimension: data.train.dimension, classes: classes, parameters: x)
        if let standardization { model = standardization.fold(model) }
        if let logits = try? model.logits(test) {
          point.record(test: SplitMetrics.scoring(logits, labels: test.labels, classes: classes).0)
        }
      }
      history.append(point)
      return true
    }
    var model = LinearModel(dimension: data.train.dimension, classes: classes, parameters: fit.x)
    if let standardization { model = standardization.fold(model) }
    return TrainedProbe(
      model: model, standardization: standardization, lambda: best, sweep: sweep, history: history, seconds: 0, settings: settings
    )
  }

  // MARK: - More features than rows: the same L-BFGS in the span of the training rows

  static func trainInRowSpace(_ data: ProbeDataset, _ settings: ProbeSettings, _ progress: (ProbeEvent) -> Void) throws
    -> TrainedProbe
  {
    let clock = Date()
    let classes = data.classes.count
    let standardization = settings.standardize ? try Standardization.fit(data.train) : nil
    let (gram, testGram) = try GramMatrix.compute(
      train: data.train, test: data.test, standardization: standardization, precision: settings.gramPrecision)
    let n = data.train.rows
    let zero = GramLBFGS.State(a: [Float](repeating: 0, count: n * classes), b: [Float](repeating: 0, count: classes))
    let (best, start, sweep) = try sweepThenStart(settings, data.train, from: zero, progress) { keep, held, lambdas, keepStates in
      let fit = gram.submatrix(rows: keep, columns: keep)
      let validation = gram.submatrix(rows: held, columns: keep)
      let fitLabels = keep.map { data.train.labels[$0] }
      var path = GramLBFGS.State(a: [Float](repeating: 0, count: keep.count * classes), b: [Float](repeating: 0, count: classes))
      return try lambdas.map { lambda in
        var solver = GramLBFGS(gram: fit, labels: fitLabels, classes: classes, lambda: lambda)
        solver.maxIterations = settings.sweepMaxIterations
        solver.relativeTolerance = settings.rowSpaceTolerance
        let result = try solver.minimize(from: path)
        path = result.state
        var logits = try validation.times(result.state.a, k: classes)
        for r in 0..<held.count { for k in 0..<classes { logits[r * classes + k] += result.state.b[k] } }
        let score = FoldScore(
          logits: logits, labels: held.map { data.train.labels[$0] }, classes: classes, iterations: result.iterations)
        guard keepStates else { return (score, nil) }
        // W = Zᵀ A is unchanged when the held-out rows get zero coefficients.
        var full = [Float](repeating: 0, count: n * classes)
        for (i, row) in keep.enumerated() {
          full.replaceSubrange((row * classes)..<((row + 1) * classes), with: result.state.a[(i * classes)..<((i + 1) * classes)])
        }
        return (score, GramLBFGS.State(a: full, b: result.state.b))
      }
    }
    var solver = GramLBFGS(gram: gram, labels: data.train.labels, classes: classes, lambda: best)
    solver.maxIterations = settings.maxIterations
    solver.relativeTolerance = settings.rowSpaceTolerance
    var history: [HistoryPoint] = []
    let result = try solver.minimize(from: start) { iteration, state, crossEntropy, accuracy in
      progress(.iteration(iteration, loss: crossEntropy))
      var point = HistoryPoint(step: iteration, trainLoss: crossEntropy, trainAccuracy: accuracy)
      point.seconds = Date().timeIntervalSince(clock)
      if let testGram, let test = data.test {
        var logits = try testGram.times(state.a, k: classes)
        for r in 0..<test.rows { for k in 0..<classes { logits[r * classes + k] += state.b[k] } }
        point.record(test: SplitMetrics.scoring(logits, labels: test.labels, classes: classes).0)
      }
      history.append(point)
    }
    // Back to weights: W = Zᵀ·A over the same (standardised, rounded) rows as the Gram matrix.
    let weights = try GramMatrix.combineRows(
      data.train, standardization: standardization, precision: settings.gramPrecision, coefficients: result.state.a,
      classes: classes)
    var model = LinearModel(dimension: data.train.dimension, classes: classes, weights: weights, bias: result.state.b)
    if let standardization { model = standardization.fold(model) }
    return TrainedProbe(
      model: model, standardization: standardization, lambda: best, sweep: sweep, history: history, seconds: 0, settings: settings
    )
  }

  // MARK: - Choosing the regularisation

  /// Held-out predictions of one fit, reduced to what the choice needs.
  struct FoldScore {
    var correct: Int
    var lossSum: Double
    var rows: Int
    var iterations: Int

    static let zero = FoldScore(correct: 0, lossSum: 0, rows: 0, iterations: 0)

    init(correct: Int, lossSum: Double, rows: Int, iterations: Int) {
      (self.correct, self.lossSum, self.rows, self.iterations) = (correct, lossSum, rows, iterations)
    }

    init(logits: [Float], labels: [Int], classes: Int, iterations: Int) {
      correct = zip(Metrics.argmax(logits, classes: classes), labels).filter { $0 == $1 }.count
      lossSum = Softmax.meanCrossEntropy(logits, labels: labels, classes: classes) * Double(labels.count)
      rows = labels.count
      self.iterations = iterations
    }
  }

  /// The sweep → refit driver of both solvers: with one L2 value, that value and `zero`; else the value
  /// `chooseLambda` picks, and as the refit's start the first fold's fit at it (the path's warm start).
  /// `fitPath(keep, held, lambdas, keepStates)` fits every value in order (strong to weak) and returns each
  /// one's held-out score and, when `keepStates` (the first fold), its fitted state over all train rows.
  static func sweepThenStart<State>(
    _ settings: ProbeSettings, _ train: FeatureMatrix, from zero: State, _ progress: (ProbeEvent) -> Void,
    fitPath: ([Int], [Int], [Double], Bool) throws -> [(FoldScore, State?)]
  ) throws -> (lambda: Double, start: State, sweep: [SweepPoint]) {
    let lambdas = settings.lambdas.sorted(by: >)
    guard lambdas.count > 1 else { return (lambdas[0], zero, []) }
    var firstFold: [State?] = []
    let choice = try chooseLambda(lambdas, train, settings, progress) { keep, held in
      let fits = try fitPath(keep, held, lambdas, firstFold.isEmpty)
      if firstFold.isEmpty { firstFold = fits.map(\.1) }
      return fits.map(\.0)
    }
    let i = choice.index
    progress(.refit(lambda: lambdas[i]))
    return (lambdas[i], firstFold.indices.contains(i) ? firstFold[i] ?? zero : zero, choice.sweep)
  }

  /// Picks the index of the best of `lambdas` by validation: 5-fold cross-validation (stratified) for fewer
  /// than 2000 train rows, where one small held-out part is too noisy, else one held-out part of
  /// `validationFraction`. `fitPath(keep, held)` fits every value in order and scores it on `held`.
  static func chooseLambda(
    _ lambdas: [Double], _ train: FeatureMatrix, _ settings: ProbeSettings, _ progress: (ProbeEvent) -> Void,
    fitPath: ([Int], [Int]) throws -> [FoldScore]
  ) throws -> (index: Int, sweep: [SweepPoint]) {
    let all = Array(0..<train.rows)
    let folds: [(keep: [Int], held: [Int])] =
      train.rows < 2000
      ? SplitRows.folds(all, labels: train.labels, count: 5, seed: settings.seed)
      : [SplitRows.holdOut(all, labels: train.labels, fraction: settings.validationFraction, seed: settings.seed)]
    var totals = [FoldScore](repeating: .zero, count: lambdas.count)
    for fold in folds where !fold.held.isEmpty && !fold.keep.isEmpty {
      for (i, score) in try fitPath(fold.keep, fold.held).enumerated() {
        totals[i].correct += score.correct
        totals[i].lossSum += score.lossSum
        totals[i].rows += score.rows
        totals[i].iterations += score.iterations
      }
    }
    var best = 0
    var sweep: [SweepPoint] = []
    for (i, total) in totals.enumerated() {
      let rows = Double(max(total.rows, 1))
      let point = SweepPoint(
        lambda: lambdas[i], validationAccuracy: Double(total.correct) / rows, validationLoss: total.lossSum / rows,
        iterations: total.iterations)
      sweep.append(point)
      progress(.sweep(point))
      if total.correct > totals[best].correct || (total.correct == totals[best].correct && total.lossSum < totals[best].lossSum) {
        best = i
      }
    }
    return (best, sweep)
  }
}
