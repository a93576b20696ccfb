extension Character {
  /// True for the ten digits 0-9 only (`isNumber` alone also accepts "½" or "٣").
  public var isASCIIDigit: Bool { isASCII && isNumber }
}
