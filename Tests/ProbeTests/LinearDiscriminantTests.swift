import Foundation
import Probe
import Testing
import TestSupport

/// `--recipe lda` against scikit-learn's LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1) on the
/// same rows (Tests/Fixtures/probe/lda_reference.json, tools/make_lda_fixture.py).
@Suite struct LinearDiscriminantTests {
  struct Reference: Decodable {
    let shrinkage: Double
    let dimension: Int
    let classes: Int
    let features: [Float]
    let labels: [Int]
    let weights: [Double]
    let bias: [Double]
    let predictions: [Int]
  }

  static func reference() throws -> Reference {
    let url = TestPaths.fixture("probe/lda_reference.json")
    return try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: url))
  }

  @Test func sameWeightsAndPredictionsAsScikitLearn() throws {
    let r = try Self.reference()
    let train = FeatureMatrix(values: r.features, dimension: r.dimension, labels: r.labels)
    var settings = ProbeSettings()
    settings.solver = .discriminant
    settings.shrinkage = r.shrinkage
    settings.covarianceRows = r.labels.count  // every row, as scikit-learn
    let probe = try ProbeTrainer.train(
      ProbeDataset(train: train, test: nil, classes: (0..<r.classes).map { "c\($0)" }), settings: settings)
    let scale = r.weights.map(abs).max()!
    let worst = zip(probe.model.weights, r.weights).map { abs(Double($0) - $1) }.max()!
    #expect(worst / scale < 1e-5, "weights: max |Δ| \(worst) of \(scale)")
    for (ours, theirs) in zip(probe.model.bias, r.bias) { #expect(abs(Double(ours) - theirs) < 1e-4 * max(1, abs(theirs))) }
    let logits = try probe.model.logits(train)
    let predicted = (0..<train.rows).map { row in
      (0..<r.classes).max { logits[row * r.classes + $0] < logits[row * r.classes + $1] }!
    }
    #expect(predicted == r.predictions)
  }

  /// The factorisation and solve on their own: (L·Lᵀ) X = B for a random symmetric positive-definite matrix.
  @Test func choleskySolveInvertsTheMatrix() throws {
    var rng = SplitMix64(state: 5)
    let n = 37
    let columns = 5
    let m = (0..<(n * n)).map { _ in Double.random(in: -1...1, using: &rng) }
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n { a[i * n + j] = (0..<n).reduce(0.0) { $0 + m[i * n + $1] * m[j * n + $1] } + (i == j ? 0.5 : 0) }
    }
    let b = (0..<(n * columns)).map { _ in Double.random(in: -1...1, using: &rng) }
    var factor = a
    try LinearDiscriminant.cholesky(&factor, n: n)
    var x = b
    LinearDiscriminant.solve(lower: factor, n: n, columns: columns, &x)
    for i in 0..<n {
      for c in 0..<columns {
        let back = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * x[$1 * columns + c] }
        #expect(abs(back - b[i * columns + c]) < 1e-9, "row \(i) column \(c)")
      }
    }
    var singular = [Double](repeating: 1, count: 4)  // [[1, 1], [1, 1]]
    #expect(throws: ProbeError.notPositiveDefinite(column: 1)) { try LinearDiscriminant.cholesky(&singular, n: 2) }
  }
}
