// The L2-regularised softmax loss and its gradient over a FeatureMatrix, in row chunks (two GEMMs per
// chunk; nothing per sample in Swift but the softmax).

import DNNL
import Dispatch
import Foundation

/// `mean_i CE(x_i W + b, y_i) + (lambda / 2) ||W||²` and its gradient, over a FeatureMatrix.
final class SoftmaxObjective {
  let data: FeatureMatrix
  let classes: Int
  let lambda: Double
  let standardization: Standardization?
  /// Rows per GEMM chunk.
  let chunkRows: Int
  /// Mean cross-entropy (without the penalty) and accuracy at the last evaluated point.
  private(set) var lastCrossEntropy = Double.nan
  private(set) var lastAccuracy = Double.nan

  init(data: FeatureMatrix, classes: Int, lambda: Double, standardization: Standardization?) {
    self.data = data
    self.classes = classes
    self.lambda = lambda
    self.standardization = standardization
    chunkRows = max(64, min(4096, (64 << 20) / max(1, data.dimension * 4)))
  }

  var parameterCount: Int { data.dimension * classes + classes }

  /// Loss and gradient at `parameters` (`[W..., b...]`, in standardised space when standardising).
  func evaluate(_ parameters: [Float]) throws -> (loss: Double, gradient: [Float]) {
    let d = data.dimension
    let c = classes
    let n = Double(data.rows)
    let model = LinearModel(dimension: d, classes: c, parameters: parameters)
    let effective = standardization?.fold(model) ?? model
    var gradient = [Float](repeating: 0, count: parameters.count)
    var columnSums = [Double](repeating: 0, count: c)
    var total = 0.0
    var correct = 0
    var first = true
    try data.forEachChunk(maxRows: chunkRows) { range, chunk in
      var probabilities = try effective.logits(chunk, rows: range.count)
      let pieces = probabilities.withUnsafeMutableBufferPointer {
        Softmax.residualsInPlace($0, labels: data.labels[range], classes: c, divisor: Float(n))
      }
      total += pieces.crossEntropy
      correct += pieces.correct
      for r in 0..<range.count { for k in 0..<c { columnSums[k] += Double(probabilities[r * c + k]) } }
      // gradient_W += chunkᵀ · R
      try gradient.withUnsafeMutableBufferPointer { g in
        try probabilities.withUnsafeBufferPointer { residual in
          try GEMM.multiply(
            chunk.baseAddress!, transposeA: true, residual.baseAddress!, into: g.baseAddress!, m: d, n: c, k: range.count,
            beta: first ? 0 : 1)
        }
      }
      first = false
    }
    if let s = standardization {
      for j in 0..<d {
        for k in 0..<c { gradient[j * c + k] = (gradient[j * c + k] - s.mean[j] * Float(columnSums[k])) / s.std[j] }
      }
    }
    var penalty = 0.0
    for i in 0..<(d * c) {
      let w = parameters[i]
      penalty += Double(w) * Double(w)
      gradient[i] += Float(lambda) * w
    }
    for k in 0..<c { gradient[d * c + k] = Float(columnSums[k]) }
    lastCrossEntropy = total / n
    lastAccuracy = Double(correct) / n
    return (total / n + lambda / 2 * penalty, gradient)
  }
}
