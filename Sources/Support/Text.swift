extension Character {
  /// True for the ten digits 0-9 only (`isNumber` alone also accepts "½" or "٣").
  public var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Character {
  /// Terminal columns the character takes: 2 for East Asian wide and fullwidth characters and emoji, 0 for a
  /// lone combining mark or format character, else 1 (a base letter with combining marks is one column).
  public var displayWidth: Int {
    if unicodeScalars.contains(where: \.isWide) { return 2 }
    if unicodeScalars.allSatisfy(\.isZeroWidth) { return 0 }
    return 1
  }
}

extension Unicode.Scalar {
  /// East Asian Wide (W) or Fullwidth (F) in Unicode's EastAsianWidth.txt, or an emoji shown as a picture.
  fileprivate var isWide: Bool {
    let v = value
    return (0x1100...0x115F).contains(v) || (0x231A...0x231B).contains(v) || (0x2329...0x232A).contains(v)
      || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v) || (0x3400...0x4DBF).contains(v)
      || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v) || (0xA960...0xA97F).contains(v)
      || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE10...0xFE19).contains(v)
      || (0xFE30...0xFE6F).contains(v) || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v)
      || (0x1F300...0x1F64F).contains(v) || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v)
  }

  /// Combining marks, enclosing marks and format characters (zero-width joiner, variation selectors).
  fileprivate var isZeroWidth: Bool {
    switch properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .format: return true
    default: return (0xFE00...0xFE0F).contains(value)
    }
  }
}

extension String {
  /// Terminal columns the text takes (see `Character.displayWidth`): 玫瑰 is 4, "Rosé" 4 whether the é is
  /// one character or e plus a combining accent.
  public var displayWidth: Int { reduce(0) { $0 + $1.displayWidth } }

  /// The text followed by spaces up to `width` columns (never cut), so that table columns line up in
  /// any script.
  public func padded(toWidth width: Int) -> String {
    self + String(repeating: " ", count: max(0, width - displayWidth))
  }
}
