// Per-feature standardisation, folded into the model's weights so that heads take raw features.

import Foundation

/// Per-feature standardisation `(x - mean) / std`, folded into the model instead of applied to the data.
public struct Standardization: Sendable, Equatable {
  public var mean: [Float]
  public var std: [Float]

  /// Mean and standard deviation of every column of `matrix` (std 1 for constant columns).
  public static func fit(_ matrix: FeatureMatrix) throws -> Standardization {
    let d = matrix.dimension
    var sum = [Double](repeating: 0, count: d)
    var squares = [Double](repeating: 0, count: d)
    try matrix.forEachChunk(maxRows: 1024) { range, chunk in
      for r in 0..<range.count {
        for j in 0..<d {
          let v = Double(chunk[r * d + j])
          sum[j] += v
          squares[j] += v * v
        }
      }
    }
    let n = Double(matrix.rows)
    let mean = sum.map { $0 / n }
    let std = (0..<d).map { j -> Float in
      let variance = max(0, squares[j] / n - mean[j] * mean[j])
      return variance > 1e-12 ? Float(variance.squareRoot()) : 1
    }
    return Standardization(mean: mean.map { Float($0) }, std: std)
  }

  /// The raw-feature model equal to `model` applied to standardised features.
  public func fold(_ model: LinearModel) -> LinearModel {
    var out = model
    let c = model.classes
    for d in 0..<model.dimension {
      let s = std[d]
      for k in 0..<c {
        let w = model.weights[d * c + k] / s
        out.weights[d * c + k] = w
        out.bias[k] -= mean[d] * w
      }
    }
    return out
  }
}
