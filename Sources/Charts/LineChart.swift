// The training-curve chart (loss or accuracy per epoch or iteration): its layout — axis ranges, nice
// ticks, the plot area sized around measured text, the legend in the emptiest corner — and the one
// drawing function that produces its PNG, SVG and PDF.

/// A training-curve chart and what it needs from its data.
struct LineChart {
  static let width = 800
  static let height = 500
  /// Data are drawn this far inside the frame, so markers at the ends are not cut.
  static let inset = 8.0
  /// Series with at most this many points get a marker at each point.
  static let markerLimit = 40
  static let markerRadius = 3.5
  static let lineWidth = 2.0
  /// Legend names wider than this end in "…".
  static let maxLegendNameWidth = 300.0

  var title: String
  var xLabel: String
  var yLabel: String
  var series: [PlotSeries]
  /// Names of the points 1...n on the x axis (shot counts), instead of numbered ticks.
  var xTickLabels: [String]? = nil

  /// Values the chart draws (finite and not absurdly large).
  static func drawable(_ v: Double) -> Bool { v.isFinite && abs(v) <= 1e100 }

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

  func write(to base: String) throws {
    let layout = LineChartLayout(self, measure: Painter.measuring())
    try ChartRenderer.write(width: LineChart.width, height: layout.height, title: title, to: base) { painter, _ in
      layout.draw(painter)
    }
  }
}

/// Where everything of a line chart goes, in pixels.
struct LineChartLayout {
  struct Legend {
    var box: PixelRect
    var rowHeight: Int
    /// (series index, shown name)
    var entries: [(index: Int, name: String)]
  }

  let height: Int
  let title: FittedTitle
  let titleTop: Double
  let plot: PixelRect
  let yTicks: [PlotTick]
  let xTicks: [PlotTick]
  let xLabel: String
  let yLabel: String
  let yLabelX: Double
  let xLabelY: Double
  /// Per series, its runs of points in pixels.
  let lines: [[[PlotPoint]]]
  let markers: [Bool]
  let legend: Legend?

  init(_ chart: LineChart, measure m: Painter) {
    let W = LineChart.width
    let margin = Double(PlotTheme.margin)
    let tickFont = PlotTheme.tickFont
    let labelFont = PlotTheme.labelFont

    // Title: smaller, then wrapped, when too wide; only a wrapped title makes the image taller.
    title = m.fitTitle(chart.title, maxWidth: Double(W) - 2 * margin)
    let band = m.titleBand
    let titleHeight = title.lineCount > 1 ? title.height : band
    let H = LineChart.height + Int((titleHeight - band).rounded(.up))
    height = H
    titleTop = margin + (titleHeight - title.height) / 2

    // Axis ranges.
    let series = chart.series
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
    let yValues = PlotTicks.values(from: yLow, to: yHigh, step: yStep)
    let largest = yValues.map(abs).max() ?? 0
    let yLabels = yValues.map { PlotTicks.label($0, step: yStep, largest: largest) }
    let yTickWidth = yLabels.map { m.width($0, tickFont) }.max() ?? 0

    // Plot area: room on the left for the y label (vertical) and the tick labels, below for the x ticks
    // and the x label.
    let labelHeight = m.lineHeight(labelFont)
    yLabelX = margin + labelHeight / 2
    xLabelY = Double(H) - margin - labelHeight / 2
    let left = Int((margin + labelHeight + 12 + yTickWidth + 10).rounded(.up))
    let top = Int((margin + titleHeight + 24).rounded(.up))
    let plot = PixelRect(x: left, y: top, width: W - 28 - left, height: H - 74 - top)
    self.plot = plot
    let inner = (
      x0: Double(plot.x) + LineChart.inset, x1: Double(plot.maxX) - LineChart.inset,
      y0: Double(plot.y) + LineChart.inset, y1: Double(plot.maxY) - LineChart.inset
    )
    func px(_ x: Double) -> Double { inner.x0 + (x - xMin) / (xMax - xMin) * (inner.x1 - inner.x0) }
    func py(_ y: Double) -> Double { inner.y1 - (y - yLow) / (yHigh - yLow) * (inner.y1 - inner.y0) }
    yTicks = zip(yValues, yLabels).map { PlotTick(position: Int(py($0).rounded(.down)), label: $1) }

    // x ticks: whole epochs, spaced so that labels never touch.
    var xStep = max(1, PlotTicks.step(span: xMax - xMin, count: 8))
    let xLabelWidth = m.width(String(Int(xMax)), tickFont)
    while (xLabelWidth + 16) > xStep * (inner.x1 - inner.x0) / (xMax - xMin) { xStep = PlotTicks.larger(xStep) }
    if let names = chart.xTickLabels {
      xTicks = names.prefix(n).enumerated().map { i, name in
        PlotTick(position: Int(px(Double(i + 1)).rounded(.down)), label: name)
      }
    } else {
      xTicks = PlotTicks.values(from: max(1, xMin), to: Double(max(1, n)), step: xStep).map {
        PlotTick(position: Int(px($0).rounded(.down)), label: PlotTicks.label($0, step: xStep, largest: xMax))
      }
    }
    xLabel = m.fitted(chart.xLabel, labelFont, maxWidth: Double(plot.width))
    yLabel = m.fitted(chart.yLabel, labelFont, maxWidth: Double(plot.height))

    // Data: one line per run of drawable values; lone points and short series get markers.
    let lines = series.map { one in
      LineChart.runs(one.values).map { run in run.map { PlotPoint(x: px(Double($0.0 + 1)), y: py($0.1)) } }
    }
    self.lines = lines
    markers = series.map { $0.values.count <= LineChart.markerLimit }
    legend = LineChartLayout.legend(series: series, lines: lines, plot: plot, measure: m)
  }

  /// The legend box, in the corner of the plot where it hides the least of the lines. Lists the series
  /// that have something drawn; nil when none has.
  private static func legend(series: [PlotSeries], lines: [[[PlotPoint]]], plot: PixelRect, measure m: Painter)
    -> Legend?
  {
    let shown = series.indices.filter { !lines[$0].isEmpty }
    guard !shown.isEmpty else { return nil }
    let font = PlotTheme.tickFont
    let rowHeight = Int(m.lineHeight(font).rounded(.up)) + 6
    let names = shown.map { m.fitted(series[$0].name, font, maxWidth: LineChart.maxLegendNameWidth) }
    let textWidth = Int((names.map { m.width($0, font) }.max() ?? 0).rounded(.up))
    let size = (width: 10 + 28 + 8 + textWidth + 12, height: 8 + rowHeight * shown.count + 4)
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
    return Legend(box: box, rowHeight: rowHeight, entries: zip(shown, names).map { (index: $0, name: $1) })
  }

  /// Draws the chart; the same for every medium.
  func draw(_ p: Painter) {
    let tickFont = PlotTheme.tickFont
    // Grid.
    for tick in yTicks { p.fill(PixelRect(x: plot.x, y: tick.position, width: plot.width, height: 1), PlotTheme.grid) }
    for tick in xTicks { p.fill(PixelRect(x: tick.position, y: plot.y, width: 1, height: plot.height), PlotTheme.grid) }

    // Data, clipped to the plot: one stroke per run, then the markers.
    p.clipped(to: plot) {
      for (k, runs) in lines.enumerated() {
        let color = PlotTheme.series[k % PlotTheme.series.count]
        for run in runs where run.count > 1 { p.polyline(run, color, lineWidth: LineChart.lineWidth) }
        for run in runs where markers[k] || run.count == 1 {
          for point in run { p.disc(point, radius: LineChart.markerRadius, color) }
        }
      }
    }

    // Frame, ticks and tick labels.
    p.frame(plot, PlotTheme.axis)
    for tick in yTicks {
      p.fill(PixelRect(x: plot.x - 5, y: tick.position, width: 5, height: 1), PlotTheme.axis)
      p.text(tick.label, tickFont, x: Double(plot.x - 9), y: Double(tick.position) + 0.5, anchor: .end)
    }
    let tickLabelHeight = p.lineHeight(tickFont)
    for tick in xTicks {
      p.fill(PixelRect(x: tick.position, y: plot.maxY, width: 1, height: 5), PlotTheme.axis)
      p.text(
        tick.label, tickFont, x: Double(tick.position) + 0.5, y: Double(plot.maxY + 8) + tickLabelHeight / 2,
        anchor: .middle)
    }

    // Axis labels and title.
    let labelFont = PlotTheme.labelFont
    p.text(xLabel, labelFont, x: Double(plot.x) + Double(plot.width) / 2, y: xLabelY, anchor: .middle)
    p.text(
      yLabel, labelFont, x: yLabelX, y: Double(plot.y) + Double(plot.height) / 2, anchor: .middle, vertical: true)
    p.title(title, centerX: Double(LineChart.width) / 2, top: titleTop)

    // Legend.
    if let legend {
      let box = legend.box
      p.fill(box, PlotTheme.legendBorder)
      p.fill(PixelRect(x: box.x + 1, y: box.y + 1, width: box.width - 2, height: box.height - 2), PlotTheme.background)
      for (k, entry) in legend.entries.enumerated() {
        let color = PlotTheme.series[entry.index % PlotTheme.series.count]
        let middle = Double(box.y + 6 + k * legend.rowHeight) + Double(legend.rowHeight) / 2
        let x0 = Double(box.x + 10)
        p.polyline([PlotPoint(x: x0, y: middle), PlotPoint(x: x0 + 28, y: middle)], color, lineWidth: LineChart.lineWidth)
        if markers[entry.index] { p.disc(PlotPoint(x: x0 + 14, y: middle), radius: LineChart.markerRadius, color) }
        p.text(entry.name, tickFont, x: x0 + 28 + 8, y: middle, anchor: .start)
      }
    }
  }
}
