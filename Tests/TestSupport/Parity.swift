import Foundation

/// How close featx's output is to a reference, measured the ways the parity tests require.
public struct ParityReport: CustomStringConvertible, Sendable {
  /// Smallest per-row cosine similarity.
  public var cosine: Double
  /// Smallest per-row cosine after subtracting the reference's per-column mean over rows (random-weight
  /// features share a large common component that plain cosine cannot see past); 1 with a single row.
  public var centredCosine: Double
  /// Mean over rows of that centred cosine (issue #13's fidelity measure); 1 with a single row.
  public var meanCentredCosine: Double
  /// max |actual - reference| / max |reference|.
  public var relativeMaxError: Double

  public var description: String {
    "cosine \(cosine), centred cosine \(centredCosine), max |Δ| / max |ref| \(relativeMaxError)"
  }

  /// Compares `rows` rows of `width` values.
  public init(actual: [Float], reference: [Float], rows: Int) {
    precondition(actual.count == reference.count && rows > 0 && reference.count % rows == 0, "ParityReport: shapes differ")
    let width = reference.count / rows
    var maxRef: Float = 0
    var maxDiff: Float = 0
    for i in reference.indices {
      maxRef = max(maxRef, abs(reference[i]))
      let d = abs(actual[i] - reference[i])
      maxDiff = d.isNaN ? .infinity : max(maxDiff, d)
    }
    relativeMaxError = Double(maxDiff) / Double(max(maxRef, .leastNormalMagnitude))
    var mean = [Double](repeating: 0, count: width)
    for r in 0..<rows { for j in 0..<width { mean[j] += Double(reference[r * width + j]) / Double(rows) } }
    var worst = 1.0
    var worstCentred = 1.0
    var sumCentred = 0.0
    for r in 0..<rows {
      let a = Array(actual[(r * width)..<((r + 1) * width)])
      let b = Array(reference[(r * width)..<((r + 1) * width)])
      worst = min(worst, TestSupport.cosine(a, b))
      if rows > 1 {
        let ac = a.indices.map { Float(Double(a[$0]) - mean[$0]) }
        let bc = b.indices.map { Float(Double(b[$0]) - mean[$0]) }
        let centred = TestSupport.cosine(ac, bc)
        worstCentred = min(worstCentred, centred)
        sumCentred += centred
      }
    }
    cosine = worst
    centredCosine = worstCentred
    meanCentredCosine = rows > 1 ? sumCentred / Double(rows) : 1
  }

  /// The acceptance: cosine ≥ 0.99999 per image, max |Δ| ≤ 1e-3 · max |ref|, and the same
  /// bound on the centred cosine.
  public func passes(cosine minimum: Double = 0.99999, relative: Double = 1e-3) -> Bool {
    cosine >= minimum && centredCosine >= minimum && relativeMaxError <= relative
  }
}
