import ArgumentParser

/// Sizes given on the command line (`--max-memory 2G`).
enum MemorySize {
  /// Bytes of `text` (a number with an optional K, M, G or T, and an optional B); nil for nil.
  static func parse(_ text: String?, option: String) throws -> Int? {
    guard let text else { return nil }
    let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
    var number = text.uppercased()
    if number.hasSuffix("B") { number.removeLast() }
    var factor = 1.0
    if let last = number.last, let unit = units[last] {
      factor = unit
      number.removeLast()
    }
    guard let value = Double(number), value > 0, value.isFinite, value * factor < 9e18 else {
      throw ValidationError("\(option) takes a size like 2G or 500M, not '\(text)'")
    }
    return Int(value * factor)
  }
}
