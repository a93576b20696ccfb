// A linear softmax classifier: the model every featx head is.

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
