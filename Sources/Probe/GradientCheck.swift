import Support

/// Compares the softmax objective's analytic gradient with central finite differences, for tests and
/// for anyone changing the objective.
public enum GradientCheck {
  public struct Result: Sendable {
    /// Largest |analytic - numeric| / max(|analytic|, |numeric|, 1e-3) over the checked coordinates.
    public var maxRelativeError: Double
    /// The parameter index where it occurred.
    public var worst: Int
  }

  /// Checks `coordinates` random parameters (weights and biases) at random parameters.
  public static func run(
    _ data: FeatureMatrix, classes: Int, lambda: Double, standardize: Bool, seed: UInt32, coordinates: Int = 40,
    step: Float = 1e-2
  ) throws -> Result {
    let standardization = standardize ? try Standardization.fit(data) : nil
    let objective = SoftmaxObjective(data: data, classes: classes, lambda: lambda, standardization: standardization)
    var rng = NumpyRandomState(seed: seed)
    var x = (0..<objective.parameterCount).map { _ in Float(rng.normal(mean: 0, std: 0.1)) }
    let (_, gradient) = try objective.evaluate(x)
    var worst = (error: 0.0, index: 0)
    for _ in 0..<coordinates {
      let i = Int(rng.interval(max: UInt64(x.count - 1)))
      let saved = x[i]
      x[i] = saved + step
      let plus = try objective.evaluate(x).loss
      x[i] = saved - step
      let minus = try objective.evaluate(x).loss
      x[i] = saved
      let numeric = (plus - minus) / (2 * Double(step))
      let analytic = Double(gradient[i])
      let error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-3)
      if error > worst.error { worst = (error, i) }
    }
    return Result(maxRelativeError: worst.error, worst: worst.index)
  }
}
