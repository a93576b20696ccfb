// The probe for stores far larger than memory (ImageNet: 1.28 M rows x 2048): linear discriminant
// analysis, the softmax classifier of Gaussian classes that share one covariance. It needs one pass over
// the file (class means) and one GEMM over a seeded subsample of rows (the pooled within-class
// covariance), where full-batch L-BFGS needs two GEMMs over every row per iteration (about 5 TFLOP at
// ImageNet's shape, minutes each on two cores). The Cholesky factorisation and the triangular solves are
// written here because none of featx's libraries has them (oneDNN has no linear solver); at D = 2048 they
// take about a second.

import DNNL
import Foundation
import Support

/// Linear discriminant analysis with a shrunk pooled covariance Σ:
/// `logits = x · Σ⁻¹μ_c − ½ μ_c · Σ⁻¹μ_c + log π_c`.
package enum LinearDiscriminant {
  /// Rows per read of the class-mean pass (16 MB of float32 at D = 2048, f16 stores read half that).
  static let chunkRows = 2048

  /// Fits on `train`; `progress` hears about the passes over the rows.
  static func fit(
    _ train: FeatureMatrix, classes: Int, settings: ProbeSettings, progress: (ProbeEvent) -> Void
  ) throws -> LinearModel {
    let d = train.dimension
    let n = train.rows
    let clock = Date()
    // 1. Class means and counts: one pass, summed in double.
    var sums = [Double](repeating: 0, count: classes * d)
    var counts = [Int](repeating: 0, count: classes)
    try train.forEachChunk(maxRows: Self.chunkRows) { range, chunk in
      sums.withUnsafeMutableBufferPointer { s in
        for (i, row) in range.enumerated() {
          let label = train.labels[row]
          counts[label] += 1
          let target = s.baseAddress! + label * d
          let x = chunk.baseAddress! + i * d
          for j in 0..<d { target[j] += Double(x[j]) }
        }
      }
      progress(.pass(name: "class means", done: range.upperBound, total: n, seconds: Date().timeIntervalSince(clock)))
    }
    var means = [Float](repeating: 0, count: classes * d)
    for c in 0..<classes where counts[c] > 0 {
      for j in 0..<d { means[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
    }

    // 2. The pooled within-class covariance from a seeded subsample of rows, each minus its class mean.
    let k = min(n, max(settings.covarianceRows, 1))
    var rng = NumpyRandomState(seed: settings.seed)
    let picked = Array(rng.permutation(n).prefix(k)).sorted()
    var centred = [Float](repeating: 0, count: k * d)
    try centred.withUnsafeMutableBufferPointer { try train.gather(picked, into: $0) }
    for (i, row) in picked.enumerated() {
      let label = train.labels[row]
      for j in 0..<d { centred[i * d + j] -= means[label * d + j] }
    }
    progress(.pass(name: "covariance rows", done: n, total: n, seconds: Date().timeIntervalSince(clock)))
    var covariance = [Float](repeating: 0, count: d * d)
    try centred.withUnsafeBufferPointer { x in
      try covariance.withUnsafeMutableBufferPointer { s in
        try GEMM.multiply(x.baseAddress!, transposeA: true, x.baseAddress!, into: s.baseAddress!, m: d, n: d, k: k, lda: d)
      }
    }
    centred = []
    // Shrink towards a multiple of the identity (same trace): Σ' = (1 − α) Σ + α tr(Σ)/D · I.
    // Divided by the rows, as scikit-learn's LinearDiscriminantAnalysis (the reference) estimates it.
    var sigma = covariance.map { Double($0) / Double(k) }
    covariance = []
    let alpha = settings.shrinkage
    let trace = (0..<d).reduce(0.0) { $0 + sigma[$1 * d + $1] }
    for i in 0..<(d * d) { sigma[i] *= 1 - alpha }
    for i in 0..<d { sigma[i * d + i] += alpha * max(trace / Double(d), 1e-12) }

    // 3. W = Σ⁻¹ Mᵀ ([D, C]), by Cholesky.
    try Self.cholesky(&sigma, n: d)
    var w = [Double](repeating: 0, count: d * classes)
    for c in 0..<classes {
      for j in 0..<d { w[j * classes + c] = Double(means[c * d + j]) }
    }
    Self.solve(lower: sigma, n: d, columns: classes, &w)
    var bias = [Float](repeating: 0, count: classes)
    for c in 0..<classes {
      guard counts[c] > 0 else {
        bias[c] = -.greatestFiniteMagnitude / 2
        continue
      }
      var quadratic = 0.0
      for j in 0..<d { quadratic += Double(means[c * d + j]) * w[j * classes + c] }
      bias[c] = Float(-0.5 * quadratic + log(Double(counts[c]) / Double(n)))
    }
    return LinearModel(dimension: d, classes: classes, weights: w.map { Float($0) }, bias: bias)
  }

  /// In place, the lower Cholesky factor L of a symmetric positive-definite `n` × `n` row-major matrix
  /// (A = L·Lᵀ); the upper triangle is left as it was.
  package static func cholesky(_ a: inout [Double], n: Int) throws {
    try a.withUnsafeMutableBufferPointer { a in
      let p = a.baseAddress!
      for j in 0..<n {
        let rowJ = p + j * n
        var diagonal = rowJ[j]
        for k in 0..<j { diagonal -= rowJ[k] * rowJ[k] }
        guard diagonal > 0, diagonal.isFinite else { throw ProbeError.notPositiveDefinite(column: j) }
        let root = diagonal.squareRoot()
        rowJ[j] = root
        for i in (j + 1)..<max(j + 1, n) {
          let rowI = p + i * n
          var s = rowI[j]
          for k in 0..<j { s -= rowI[k] * rowJ[k] }
          rowI[j] = s / root
        }
      }
    }
  }

  /// Solves (L·Lᵀ) X = B in place for `columns` right-hand sides (`b` is `n` × `columns`, row-major).
  package static func solve(lower l: [Double], n: Int, columns: Int, _ b: inout [Double]) {
    l.withUnsafeBufferPointer { l in
      b.withUnsafeMutableBufferPointer { b in
        let (lp, bp) = (l.baseAddress!, b.baseAddress!)
        // L Y = B, row by row.
        for i in 0..<n {
          let row = bp + i * columns
          for k in 0..<i {
            let factor = lp[i * n + k]
            let other = bp + k * columns
            for c in 0..<columns { row[c] -= factor * other[c] }
          }
          let pivot = lp[i * n + i]
          for c in 0..<columns { row[c] /= pivot }
        }
        // Lᵀ X = Y, from the last row up.
        for i in stride(from: n - 1, through: 0, by: -1) {
          let row = bp + i * columns
          let pivot = lp[i * n + i]
          for c in 0..<columns { row[c] /= pivot }
          for k in 0..<i {
            let factor = lp[i * n + k]
            let other = bp + k * columns
            for c in 0..<columns { other[c] -= factor * row[c] }
          }
        }
      }
    }
  }
}
