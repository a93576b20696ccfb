// Axis ticks and their labels: "nice" steps of 1, 2 or 5 × 10^k and numbers written with as many decimals
// as the step needs (without Foundation), shared by the line chart's axes and the heatmap's colour bar.

import Glibc

/// A tick mark on an axis: the pixel row or column it is drawn at, and its label.
struct PlotTick {
  var position: Int
  var label: String
}

/// "Nice" axis ticks: steps of 1, 2 or 5 × 10^k, labelled with as many decimals as the step needs.
enum PlotTicks {
  /// A nice step dividing `span` into about `count` parts.
  static func step(span: Double, count: Int) -> Double {
    guard span.isFinite, span > 0 else { return 1 }
    let raw = span / Double(max(1, count))
    let magnitude = pow(10, floor(log10(raw)))
    let f = raw / magnitude
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude
  }

  /// The nice step after `step` (1 → 2 → 5 → 10 …).
  static func larger(_ step: Double) -> Double {
    let magnitude = pow(10, floor(log10(step) + 1e-9))
    let f = (step / magnitude).rounded()
    return (f < 2 ? 2 : f < 5 ? 5 : 10) * magnitude
  }

  /// The multiples of `step` in `low...high` (with a little tolerance for rounding).
  static func values(from low: Double, to high: Double, step: Double) -> [Double] {
    let first = (low / step - 1e-6).rounded(.up)
    let last = (high / step + 1e-6).rounded(.down)
    guard first <= last, last - first < 1000 else { return [] }
    return stride(from: first, through: last, by: 1).map { $0 * step }
  }

  /// The label of tick `value` on an axis with ticks every `step`.
  static func label(_ value: Double, step: Double, largest: Double) -> String {
    if abs(value) < step * 1e-6 { return "0" }
    let stepExponent = Int(floor(log10(step) + 1e-9))
    if step >= 1e-4 && largest < 1e6 { return fixed(value, decimals: max(0, -stepExponent)) }
    let exponent = Int(floor(log10(abs(value)) + 1e-9))
    let mantissa = value / pow(10, Double(exponent))
    return fixed(mantissa, decimals: min(6, max(0, exponent - stepExponent))) + "e\(exponent)"
  }

  /// `value` with exactly `decimals` digits after the point.
  static func fixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : value > 0 ? "inf" : "-inf" }
    var power = 1.0
    for _ in 0..<decimals { power *= 10 }
    let scaled = (abs(value) * power).rounded()
    guard scaled < 9e15 else { return "\(value)" }
    var digits = String(Int(scaled))
    if decimals > 0 {
      if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
      digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
    }
    return (value < 0 && scaled != 0 ? "-" : "") + digits
  }
}
