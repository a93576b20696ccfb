// The look of the charts in one place: colours, fonts and spacing, and the small geometry types the
// chart layouts are computed in (pixels, x to the right, y down; 1 unit = 1 PNG pixel = 1 SVG px =
// 1 PDF point).

/// An sRGB colour.
struct PlotColor: Equatable, Sendable {
  var red: UInt8
  var green: UInt8
  var blue: UInt8

  init(red: UInt8, green: UInt8, blue: UInt8) {
    self.red = red
    self.green = green
    self.blue = blue
  }

  /// A colour written as `0xRRGGBB`.
  init(hex: UInt32) {
    self.init(red: UInt8((hex >> 16) & 0xff), green: UInt8((hex >> 8) & 0xff), blue: UInt8(hex & 0xff))
  }

  /// The colour at `t` (0...1) along evenly spaced `stops`, interpolated linearly in sRGB (as cairo's
  /// gradients are, so a cell and the colour bar agree).
  static func interpolate(_ stops: [PlotColor], _ t: Double) -> PlotColor {
    guard stops.count > 1 else { return stops.first ?? PlotColor(hex: 0) }
    let position = min(1, max(0, t.isNaN ? 0 : t)) * Double(stops.count - 1)
    let index = min(stops.count - 2, Int(position))
    let f = position - Double(index)
    func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * f).rounded()) }
    let (a, b) = (stops[index], stops[index + 1])
    return PlotColor(red: mix(a.red, b.red), green: mix(a.green, b.green), blue: mix(a.blue, b.blue))
  }
}

/// A point in pixel coordinates (pixel centres at `i + 0.5`).
struct PlotPoint: Equatable, Sendable {
  var x: Double
  var y: Double
}

/// An integer pixel rectangle: columns `x..<x+width`, rows `y..<y+height`. Fills on whole pixels keep
/// grid lines, frames and cells sharp in the PNG.
struct PixelRect: Equatable, Sendable {
  var x: Int
  var y: Int
  var width: Int
  var height: Int

  var isEmpty: Bool { width <= 0 || height <= 0 }
  var maxX: Int { x + width }
  var maxY: Int { y + height }

  /// True if `point` lies inside.
  func contains(_ point: PlotPoint) -> Bool {
    point.x >= Double(x) && point.x < Double(maxX) && point.y >= Double(y) && point.y < Double(maxY)
  }
}

/// A font of the charts' family at a size in pixels.
struct ChartFont: Hashable, Sendable {
  var size: Double
  var bold = false
}

/// Colours, fonts and sizes shared by the charts.
enum PlotTheme {
  static let background = PlotColor(hex: 0xffffff)
  static let text = PlotColor(hex: 0x222222)
  static let axis = PlotColor(hex: 0x444444)
  static let grid = PlotColor(hex: 0xe3e3e3)
  static let legendBorder = PlotColor(hex: 0xb0b0b0)
  /// The tile of an image that could not be read.
  static let missingTile = PlotColor(hex: 0xc8c8c8)
  /// Zero counts printed in small matrices.
  static let zeroCount = PlotColor(hex: 0xb0b0b0)
  /// Line colours (matplotlib's "tab10"), used in order and then repeated.
  static let series: [PlotColor] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
  ].map { PlotColor(hex: $0) }
  /// The heatmap scale (ColorBrewer "Blues"), from near-white (0) to dark blue (1).
  static let blues: [PlotColor] = [
    0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b,
  ].map { PlotColor(hex: $0) }

  /// The font family asked of fontconfig; pango falls back per character to any installed font that has
  /// it (WenQuanYi Micro Hei for Chinese, Japanese and Korean on Debian with fonts-wqy-microhei).
  static let fontFamily = "Sans"
  /// Title sizes tried in turn until the title fits on one line; at the last it wraps.
  static let titleSizes: [Double] = [18, 16, 14]
  /// A title wraps onto at most this many lines (a title longer than that is absurd, not informative).
  static let maxTitleLines = 6
  /// Axis labels ("epoch", "true class", …).
  static let labelFont = ChartFont(size: 14)
  /// Tick labels, legend names, colour-bar labels.
  static let tickFont = ChartFont(size: 13)
  static let margin = 16
}
