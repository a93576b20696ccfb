import Foundation
import Support

/// Compares the softmax objective's analytic gradient with central finite differences, for tests and
/// for anyone changing the objective.
///
/// The analytic gradient is the objective's own (float32, as training uses it); the finite differences
/// are taken of the same loss computed independently in float64, so they are exact to about 1e-9 and a
/// systematic error of the gradient shows at its own size: `tolerance` is 1e-4, which a 1 % error
/// (relative error ≈ 1e-2 on every coordinate whose gradient is not tiny) fails 100 times over.
public enum GradientCheck {
  /// The largest relative error a correct gradient shows: float32 rounding of the analytic gradient is
  /// ~1e-6 of it; a 1 % systematic error is 1e-2.
  public static let tolerance = 1e-4

  public struct Result: Sendable {
    /// Largest |analytic - numeric| / max(|analytic|, |numeric|, 1e-3) over the checked coordinates.
    public var maxRelativeError: Double
    /// The parameter index where it occurred.
    public var worst: Int
    /// True when `maxRelativeError` is within `GradientCheck.tolerance`.
    public var passes: Bool { maxRelativeError <= GradientCheck.tolerance }
  }

  /// Checks `coordinates` random parameters (weights and biases) at random parameters. `analyticScale`
  /// multiplies the analytic gradient before the comparison: 1 for the check itself; the check's own test
  /// sets 1.01 to show that a 1 % systematic error fails.
  public static func run(
    _ data: FeatureMatrix, classes: Int, lambda: Double, standardize: Bool, seed: UInt32, coordinates: Int = 40,
    step: Double = 1e-4, analyticScale: Double = 1
  ) throws -> Result {
    let standardization = standardize ? try Standardization.fit(data) : nil
    let objective = SoftmaxObjective(data: data, classes: classes, lambda: lambda, standardization: standardization)
    let reference = try Float64Objective(data: data, classes: classes, lambda: lambda, standardization: standardization)
    var rng = NumpyRandomState(seed: seed)
    let x = (0..<objective.parameterCount).map { _ in Float(rng.normal(mean: 0, std: 0.1)) }
    let (_, gradient) = try objective.evaluate(x)
    var point = x.map(Double.init)
    var worst = (error: 0.0, index: 0)
    for _ in 0..<coordinates {
      let i = Int(rng.interval(max: UInt64(x.count - 1)))
      let saved = point[i]
      point[i] = saved + step
      let plus = reference.loss(point)
      point[i] = saved - step
      let minus = reference.loss(point)
      point[i] = saved
      let numeric = (plus - minus) / (2 * step)
      let analytic = Double(gradient[i]) * analyticScale
      let error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-3)
      if error > worst.error { worst = (error, i) }
    }
    return Result(maxRelativeError: worst.error, worst: worst.index)
  }
}

/// `SoftmaxObjective`'s loss, `mean_i CE(s(x_i) W + b, y_i) + (lambda / 2) ||W||²` with `s` the
/// standardisation (or none), computed plainly in float64: the finite differences' function.
private struct Float64Objective {
  let values: [Double]
  let labels: [Int]
  let rows: Int
  let dimension: Int
  let classes: Int
  let lambda: Double

  init(data: FeatureMatrix, classes: Int, lambda: Double, standardization: Standardization?) throws {
    let d = data.dimension
    var values = try data.values().map(Double.init)
    if let s = standardization {
      for r in 0..<data.rows {
        for j in 0..<d { values[r * d + j] = (values[r * d + j] - Double(s.mean[j])) / Double(s.std[j]) }
      }
    }
    self.values = values
    labels = data.labels
    rows = data.rows
    dimension = d
    self.classes = classes
    self.lambda = lambda
  }

  /// The loss at `parameters` (`[W..., b...]`, `W[j * classes + k]`).
  func loss(_ parameters: [Double]) -> Double {
    let (d, c) = (dimension, classes)
    var total = 0.0
    var logits = [Double](repeating: 0, count: c)
    for r in 0..<rows {
      for k in 0..<c { logits[k] = parameters[d * c + k] }
      for j in 0..<d {
        let v = values[r * d + j]
        for k in 0..<c { logits[k] += v * parameters[j * c + k] }
      }
      let top = logits.max() ?? 0
      let sum = logits.reduce(0.0) { $0 + exp($1 - top) }
      total += top + log(sum) - logits[labels[r]]
    }
    var penalty = 0.0
    for i in 0..<(d * c) { penalty += parameters[i] * parameters[i] }
    return total / Double(rows) + lambda / 2 * penalty
  }
}
