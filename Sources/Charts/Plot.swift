// Charts for `featx probe --plot DIR`: training curves and a confusion-matrix heatmap, each written as a
// PNG and an SVG that featx draws itself (no Python, no plotting library). A chart is first laid out as a
// list of shapes in pixel coordinates (`PlotDrawing`); the PNG (Canvas, in PNGWriter.swift) and the SVG
// (`SVGRenderer`) are two renderings of the same list, so both files show the same layout.

import Glibc

/// One line of a chart.
public struct PlotSeries: Sendable, Equatable {
  /// The name shown in the legend, e.g. "train loss".
  public var name: String
  /// The y value for x = 1, 2, … n (epochs or iterations). NaN and infinite values leave a gap.
  public var values: [Double]

  public init(name: String, values: [Double]) {
    self.name = name
    self.values = values
  }
}

/// Why a chart could not be drawn or written. The description names the file and what to do.
public enum PlotError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The data cannot be drawn (e.g. a confusion matrix that is not square).
  case invalidInput(path: String, reason: String)
  /// The file could not be created or written.
  case write(path: String, reason: String)
  /// libpng refused to encode the image.
  case encoding(path: String, reason: String)

  public var description: String {
    switch self {
    case .invalidInput(let path, let reason): "\(path): cannot draw the chart: \(reason)"
    case .write(let path, let reason):
      "\(path): cannot write the chart: \(reason); check that its folder exists and is writable"
    case .encoding(let path, let reason): "\(path): cannot encode the PNG: \(reason)"
    }
  }
}

/// Training curves and confusion matrices as PNG + SVG files, drawn by featx itself.
public enum Plot {
  /// A line chart: x = epoch or iteration (1...n), one line per series, with a title, axis labels,
  /// nice tick values, grid lines and a legend; writes `<base>.png` and `<base>.svg` (800×500).
  ///
  /// NaN and infinite values (and magnitudes above 1e100) are skipped, leaving a gap in the line; a point
  /// without neighbours is drawn as a marker. Empty (or all-NaN) series are allowed: they keep their colour
  /// slot but are left out of the legend, so a chart of no data shows the axes only.
  /// - Throws: `PlotError` naming the file that could not be written.
  public static func lineChart(title: String, xLabel: String, yLabel: String, series: [PlotSeries], to base: String)
    throws
  {
    let chart = LineChart(title: title, xLabel: xLabel, yLabel: yLabel, series: series)
    try write(chart.drawing(), to: base)
  }

  /// A confusion-matrix heatmap: rows are true classes, columns predicted classes, class names on both
  /// axes, and a colour bar; writes `<base>.png` and `<base>.svg`. The image grows with the class count
  /// (from 500 to about 1600 pixels).
  ///
  /// Colour shows the row-normalised fraction (the share of each true class predicted as each class, so
  /// rare and common classes compare fairly) or, with `normalized: false`, the count relative to the
  /// largest count. Counts are printed in the cells when they fit. Long class names are shortened with
  /// "…"; with more classes than fit (more than 100), the PNG labels every k-th class, while the SVG keeps
  /// every name, in a smaller font where needed, so zooming in shows all of them. The SVG has one `<rect>`
  /// per cell (in the group `cells`); above 300 classes only for the non-zero cells, over one background
  /// rectangle, so that an ImageNet-sized matrix stays a few megabytes. At most 2000 classes.
  /// - Throws: `PlotError.invalidInput` if the matrix is not square with one row per class name or holds
  ///   a negative count; `PlotError.write` naming the file that could not be written.
  public static func confusionMatrix(
    _ matrix: [[Int]], classes: [String], title: String, normalized: Bool = true, to base: String
  ) throws {
    let chart = try ConfusionMatrixChart(matrix: matrix, classes: classes, title: title, normalized: normalized, base: base)
    try write(chart.drawing(), to: base)
  }

  /// Renders `drawing` both ways and writes the two files, each atomically.
  static func write(_ drawing: PlotDrawing, to base: String) throws {
    let pngPath = base + ".png"
    let png = try PNGWriter.encode(Canvas(drawing: drawing), path: pngPath)
    let svg = SVGRenderer.render(drawing)
    try PlotFile.write(png, to: pngPath)
    try PlotFile.write(Array(svg.utf8), to: base + ".svg")
  }
}

// MARK: - Shapes

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

  /// `#rrggbb`, as SVG writes colours.
  var hex: String {
    let digits: [Character] = Array("0123456789abcdef")
    var text = "#"
    for byte in [red, green, blue] {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 15)])
    }
    return text
  }

  /// The colour at `t` (0...1) along evenly spaced `stops`, interpolated linearly in sRGB (as SVG
  /// gradients are).
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

/// A point in pixel coordinates (x to the right, y down; pixel centres at `i + 0.5`).
struct PlotPoint: Equatable, Sendable {
  var x: Double
  var y: Double
}

/// Where a text's anchor point lies along the text.
enum TextAnchor: Sendable {
  case start, middle, end
}

/// A text shape. `(x, baseline)` is the anchor (see `Canvas.drawText`).
struct TextShape: Sendable {
  var text: String
  var x: Int
  var baseline: Int
  /// Bitmap-font scale in the PNG; the SVG uses a font size of `10 * scale` pixels unless `svgFontSize`.
  var scale: Int
  var color: PlotColor = PlotTheme.text
  var anchor: TextAnchor = .start
  var vertical = false
  var bold = false
  /// The full text, shown as an SVG tooltip, when `text` was shortened.
  var tooltip: String? = nil
  /// Written to the SVG only (a label the PNG has no room for).
  var svgOnly = false
  var svgFontSize: Double? = nil
}

/// One element of a chart, in pixel coordinates shared by the PNG and the SVG.
enum PlotShape: Sendable {
  case rect(PixelRect, PlotColor, tooltip: String?)
  /// A connected line through the points.
  case polyline([PlotPoint], PlotColor, lineWidth: Double)
  case circle(PlotPoint, radius: Double, PlotColor)
  case text(TextShape)
  /// A vertical colour scale, `stops` evenly spaced from bottom to top.
  case colorBar(PixelRect, stops: [PlotColor])
  /// Starts an SVG group (`<g id=…>`); shapes up to the matching `endGroup` are clipped to `clip`.
  case beginGroup(id: String, clip: PixelRect?)
  case endGroup
}

/// A laid-out chart: the common source of its PNG and SVG.
struct PlotDrawing: Sendable {
  var width: Int
  var height: Int
  var background = PlotTheme.background
  /// The SVG document title.
  var title: String
  var shapes: [PlotShape] = []

  init(width: Int, height: Int, title: String) {
    self.width = width
    self.height = height
    self.title = title
  }

  mutating func rect(_ x: Int, _ y: Int, _ width: Int, _ height: Int, _ color: PlotColor, tooltip: String? = nil) {
    shapes.append(.rect(PixelRect(x: x, y: y, width: width, height: height), color, tooltip: tooltip))
  }

  /// A one-pixel outline just inside `r`.
  mutating func frame(_ r: PixelRect, _ color: PlotColor) {
    rect(r.x, r.y, r.width, 1, color)
    rect(r.x, r.maxY - 1, r.width, 1, color)
    rect(r.x, r.y + 1, 1, r.height - 2, color)
    rect(r.maxX - 1, r.y + 1, 1, r.height - 2, color)
  }

  mutating func text(_ shape: TextShape) { shapes.append(.text(shape)) }

  mutating func group(_ id: String, clip: PixelRect? = nil, _ body: (inout PlotDrawing) -> Void) {
    shapes.append(.beginGroup(id: id, clip: clip))
    body(&self)
    shapes.append(.endGroup)
  }
}

/// Colours and sizes shared by the charts.
enum PlotTheme {
  static let background = PlotColor(hex: 0xffffff)
  static let text = PlotColor(hex: 0x222222)
  static let axis = PlotColor(hex: 0x444444)
  static let grid = PlotColor(hex: 0xe3e3e3)
  static let legendBorder = PlotColor(hex: 0xb0b0b0)
  /// Line colours (matplotlib's "tab10"), used in order and then repeated.
  static let series: [PlotColor] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
  ].map { PlotColor(hex: $0) }
  /// The heatmap scale (ColorBrewer "Blues"), from near-white (0) to dark blue (1).
  static let blues: [PlotColor] = [
    0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b,
  ].map { PlotColor(hex: $0) }
  /// Font scale of titles, and of tick labels, axis labels and legends.
  static let titleScale = 3
  static let labelScale = 2
  static let margin = 16
}

// MARK: - Text helpers

enum PlotText {
  /// `text` with control characters (newlines, tabs, …) turned into spaces, so a name stays on one line.
  static func singleLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      out.unicodeScalars.append(scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? " " : scalar)
    }
    return out
  }

  /// `text` cut to at most `limit` characters, the last replaced by "…" when anything was cut.
  static func truncated(_ text: String, to limit: Int) -> String {
    guard text.count > limit else { return text }
    guard limit > 1 else { return limit == 1 ? "\u{2026}" : "" }
    return String(text.prefix(limit - 1)) + "\u{2026}"
  }

  /// A text shape for `text` (made single-line), shortened to fit `maxWidth` pixels at `scale`.
  static func fitted(_ text: String, maxWidth: Int, scale: Int) -> (text: String, tooltip: String?) {
    let line = singleLine(text)
    let limit = max(1, (maxWidth / scale + 1) / PlotFont.advance)
    let short = truncated(line, to: limit)
    return (short, short == line ? nil : line)
  }

  /// `value` with exactly `decimals` digits after the point, without Foundation.
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

  /// A coordinate for SVG: at most two decimals, no trailing zeros.
  static func coordinate(_ value: Double) -> String {
    var text = fixed(value, decimals: 2)
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
  }
}

// MARK: - PlotTicks

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
    if step >= 1e-4 && largest < 1e6 { return PlotText.fixed(value, decimals: max(0, -stepExponent)) }
    let exponent = Int(floor(log10(abs(value)) + 1e-9))
    let mantissa = value / pow(10, Double(exponent))
    return PlotText.fixed(mantissa, decimals: min(6, max(0, exponent - stepExponent))) + "e\(exponent)"
  }
}

// MARK: - Line chart

/// The layout of a training-curve chart.
struct LineChart {
  static let width = 800
  static let height = 500
  /// Data are drawn this far inside the frame, so markers at the ends are not cut.
  static let inset = 8.0
  /// Series with at most this many points get a marker at each point.
  static let markerLimit = 40

  var title: String
  var xLabel: String
  var yLabel: String
  var series: [PlotSeries]

  /// Values the chart draws (finite and not absurdly large).
  static func drawable(_ v: Double) -> Bool { v.isFinite && abs(v) <= 1e100 }

  func drawing() -> PlotDrawing {
    let (W, H) = (LineChart.width, LineChart.height)
    let s = PlotTheme.labelScale
    var d = PlotDrawing(width: W, height: H, title: title)

    // Axis ranges.
    let n = series.map(\.values.count).max() ?? 0
    let (xMin, xMax) = n <= 1 ? (0.0, 2.0) : (1.0, Double(n))
    var finite = series.flatMap(\.values).filter(LineChart.drawable)
    if finite.isEmpty { finite = [0, 1] }
    var (yMin, yMax) = (finite.min() ?? 0, finite.max() ?? 1)
    if yMin == yMax {
      let pad = yMin == 0 ? 1 : abs(yMin) * 0.1
      (yMin, yMax) = (yMin - pad, yMax + pad)
    }
    let yStep = PlotTicks.step(span: yMax - yMin, count: 5)
    let yLow = (yMin / yStep + 1e-9).rounded(.down) * yStep
    let yHigh = (yMax / yStep - 1e-9).rounded(.up) * yStep
    let yTicks = PlotTicks.values(from: yLow, to: yHigh, step: yStep)
    let largest = yTicks.map(abs).max() ?? 0
    let yTickLabels = yTicks.map { PlotTicks.label($0, step: yStep, largest: largest) }
    let yTickWidth = yTickLabels.map { PlotFont.width(of: $0, scale: s) }.max() ?? 0

    // Plot area: room on the left for the y label (vertical) and the tick labels.
    let yLabelBaseline = PlotTheme.margin + PlotFont.capHeight * s
    let left = yLabelBaseline + 2 * s + 12 + yTickWidth + 10
    let top = 62
    let plot = PixelRect(x: left, y: top, width: W - 28 - left, height: H - 74 - top)
    let inner = (
      x0: Double(plot.x) + LineChart.inset, x1: Double(plot.maxX) - LineChart.inset,
      y0: Double(plot.y) + LineChart.inset, y1: Double(plot.maxY) - LineChart.inset
    )
    func px(_ x: Double) -> Double { inner.x0 + (x - xMin) / (xMax - xMin) * (inner.x1 - inner.x0) }
    func py(_ y: Double) -> Double { inner.y1 - (y - yLow) / (yHigh - yLow) * (inner.y1 - inner.y0) }

    // x ticks: whole epochs, spaced so that labels never touch.
    var xStep = max(1, PlotTicks.step(span: xMax - xMin, count: 8))
    let xLabelWidth = PlotFont.width(of: String(Int(xMax)), scale: s)
    while Double(xLabelWidth + 16) > xStep * (inner.x1 - inner.x0) / (xMax - xMin) { xStep = PlotTicks.larger(xStep) }
    let xTicks = PlotTicks.values(from: max(1, xMin), to: Double(max(1, n)), step: xStep)

    // Grid.
    for y in yTicks { d.rect(plot.x, Int(py(y).rounded(.down)), plot.width, 1, PlotTheme.grid) }
    for x in xTicks { d.rect(Int(px(x).rounded(.down)), plot.y, 1, plot.height, PlotTheme.grid) }

    // Data: one polyline per run of drawable values; lone points and short series get markers.
    let lines = series.map { one in
      LineChart.runs(one.values).map { run in run.map { PlotPoint(x: px(Double($0.0 + 1)), y: py($0.1)) } }
    }
    let markerRadius = 3.5
    d.group("data", clip: plot) { d in
      for (k, runs) in lines.enumerated() {
        let color = PlotTheme.series[k % PlotTheme.series.count]
        let markers = series[k].values.count <= LineChart.markerLimit
        d.group("series-\(k + 1)") { d in
          for run in runs where run.count > 1 { d.shapes.append(.polyline(run, color, lineWidth: 2)) }
          for run in runs where markers || run.count == 1 {
            for point in run { d.shapes.append(.circle(point, radius: markerRadius, color)) }
          }
        }
      }
    }

    // Frame, ticks and tick labels.
    d.frame(plot, PlotTheme.axis)
    for (y, label) in zip(yTicks, yTickLabels) {
      let row = Int(py(y).rounded(.down))
      d.rect(plot.x - 5, row, 5, 1, PlotTheme.axis)
      d.text(TextShape(text: label, x: plot.x - 9, baseline: row + PlotFont.capHeight * s / 2, scale: s, anchor: .end))
    }
    for x in xTicks {
      let column = Int(px(x).rounded(.down))
      d.rect(column, plot.maxY, 1, 5, PlotTheme.axis)
      d.text(
        TextShape(
          text: PlotTicks.label(x, step: xStep, largest: xMax), x: column, baseline: plot.maxY + 9 + PlotFont.capHeight * s,
          scale: s, anchor: .middle))
    }

    // Axis labels and title.
    let xText = PlotText.fitted(xLabel, maxWidth: plot.width, scale: s)
    d.text(
      TextShape(
        text: xText.text, x: plot.x + plot.width / 2, baseline: H - PlotTheme.margin - 2 * s, scale: s, anchor: .middle,
        tooltip: xText.tooltip))
    let yText = PlotText.fitted(yLabel, maxWidth: plot.height, scale: s)
    d.text(
      TextShape(
        text: yText.text, x: yLabelBaseline, baseline: plot.y + plot.height / 2, scale: s, anchor: .middle,
        vertical: true, tooltip: yText.tooltip))
    let t = PlotTheme.titleScale
    let titleText = PlotText.fitted(title, maxWidth: W - 2 * PlotTheme.margin, scale: t)
    d.text(
      TextShape(
        text: titleText.text, x: W / 2, baseline: PlotTheme.margin + PlotFont.capHeight * t, scale: t, anchor: .middle,
        bold: true, tooltip: titleText.tooltip))

    legend(&d, plot: plot, lines: lines, scale: s)
    return d
  }

  /// The runs of consecutive drawable values, as (index, value) pairs.
  static func runs(_ values: [Double]) -> [[(Int, Double)]] {
    var runs: [[(Int, Double)]] = []
    var current: [(Int, Double)] = []
    for (i, v) in values.enumerated() {
      if drawable(v) {
        current.append((i, v))
      } else if !current.isEmpty {
        runs.append(current)
        current = []
      }
    }
    if !current.isEmpty { runs.append(current) }
    return runs
  }

  /// The legend box, in the corner of the plot where it hides the least of the lines. Lists the series
  /// that have something drawn.
  private func legend(_ d: inout PlotDrawing, plot: PixelRect, lines: [[[PlotPoint]]], scale s: Int) {
    let entries = series.indices.filter { !lines[$0].isEmpty }
    guard !entries.isEmpty else { return }
    let rowHeight = 11 * s
    let swatch = 28
    let names = entries.map { PlotText.fitted(series[$0].name, maxWidth: 32 * PlotFont.advance * s, scale: s) }
    let textWidth = names.map { PlotFont.width(of: $0.text, scale: s) }.max() ?? 0
    let size = (width: 10 + swatch + 8 + textWidth + 12, height: 8 + rowHeight * entries.count + 4)
    let gap = 10
    let corners = [
      PixelRect(x: plot.maxX - gap - size.width, y: plot.y + gap, width: size.width, height: size.height),
      PixelRect(x: plot.maxX - gap - size.width, y: plot.maxY - gap - size.height, width: size.width, height: size.height),
      PixelRect(x: plot.x + gap, y: plot.y + gap, width: size.width, height: size.height),
      PixelRect(x: plot.x + gap, y: plot.maxY - gap - size.height, width: size.width, height: size.height),
    ]
    // Score: length of line under the box (with a small margin) plus a penalty per data point under it.
    func hidden(_ box: PixelRect) -> Double {
      let area = PixelRect(x: box.x - 4, y: box.y - 4, width: box.width + 8, height: box.height + 8)
      var total = 0.0
      for run in lines.joined() {
        for (k, point) in run.enumerated() {
          if area.contains(point) { total += 20 }
          if k > 0 { total += LineChart.clippedLength(run[k - 1], point, area) }
        }
      }
      return total
    }
    var box = corners[0]
    var best = hidden(box)
    for corner in corners.dropFirst() {
      let score = hidden(corner)
      if score < best - 0.5 { (box, best) = (corner, score) }
    }

    d.group("legend") { d in
      d.rect(box.x, box.y, box.width, box.height, PlotTheme.legendBorder)
      d.rect(box.x + 1, box.y + 1, box.width - 2, box.height - 2, PlotTheme.background)
      for (k, name) in names.enumerated() {
        let index = entries[k]
        let color = PlotTheme.series[index % PlotTheme.series.count]
        let middle = Double(box.y + 8 + k * rowHeight + PlotFont.capHeight * s / 2) + 0.5
        let x0 = Double(box.x + 10)
        d.shapes.append(
          .polyline([PlotPoint(x: x0, y: middle), PlotPoint(x: x0 + Double(swatch), y: middle)], color, lineWidth: 2))
        if series[index].values.count <= LineChart.markerLimit {
          d.shapes.append(.circle(PlotPoint(x: x0 + Double(swatch) / 2, y: middle), radius: 3.5, color))
        }
        d.text(
          TextShape(
            text: name.text, x: box.x + 10 + swatch + 8, baseline: box.y + 8 + k * rowHeight + PlotFont.capHeight * s,
            scale: s, tooltip: name.tooltip))
      }
    }
  }

  /// The length of segment `a`–`b` inside `box` (Liang–Barsky clipping); 0 when it misses the box.
  static func clippedLength(_ a: PlotPoint, _ b: PlotPoint, _ box: PixelRect) -> Double {
    let (dx, dy) = (b.x - a.x, b.y - a.y)
    var (t0, t1) = (0.0, 1.0)
    let checks = [
      (-dx, a.x - Double(box.x)), (dx, Double(box.maxX) - a.x), (-dy, a.y - Double(box.y)), (dy, Double(box.maxY) - a.y),
    ]
    for (p, q) in checks {
      if p == 0 {
        if q < 0 { return 0 }
      } else {
        let r = q / p
        if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
      }
    }
    guard t0 <= t1 else { return 0 }
    return (t1 - t0) * (dx * dx + dy * dy).squareRoot()
  }
}

// MARK: - Confusion matrix

/// The layout of a confusion-matrix heatmap.
struct ConfusionMatrixChart {
  /// Classes beyond this make an unreadably large image; featx refuses rather than writing it.
  static let maxClasses = 2000
  /// With more classes, the SVG has rectangles only for non-zero cells (over one background rectangle);
  /// up to this many, one rectangle per cell.
  static let sparseAbove = 300
  /// Longest class name shown on an axis, in characters.
  static let maxLabelCharacters = 20

  let matrix: [[Int]]
  let classes: [String]
  let title: String
  let normalized: Bool

  /// Checks that `matrix` is square with one row per class and no negative counts.
  init(matrix: [[Int]], classes: [String], title: String, normalized: Bool, base: String) throws {
    let path = base + ".png"
    func invalid(_ reason: String) -> PlotError { .invalidInput(path: path, reason: reason) }
    guard !classes.isEmpty else { throw invalid("no classes; pass at least one class name") }
    guard classes.count <= ConfusionMatrixChart.maxClasses else {
      throw invalid("\(classes.count) classes are more than the \(ConfusionMatrixChart.maxClasses) a heatmap can show")
    }
    guard matrix.count == classes.count else {
      throw invalid("the matrix has \(matrix.count) rows for \(classes.count) class names; pass one row per class")
    }
    for (i, row) in matrix.enumerated() {
      guard row.count == classes.count else {
        throw invalid("row \(i) has \(row.count) counts for \(classes.count) classes; the matrix must be square")
      }
      if let j = row.firstIndex(where: { $0 < 0 }) {
        throw invalid("row \(i), column \(j) holds the negative count \(row[j]); counts must be 0 or more")
      }
    }
    self.matrix = matrix
    self.classes = classes
    self.title = title
    self.normalized = normalized
  }

  /// The colour-scale value (0...1) of each cell.
  func intensities() -> [[Double]] {
    if normalized {
      return matrix.map { row in
        let total = row.reduce(0.0) { $0 + Double($1) }
        return row.map { total > 0 ? Double($0) / total : 0 }
      }
    }
    let largest = Double(matrix.map { $0.max() ?? 0 }.max() ?? 0)
    return matrix.map { row in row.map { largest > 0 ? Double($0) / largest : 0 } }
  }

  func drawing() -> PlotDrawing {
    let n = classes.count
    var cell = max(1, min(64, 1200 / n))
    if n * cell < 300 { cell = (300 + n - 1) / n }
    let side = n * cell
    // Class labels: large when cells are tall enough, else small, and only every k-th when even small
    // labels would touch.
    let ls = cell >= 20 ? 2 : 1
    let pitch = 10 * ls  // label height with descenders, plus a pixel
    let every = max(1, (pitch + cell - 1) / cell)
    let names = classes.map { PlotText.singleLine($0) }
    let labels = names.map { PlotText.truncated($0, to: ConfusionMatrixChart.maxLabelCharacters) }
    let shown = Array(stride(from: 0, to: n, by: every))
    let labelWidth = shown.map { PlotFont.width(of: labels[$0], scale: ls) }.max() ?? 0
    let s = PlotTheme.labelScale
    let t = PlotTheme.titleScale
    let axisLabelBand = PlotFont.capHeight * s + 2 * s

    // Colour bar ticks.
    let largestCount = matrix.map { $0.max() ?? 0 }.max() ?? 0
    let barTop = normalized ? 1.0 : Double(max(1, largestCount))
    let barStep = PlotTicks.step(span: barTop, count: 5)
    let barTicks = PlotTicks.values(from: 0, to: barTop, step: normalized ? barStep : max(1, barStep))
    let barLabels = barTicks.map { PlotTicks.label($0, step: normalized ? barStep : max(1, barStep), largest: barTop) }
    let barLabelWidth = barLabels.map { PlotFont.width(of: $0, scale: s) }.max() ?? 0
    let barCaption = normalized ? "fraction of true class" : "count"

    // Natural size, then centred on a canvas of at least 500×500.
    let matrixX = PlotTheme.margin + axisLabelBand + 12 + labelWidth + 10
    let matrixY = 64
    let barX = matrixX + side + 24
    let barWidth = 20
    let captionBaseline = barX + barWidth + 12 + barLabelWidth + 14 + PlotFont.capHeight * s
    let naturalWidth = captionBaseline + 2 * s + PlotTheme.margin
    let xLabelBaseline = matrixY + side + 10 + labelWidth + 16 + PlotFont.capHeight * s
    let naturalHeight = xLabelBaseline + 2 * s + PlotTheme.margin
    let W = max(500, naturalWidth)
    let H = max(500, naturalHeight)
    let ox = (W - naturalWidth) / 2
    let oy = (H - naturalHeight) / 2
    let grid = PixelRect(x: matrixX + ox, y: matrixY + oy, width: side, height: side)

    var d = PlotDrawing(width: W, height: H, title: title)

    // Cells. Above `ConfusionMatrixChart.sparseAbove` classes, zero cells are left to one background
    // rectangle of the zero colour, which keeps the SVG of a 1000-class matrix to a few megabytes.
    let values = intensities()
    let tips = n <= 100
    let sparse = n > ConfusionMatrixChart.sparseAbove
    d.group("cells") { d in
      if sparse { d.rect(grid.x, grid.y, side, side, PlotColor.interpolate(PlotTheme.blues, 0)) }
      for i in 0..<n {
        for j in 0..<n where !sparse || matrix[i][j] != 0 {
          let tip =
            tips
            ? "true \(names[i]), predicted \(names[j]): \(matrix[i][j])"
              + (normalized ? " (\(PlotText.fixed(values[i][j] * 100, decimals: 1))% of \(names[i]))" : "") : nil
          d.rect(
            grid.x + j * cell, grid.y + i * cell, cell, cell, PlotColor.interpolate(PlotTheme.blues, values[i][j]),
            tooltip: tip)
        }
      }
    }

    // Counts in the cells, when the largest fits; zeros only in small matrices, where they do not clutter.
    let widest = String(largestCount)
    let countScale =
      cell >= 24 && PlotFont.width(of: widest, scale: 2) <= cell - 8
      ? 2
      : cell >= 11 && PlotFont.width(of: widest, scale: 1) <= cell - 4 ? 1 : 0
    if countScale > 0 {
      d.group("counts") { d in
        for i in 0..<n {
          for j in 0..<n where matrix[i][j] != 0 || n <= 20 {
            let color =
              values[i][j] > 0.5 ? PlotTheme.background : matrix[i][j] == 0 ? PlotColor(hex: 0xb0b0b0) : PlotTheme.text
            d.text(
              TextShape(
                text: String(matrix[i][j]), x: grid.x + j * cell + cell / 2,
                baseline: grid.y + i * cell + (cell + PlotFont.capHeight * countScale) / 2, scale: countScale,
                color: color, anchor: .middle))
          }
        }
      }
    }
    d.frame(PixelRect(x: grid.x - 1, y: grid.y - 1, width: side + 2, height: side + 2), PlotTheme.axis)

    // Class labels: rows (true class) on the left, columns (predicted class) below, reading upwards.
    let smallFont = min(10.0 * Double(ls), Double(cell) * 0.9)
    d.group("row-labels") { d in
      for i in 0..<n {
        let isShown = i % every == 0
        let middle = grid.y + i * cell + cell / 2
        if isShown { d.rect(grid.x - 6, middle, 5, 1, PlotTheme.axis) }
        d.text(
          TextShape(
            text: labels[i], x: grid.x - 9, baseline: middle + (PlotFont.capHeight * ls + 1) / 2, scale: ls,
            anchor: .end, tooltip: labels[i] == names[i] ? nil : names[i], svgOnly: !isShown,
            svgFontSize: isShown ? nil : smallFont))
      }
    }
    d.group("column-labels") { d in
      for j in 0..<n {
        let isShown = j % every == 0
        let middle = grid.x + j * cell + cell / 2
        if isShown { d.rect(middle, grid.maxY + 1, 1, 5, PlotTheme.axis) }
        d.text(
          TextShape(
            text: labels[j], x: middle + (PlotFont.capHeight * ls + 1) / 2, baseline: grid.maxY + 9, scale: ls,
            anchor: .end, vertical: true, tooltip: labels[j] == names[j] ? nil : names[j], svgOnly: !isShown,
            svgFontSize: isShown ? nil : smallFont))
      }
    }

    // Colour bar.
    let bar = PixelRect(x: barX + ox, y: grid.y, width: barWidth, height: side)
    d.group("colorbar") { d in
      d.shapes.append(.colorBar(bar, stops: PlotTheme.blues))
      d.frame(PixelRect(x: bar.x - 1, y: bar.y - 1, width: bar.width + 2, height: bar.height + 2), PlotTheme.axis)
      for (value, label) in zip(barTicks, barLabels) {
        let row = bar.maxY - 1 - Int((value / barTop * Double(bar.height - 1)).rounded())
        d.rect(bar.maxX + 1, row, 4, 1, PlotTheme.axis)
        d.text(TextShape(text: label, x: bar.maxX + 12, baseline: row + PlotFont.capHeight * s / 2, scale: s))
      }
      d.text(
        TextShape(
          text: barCaption, x: captionBaseline + ox, baseline: bar.y + bar.height / 2, scale: s, anchor: .middle,
          vertical: true))
    }

    // Axis labels and title.
    d.text(
      TextShape(
        text: "predicted class", x: grid.x + side / 2, baseline: xLabelBaseline + oy, scale: s, anchor: .middle))
    d.text(
      TextShape(
        text: "true class", x: PlotTheme.margin + ox + PlotFont.capHeight * s, baseline: grid.y + side / 2, scale: s,
        anchor: .middle, vertical: true))
    let titleText = PlotText.fitted(title, maxWidth: W - 2 * PlotTheme.margin, scale: t)
    d.text(
      TextShape(
        text: titleText.text, x: W / 2, baseline: oy + PlotTheme.margin + PlotFont.capHeight * t, scale: t,
        anchor: .middle, bold: true, tooltip: titleText.tooltip))
    return d
  }
}

// MARK: - SVG

/// Writes a `PlotDrawing` as an SVG document with real text, so that titles and names stay searchable and
/// sharp at any zoom.
enum SVGRenderer {
  static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"

  static func render(_ drawing: PlotDrawing) -> String {
    let (w, h) = (drawing.width, drawing.height)
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\""
    out += " font-family=\"\(fontFamily)\">\n"
    out += "<title>\(escape(drawing.title))</title>\n"
    out += "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"\(drawing.background.hex)\"/>\n"
    var gradients = 0
    for shape in drawing.shapes {
      switch shape {
      case .rect(let r, let color, let tooltip):
        out += "<rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.width)\" height=\"\(r.height)\" fill=\"\(color.hex)\""
        if let tooltip { out += "><title>\(escape(tooltip))</title></rect>\n" } else { out += "/>\n" }
      case .polyline(let points, let color, let lineWidth):
        out += "<polyline points=\""
        for (k, p) in points.enumerated() {
          if k > 0 { out += " " }
          out += PlotText.coordinate(p.x) + "," + PlotText.coordinate(p.y)
        }
        out += "\" fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(PlotText.coordinate(lineWidth))\""
        out += " stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
      case .circle(let center, let radius, let color):
        out += "<circle cx=\"\(PlotText.coordinate(center.x))\" cy=\"\(PlotText.coordinate(center.y))\""
        out += " r=\"\(PlotText.coordinate(radius))\" fill=\"\(color.hex)\"/>\n"
      case .text(let text):
        out += textElement(text)
      case .colorBar(let r, let stops):
        gradients += 1
        let id = "colorbar-gradient-\(gradients)"
        out += "<defs><linearGradient id=\"\(id)\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
        for (k, stop) in stops.enumerated() {
          let offset = stops.count > 1 ? Double(k) / Double(stops.count - 1) : 0
          out += "<stop offset=\"\(PlotText.fixed(offset, decimals: 4))\" stop-color=\"\(stop.hex)\"/>"
        }
        out += "</linearGradient></defs>\n"
        out += "<rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.width)\" height=\"\(r.height)\" fill=\"url(#\(id))\"/>\n"
      case .beginGroup(let id, let clip):
        if let clip {
          out += "<clipPath id=\"\(id)-clip\"><rect x=\"\(clip.x)\" y=\"\(clip.y)\" width=\"\(clip.width)\""
          out += " height=\"\(clip.height)\"/></clipPath>\n"
          out += "<g id=\"\(id)\" clip-path=\"url(#\(id)-clip)\">\n"
        } else {
          out += "<g id=\"\(id)\">\n"
        }
      case .endGroup:
        out += "</g>\n"
      }
    }
    out += "</svg>\n"
    return out
  }

  private static func textElement(_ t: TextShape) -> String {
    let size = t.svgFontSize ?? Double(10 * t.scale)
    let anchor = t.anchor == .start ? "start" : t.anchor == .middle ? "middle" : "end"
    var element = "<text x=\"\(t.x)\" y=\"\(t.baseline)\" font-size=\"\(PlotText.coordinate(size))\""
    if t.anchor != .start { element += " text-anchor=\"\(anchor)\"" }
    if t.bold { element += " font-weight=\"bold\"" }
    if t.vertical { element += " transform=\"rotate(-90 \(t.x) \(t.baseline))\"" }
    element += " fill=\"\(t.color.hex)\">\(escape(t.text))</text>"
    guard let tooltip = t.tooltip else { return element + "\n" }
    return "<g><title>\(escape(tooltip))</title>\(element)</g>\n"
  }

  /// `text` made safe for XML content and attribute values: markup characters become entities, and
  /// characters XML 1.0 forbids (most control characters, U+FFFE, U+FFFF) become U+FFFD.
  static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
      default:
        let v = scalar.value
        if v < 0x20 || v == 0xfffe || v == 0xffff {
          out += "\u{fffd}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }
}
