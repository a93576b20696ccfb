// Numerically stable softmax, cross-entropy and residuals over row-major logits.

import Dispatch
import Foundation

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
