// Multinomial logistic (softmax) regression: the model every featx head is, and its loss and gradient
// over a FeatureMatrix in row chunks (two GEMMs per chunk; nothing per sample in Swift but the softmax).

import DNNL
import Dispatch
import Foundation

/// Weights `[D, C]` and bias `[C]` of a linear softmax classifier, row-major.
public struct LinearModel: Sendable, Equatable {
  public var dimension: Int
  public var classes: Int
  /// `dimension * classes` values: `weights[d * classes + c]`.
  public var weights: [Float]
  public var bias: [Float]

  public init(dimension: Int, classes: Int, weights: [Float]? = nil, bias: [Float]? = nil) {
    self.dimension = dimension
    self.classes = classes
    self.weights = weights ?? [Float](repeating: 0, count: dimension * classes)
    self.bias = bias ?? [Float](repeating: 0, count: classes)
  }

  /// Flattened parameters `[weights..., bias...]` (what the optimisers work on).
  var parameters: [Float] { weights + bias }

  init(dimension: Int, classes: Int, parameters: [Float]) {
    self.init(
      dimension: dimension, classes: classes, weights: Array(parameters[0..<(dimension * classes)]),
      bias: Array(parameters[(dimension * classes)...]))
  }

  /// Logits `rows * classes` of `rows` feature rows (row-major).
  public func logits(_ x: UnsafeBufferPointer<Float>, rows: Int) throws -> [Float] {
    var out = [Float](repeating: 0, count: rows * classes)
    guard rows > 0 else { return out }
    try out.withUnsafeMutableBufferPointer { o in
      for r in 0..<rows { (o.baseAddress! + r * classes).update(from: bias, count: classes) }
      try weights.withUnsafeBufferPointer { w in
        try GEMM.multiply(x.baseAddress!, w.baseAddress!, into: o.baseAddress!, m: rows, n: classes, k: dimension, beta: 1)
      }
    }
    return out
  }

  /// Logits of every row of `matrix`.
  public func logits(_ matrix: FeatureMatrix) throws -> [Float] {
    var out = [Float](repeating: 0, count: matrix.rows * classes)
    try matrix.forEachChunk(maxRows: 1024) { range, chunk in
      out.replaceSubrange((range.lowerBound * classes)..<(range.upperBound * classes), with: try logits(chunk, rows: range.count))
    }
    return out
  }
}

/// Numerically stable softmax helpers.
public enum Softmax {
  /// Column sums of a row-major `rows × classes` matrix, added row by row in Float: the bias gradient of a
  /// residual `(P - Y) / n`.
  static func columnSums(_ matrix: UnsafeBufferPointer<Float>, classes: Int) -> [Float] {
    var sums = [Float](repeating: 0, count: classes)
    for row in 0..<(matrix.count / classes) { for k in 0..<classes { sums[k] += matrix[row * classes + k] } }
    return sums
  }

  /// Turns each row of `logits` into probabilities in place; returns the row's log-sum-exp.
  @inline(__always)
  static func normalizeRow(_ row: UnsafeMutableBufferPointer<Float>) -> Double {
    var maximum = -Float.infinity
    for v in row where v > maximum { maximum = v }
    var sum = 0.0
    for i in row.indices {
      let e = expf(row[i] - maximum)
      row[i] = e
      sum += Double(e)
    }
    let inverse = Float(1 / sum)
    for i in row.indices { row[i] *= inverse }
    return Double(maximum) + log(sum)
  }

  /// Turns each row of `logits` (`labels.count` rows) into the cross-entropy gradient
  /// `(softmax - onehot(label)) / divisor`, in place.
  ///
  /// - Returns: the summed cross-entropy and the number of rows whose largest logit (first on ties) is
  ///   the label.
  static func residualsInPlace(
    _ logits: UnsafeMutableBufferPointer<Float>, labels: some Collection<Int>, classes: Int, divisor: Float
  ) -> (crossEntropy: Double, correct: Int) {
    var total = 0.0
    var correct = 0
    for (r, y) in labels.enumerated() {
      let row = UnsafeMutableBufferPointer(rebasing: logits[(r * classes)..<((r + 1) * classes)])
      var best = 0
      for k in 1..<classes where row[k] > row[best] { best = k }
      if best == y { correct += 1 }
      let logit = row[y]
      total += normalizeRow(row) - Double(logit)
      row[y] -= 1
      for k in 0..<classes { row[k] /= divisor }
    }
    return (total, correct)
  }

  /// Probabilities of each row (`rows * classes`).
  public static func probabilities(_ logits: [Float], classes: Int) -> [Float] {
    var out = logits
    out.withUnsafeMutableBufferPointer { all in
      for r in 0..<(logits.count / classes) {
        _ = normalizeRow(UnsafeMutableBufferPointer(rebasing: all[(r * classes)..<((r + 1) * classes)]))
      }
    }
    return out
  }

  /// Mean cross-entropy of `logits` against `labels`.
  public static func meanCrossEntropy(_ logits: [Float], labels: [Int], classes: Int) -> Double {
    guard !labels.isEmpty else { return .nan }
    var total = 0.0
    var row = [Float](repeating: 0, count: classes)
    for (r, y) in labels.enumerated() {
      row.replaceSubrange(0..<classes, with: logits[(r * classes)..<((r + 1) * classes)])
      let lse = row.withUnsafeMutableBufferPointer { normalizeRow($0) }
      total += lse - Double(logits[r * classes + y])
    }
    return total / Double(labels.count)
  }
}

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
