import Backbones  // reads the fixtures (.safetensors)
import DNNL
import Foundation
import Probe
import Support
import Testing
import TestSupport
import Weights

/// The digits problem of tests/Fixtures/probe (sklearn's bundled 8x8 digits, fixed 80/20 split).
struct Digits {
  let train: FeatureMatrix
  let test: FeatureMatrix
  let fixture: StateDict

  init(scale: Float = 1) throws {
    fixture = try Checkpoint.load(path: TestPaths.fixture("probe/digits.safetensors").path)
    let x = fixture.tensors["X"]!.integers.map { Float($0) * scale }
    let y = fixture.tensors["y"]!.integers.map { Int($0) }
    let split = fixture.tensors["split"]!.integers
    let trainRows = split.indices.filter { split[$0] == 0 }
    let testRows = split.indices.filter { split[$0] == 1 }
    func matrix(_ rows: [Int]) -> FeatureMatrix {
      FeatureMatrix(values: rows.flatMap { x[($0 * 64)..<(($0 + 1) * 64)] }, dimension: 64, labels: rows.map { y[$0] })
    }
    train = matrix(trainRows)
    test = matrix(testRows)
  }

  var dataset: ProbeDataset { ProbeDataset(train: train, test: test, classes: (0..<10).map { "digit \($0)" }) }
}

@Suite struct SoftmaxObjectiveTests {
  /// The analytic gradient against central finite differences of the loss in float64, on random parameters.
  @Test(arguments: [false, true])
  func gradientMatchesFiniteDifferences(standardize: Bool) throws {
    let digits = try Digits(scale: 1 / 16)
    let small = digits.train.subset(Array(0..<120))
    let check = try GradientCheck.run(small, classes: 10, lambda: 1e-2, standardize: standardize, seed: 3)
    print("gradient check (standardize \(standardize)): max relative error \(check.maxRelativeError)")
    #expect(check.passes, "max relative error \(check.maxRelativeError) at \(check.worst), tolerance \(GradientCheck.tolerance)")
  }

  /// A gradient 1 % off everywhere (the analytic gradient scaled by 1.01, or by 0.99) fails the check.
  @Test(arguments: [false, true], [1.01, 0.99])
  func aOnePercentSystematicErrorFails(standardize: Bool, scale: Double) throws {
    let digits = try Digits(scale: 1 / 16)
    let small = digits.train.subset(Array(0..<120))
    let check = try GradientCheck.run(
      small, classes: 10, lambda: 1e-2, standardize: standardize, seed: 3, analyticScale: scale)
    #expect(!check.passes, "max relative error \(check.maxRelativeError), tolerance \(GradientCheck.tolerance)")
    #expect(check.maxRelativeError > 5e-3, "\(check.maxRelativeError)")
  }

  @Test func separableProblemReachesHundredPercent() throws {
    struct Problem: Decodable {
      var X: [[Double]]
      var y: [Int]
    }
    let problem = try JSONDecoder().decode(Problem.self, from: Data(contentsOf: TestPaths.fixture("probe/separable.json")))
    let matrix = FeatureMatrix(values: problem.X.flatMap { $0.map { Float($0) } }, dimension: 5, labels: problem.y)
    var settings = ProbeSettings()
    settings.lambdas = [1e-4]
    let probe = try ProbeTrainer.train(ProbeDataset(train: matrix, test: nil, classes: ["a", "b", "c"]), settings: settings)
    let predicted = Metrics.argmax(try probe.model.logits(matrix), classes: 3)
    #expect(Metrics.accuracy(predicted: predicted, labels: problem.y) == 1)
    // The known separator is argmax of the first three coordinates: the learned weights agree on the
    // direction (each class's own coordinate has the largest weight in its column).
    for c in 0..<3 {
      let column = (0..<5).map { probe.model.weights[$0 * 3 + c] }
      #expect(column.indices.max { column[$0] < column[$1] } == c)
    }
  }
}

@Suite struct RowSpaceSolverTests {
  /// With more features than rows, L-BFGS on the Gram matrix reaches the primal solver's optimum.
  /// Digits / 16 are exact in bfloat16, so the bfloat16 Gram matrix gives the same optimum too.
  @Test(arguments: [false, true], [GramPrecision.float32, .automatic])
  func sameOptimumAsThePrimalSolver(standardize: Bool, precision: GramPrecision) throws {
    let digits = try Digits(scale: 1 / 16)
    let few = digits.train.subset(Array(0..<48))
    let data = ProbeDataset(
      train: FeatureMatrix(values: try few.values(), dimension: 64, labels: few.labels), test: digits.test,
      classes: (0..<10).map { "\($0)" })
    var settings = ProbeSettings()
    settings.lambdas = [1e-2]
    settings.standardize = standardize
    settings.gramPrecision = standardize ? .float32 : precision
    settings.tolerance = 1e-7
    settings.rowSpaceTolerance = 1e-7
    settings.maxIterations = 3000
    settings.solveInRowSpace = false
    let primal = try ProbeTrainer.train(data, settings: settings)
    settings.solveInRowSpace = true
    let dual = try ProbeTrainer.train(data, settings: settings)
    let a = Softmax.probabilities(try primal.model.logits(digits.test), classes: 10)
    let b = Softmax.probabilities(try dual.model.logits(digits.test), classes: 10)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 1
    #expect(worst < 2e-3, "largest probability difference \(worst)")
    #expect(closeness(dual.model.weights, primal.model.weights, rtol: 0, atol: 0.05) == nil)
    // The sweep picks a value and refits in the row space too.
    settings.lambdas = [1e-1, 1e-2, 1e-3]
    let swept = try ProbeTrainer.train(data, settings: settings)
    #expect(swept.sweep.count == 3)
    #expect(swept.history.last.map { $0.trainAccuracy > 0.9 } == true)
  }
}

@Suite struct GramMatrixTests {
  /// Rows of mixed signs and scales (a few large values, many small), from a fixed generator.
  static func rows(_ count: Int, _ dimension: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<(count * dimension)).map { i in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      let unit = Float(state >> 40) / Float(1 << 24) - 0.5
      return i % 97 == 0 ? unit * 40 : unit
    }
  }

  /// Products in double of the given rows, as the reference.
  static func reference(_ left: [Float], _ right: [Float], _ n: Int, _ m: Int, _ d: Int) -> [Double] {
    (0..<(n * m)).map { k in
      let (i, j) = (k / m, k % m)
      return (0..<d).reduce(0.0) { $0 + Double(left[i * d + $1]) * Double(right[j * d + $1]) }
    }
  }

  /// bfloat16 rounding (nearest even) of every value.
  static func bfloat16(_ values: [Float]) -> [Float] {
    values.map { v in
      var bits = v.bitPattern
      bits = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
      return Float(bitPattern: bits)
    }
  }

  /// Shapes that cross tile (256) and chunk (4096) edges: 300 train rows, 70 test rows, 4100 features.
  @Test func tiledFloat32ProductsMatchTheReference() throws {
    try checkTiledProducts(.float32)
  }

  /// The same in bfloat16, which featx refuses (and so cannot test) on CPUs without native bfloat16.
  @Test(.enabled(if: CPU.nativeBFloat16, "needs AVX512_BF16 or AMX (oneDNN's native bfloat16), which this CPU lacks"))
  func tiledBFloat16ProductsMatchTheReference() throws {
    try checkTiledProducts(.bfloat16)
  }

  func checkTiledProducts(_ precision: GramPrecision) throws {
    #expect(try precision.resolved() == precision)
    let (n, m, d) = (300, 70, 4100)
    let x = Self.rows(n, d, seed: 1)
    let t = Self.rows(m, d, seed: 2)
    let train = FeatureMatrix(values: x, dimension: d, labels: [Int](repeating: 0, count: n))
    let test = FeatureMatrix(values: t, dimension: d, labels: [Int](repeating: 0, count: m))
    let (gram, cross) = try GramMatrix.compute(train: train, test: test, standardization: nil, precision: precision)
    // In bfloat16, K is the Gram matrix of the rounded rows (products exact, sums in float32).
    let (xr, tr) = precision == .bfloat16 ? (Self.bfloat16(x), Self.bfloat16(t)) : (x, t)
    let expectedGram = Self.reference(xr, xr, n, n, d)
    let expectedCross = Self.reference(tr, xr, m, n, d)
    let scale = expectedGram.map(abs).max()!
    let worst = zip(gram.values, expectedGram).map { abs(Double($0) - $1) }.max()!
    let worstCross = zip(cross!.values, expectedCross).map { abs(Double($0) - $1) }.max()!
    #expect(worst < 1e-5 * scale && worstCross < 1e-5 * scale, "worst \(worst), \(worstCross) of \(scale)")
    #expect(gram.rows == n && gram.columns == n && cross!.rows == m && cross!.columns == n)
    for i in 0..<n { for j in 0..<i { #expect(gram.values[i * n + j] == gram.values[j * n + i]) } }
    if precision == .bfloat16 {
      // ...and measurably not the float32 one: the rounding is real, not skipped.
      let exact = Self.reference(x, x, n, n, d)
      #expect(zip(gram.values, exact).map { abs(Double($0) - $1) }.max()! > 1e-4 * scale)
    }
  }

  /// Standardisation happens while packing: the same matrix as the Gram of standardised rows.
  @Test func standardisedRows() throws {
    let (n, d) = (40, 300)
    let x = Self.rows(n, d, seed: 3)
    let train = FeatureMatrix(values: x, dimension: d, labels: [Int](repeating: 0, count: n))
    let standardization = try Standardization.fit(train)
    let z = (0..<(n * d)).map { (x[$0] - standardization.mean[$0 % d]) / standardization.std[$0 % d] }
    let (gram, cross) = try GramMatrix.compute(
      train: train, test: nil, standardization: standardization, precision: .float32)
    #expect(cross == nil)
    let expected = Self.reference(z, z, n, n, d)
    let worst = zip(gram.values, expected).map { abs(Double($0) - $1) }.max()!
    #expect(worst < 1e-3, "worst \(worst)")
    #expect(abs(Double(gram.values[0]) - expected[0]) < 1e-3 && expected[0] > 100)
  }
}

@Suite struct ScikitLearnParityTests {
  /// sklearn minimises `C Σ CE + ½||W||²`, i.e. featx's `mean CE + λ/2 ||W||²` with λ = 1 / (C n).
  @Test(arguments: [0.01, 0.1, 1.0])
  func standardisedLogisticRegressionMatchesSklearn(c: Double) throws {
    let digits = try Digits()
    var settings = ProbeSettings()
    settings.lambdas = [1 / (c * Double(digits.train.rows))]
    settings.standardize = true
    settings.tolerance = 1e-6
    settings.maxIterations = 2000
    let probe = try ProbeTrainer.train(digits.dataset, settings: settings)
    let logits = try probe.model.logits(digits.test)
    let probabilities = Softmax.probabilities(logits, classes: 10)
    let key = "C\(c).std"
    let reference = try #require(digits.fixture.tensors["\(key).test_proba"]?.values)
    let referenceAccuracy = Metrics.accuracy(
      predicted: Metrics.argmax(reference, classes: 10), labels: digits.test.labels)
    let accuracy = Metrics.accuracy(predicted: Metrics.argmax(logits, classes: 10), labels: digits.test.labels)
    #expect(abs(accuracy - referenceAccuracy) <= 0.005, "featx \(accuracy) vs sklearn \(referenceAccuracy)")
    let worst = zip(probabilities, reference).map { abs($0 - $1) }.max() ?? 1
    #expect(worst < 2e-3, "largest probability difference \(worst)")
  }
}

@Suite struct AdamRecipeTests {
  /// featx's Adam run of the seed recipe against PyTorch's (different initialisation and shuffling
  /// streams, same recipe): the per-epoch numbers the seed prints inside a widened band of five torch seeds.
  @Test func lossFollowsPyTorchsAdamRun() throws {
    let digits = try Digits(scale: 1 / 16)
    let fixture = try Checkpoint.load(path: TestPaths.fixture("probe/adam_recipe.safetensors").path)
    var settings = ProbeSettings.seedRecipe
    settings.learningRate = 1e-3
    settings.epochs = 30
    let probe = try ProbeTrainer.train(digits.dataset, settings: settings)
    #expect(probe.history.count == 30)
    // The seed's printed numbers: loss = batch-mean losses summed / rows, and accuracy, both as the epoch ran.
    let lossMin = fixture.tensors["envelope.loss.min"]!.values
    let lossMax = fixture.tensors["envelope.loss.max"]!.values
    let trainMin = fixture.tensors["envelope.accuracy.min"]!.values
    let trainMax = fixture.tensors["envelope.accuracy.max"]!.values
    let accMin = fixture.tensors["envelope.test_accuracy.min"]!.values
    let accMax = fixture.tensors["envelope.test_accuracy.max"]!.values
    func inside(_ value: Double, _ low: Float, _ high: Float, floor: Double) -> Bool {
      // Two band widths on each side, or `floor` from epoch 5 on (see Fixtures/probe/README.md).
      let slack = max(2 * Double(high - low), floor)
      return value >= Double(low) - slack && value <= Double(high) + slack
    }
    for (epoch, point) in probe.history.enumerated() {
      let late = epoch >= 5
      let loss = point.seedLoss ?? .nan
      #expect(
        inside(loss, lossMin[epoch], lossMax[epoch], floor: late ? 0.03 / 64 : 0),
        "epoch \(epoch): seed loss \(loss) outside [\(lossMin[epoch]), \(lossMax[epoch])]")
      #expect(
        inside(point.trainAccuracy, trainMin[epoch], trainMax[epoch], floor: late ? 0.05 : 0),
        "epoch \(epoch): train accuracy \(point.trainAccuracy) outside [\(trainMin[epoch]), \(trainMax[epoch])]")
      let accuracy = point.testAccuracy ?? 0
      #expect(
        inside(accuracy, accMin[epoch], accMax[epoch], floor: late ? 0.05 : 0),
        "epoch \(epoch): test accuracy \(accuracy) outside [\(accMin[epoch]), \(accMax[epoch])]")
    }
    // The seed's printed loss is the sum of batch means over rows: about featx's mean loss (as the epoch ran) / 64.
    let first = try #require(probe.history.first)
    #expect(abs((first.seedLoss ?? 0) * Double(64) - first.trainLoss) < 0.3)
    // Deterministic for a seed.
    let again = try ProbeTrainer.train(digits.dataset, settings: settings)
    #expect(again.model.weights == probe.model.weights)
  }
}

@Suite struct MetricsTests {
  @Test func handComputedValues() {
    let scores: [Float] = [0.1, 0.7, 0.2, 0.5, 0.4, 0.1, 0.3, 0.3, 0.4]
    let labels = [1, 1, 2]
    #expect(Metrics.argmax(scores, classes: 3) == [1, 0, 2])
    #expect(Metrics.accuracy(predicted: [1, 0, 2], labels: labels) == 2.0 / 3)
    #expect(Metrics.topK(scores, labels: labels, classes: 3, k: 2) == 1)
    #expect(Metrics.topK(scores, labels: [0, 2, 0], classes: 3, k: 1) == 0)
    let confusion = Metrics.confusionMatrix(predicted: [1, 0, 2], labels: labels, classes: 3)
    #expect(confusion == [[0, 0, 0], [1, 1, 0], [0, 0, 1]])
    let perClass = Metrics.perClassAccuracy(confusion)
    #expect(perClass[0].isNaN && perClass[1] == 0.5 && perClass[2] == 1)
  }
}
