// The confusion-matrix heatmap: checks the matrix, sizes the image from the class count and the measured
// class names, and draws cells, counts, class labels and a colour bar with one drawing function for the
// PNG, SVG and PDF (the PNG labels every k-th class when they would overlap; the vector files keep all).

/// A checked confusion matrix and how it is coloured.
struct ConfusionMatrixChart {
  /// Classes beyond this make an unreadably large image; featx refuses rather than writing it.
  static let maxClasses = 2000
  /// Class names wider than this many label-font sizes end in "…".
  static let maxLabelEms = 16.0

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

  func write(to base: String) throws {
    let layout = ConfusionMatrixLayout(self, measure: Painter.measuring())
    try ChartRenderer.write(width: layout.width, height: layout.height, title: title, to: base) { painter, medium in
      layout.draw(painter, medium)
    }
  }
}

/// Where everything of a heatmap goes, in pixels.
struct ConfusionMatrixLayout {
  let chart: ConfusionMatrixChart
  let width: Int
  let height: Int
  let cell: Int
  let grid: PixelRect
  let values: [[Double]]
  /// Every `every`-th class is labelled in the PNG; all are in the vector files.
  let every: Int
  let labelFont: ChartFont
  /// The names of the classes the PNG labels (every `every`-th; "" for the others), fitted to the label
  /// width in `labelFont`.
  let labels: [String]
  /// When the PNG leaves classes out: the font in which the vector files label every class, small enough
  /// for the cells, and every name fitted to the label width in it.
  let smallFont: ChartFont
  let smallLabels: [String]
  let countFont: ChartFont?
  let bar: PixelRect
  let barTicks: [PlotTick]
  let barCaption: String
  let captionX: Double
  let trueLabelX: Double
  let predictedLabelY: Double
  let title: FittedTitle
  let titleTop: Double

  init(_ chart: ConfusionMatrixChart, measure m: Painter) {
    self.chart = chart
    let n = chart.classes.count
    let margin = Double(PlotTheme.margin)
    var cell = max(1, min(64, 1200 / n))
    if n * cell < 300 { cell = (300 + n - 1) / n }
    self.cell = cell
    let side = n * cell

    // Class labels: large when cells are tall enough, else small, and only every k-th in the PNG when
    // even small labels would overlap.
    let labelFont = ChartFont(size: cell >= 20 ? 13 : 10)
    self.labelFont = labelFont
    let every = max(1, Int(((labelFont.size + 2) / Double(cell)).rounded(.up)))
    self.every = every
    let maxLabelWidth = ConfusionMatrixChart.maxLabelEms * labelFont.size
    var labels = [String](repeating: "", count: n)
    for i in stride(from: 0, to: n, by: every) {
      labels[i] = m.fitted(chart.classes[i], labelFont, maxWidth: maxLabelWidth)
    }
    let labelWidth = (stride(from: 0, to: n, by: every).map { m.width(labels[$0], labelFont) }.max() ?? 0).rounded(.up)
    self.labels = labels
    let smallFont = ChartFont(size: min(labelFont.size, Double(cell) * 0.9))
    self.smallFont = smallFont
    smallLabels = every == 1 ? [] : chart.classes.map { m.fitted($0, smallFont, maxWidth: labelWidth) }

    // Colour bar ticks.
    let largestCount = chart.matrix.map { $0.max() ?? 0 }.max() ?? 0
    let barTop = chart.normalized ? 1.0 : Double(max(1, largestCount))
    let step = chart.normalized ? PlotTicks.step(span: barTop, count: 5) : max(1, PlotTicks.step(span: barTop, count: 5))
    let barValues = PlotTicks.values(from: 0, to: barTop, step: step)
    let barLabels = barValues.map { PlotTicks.label($0, step: step, largest: barTop) }
    let barLabelWidth = barLabels.map { m.width($0, PlotTheme.tickFont) }.max() ?? 0
    barCaption = chart.normalized ? "fraction of true class" : "count"

    // Natural size, then centred on an image of at least 500×500.
    let axisBand = m.lineHeight(PlotTheme.labelFont)
    let matrixX = Int((margin + axisBand + 12 + labelWidth + 10).rounded(.up))
    let barX = matrixX + side + 24
    let barWidth = 20
    let captionLeft = Double(barX + barWidth + 12) + barLabelWidth + 14
    let naturalWidth = Int((captionLeft + axisBand + margin).rounded(.up))
    let W = max(500, naturalWidth)
    let ox = (W - naturalWidth) / 2
    title = m.fitTitle(chart.title, maxWidth: Double(W) - 2 * margin)
    let titleHeight = title.lineCount > 1 ? title.height : m.titleBand
    let matrixY = Int((margin + titleHeight + 27).rounded(.up))
    let predictedTop = Double(matrixY + side + 10) + labelWidth + 16
    let naturalHeight = Int((predictedTop + axisBand + margin).rounded(.up))
    let H = max(500, naturalHeight)
    let oy = (H - naturalHeight) / 2
    width = W
    height = H
    grid = PixelRect(x: matrixX + ox, y: matrixY + oy, width: side, height: side)
    titleTop = Double(oy) + margin + (titleHeight - title.height) / 2
    trueLabelX = margin + Double(ox) + axisBand / 2
    predictedLabelY = predictedTop + Double(oy) + axisBand / 2
    captionX = captionLeft + Double(ox) + axisBand / 2
    let bar = PixelRect(x: barX + ox, y: grid.y, width: barWidth, height: side)
    self.bar = bar
    barTicks = zip(barValues, barLabels).map { value, label in
      PlotTick(position: bar.maxY - 1 - Int((value / barTop * Double(bar.height - 1)).rounded()), label: label)
    }

    // Counts in the cells, when the largest fits.
    values = chart.intensities()
    let widest = String(largestCount)
    countFont =
      [(ChartFont(size: 13), 24), (ChartFont(size: 9), 12)].first { font, minimumCell in
        cell >= minimumCell && m.width(widest, font) <= Double(cell - 6)
      }?.0
  }

  /// Draws the heatmap; in the PNG (`.raster`) only every `every`-th class is labelled.
  func draw(_ p: Painter, _ medium: Medium) {
    let n = chart.classes.count
    let matrix = chart.matrix
    // Cells: one rectangle of the zero colour, then the non-zero cells over it.
    p.fill(grid, PlotColor.interpolate(PlotTheme.blues, 0))
    for i in 0..<n {
      for j in 0..<n where matrix[i][j] != 0 {
        p.fill(
          PixelRect(x: grid.x + j * cell, y: grid.y + i * cell, width: cell, height: cell),
          PlotColor.interpolate(PlotTheme.blues, values[i][j]))
      }
    }

    // Counts; zeros only in small matrices, where they do not clutter.
    if let countFont {
      for i in 0..<n {
        for j in 0..<n where matrix[i][j] != 0 || n <= 20 {
          let color =
            values[i][j] > 0.5 ? PlotTheme.background : matrix[i][j] == 0 ? PlotTheme.zeroCount : PlotTheme.text
          p.text(
            String(matrix[i][j]), countFont, x: Double(grid.x + j * cell) + Double(cell) / 2,
            y: Double(grid.y + i * cell) + Double(cell) / 2, anchor: .middle, color: color)
        }
      }
    }
    p.frame(PixelRect(x: grid.x - 1, y: grid.y - 1, width: grid.width + 2, height: grid.height + 2), PlotTheme.axis)

    // Class labels: rows (true class) on the left, columns (predicted class) below, reading upwards. The
    // PNG labels every `every`-th class; the vector files all, smaller when the PNG leaves some out.
    let small = medium == .vector && every > 1
    for k in 0..<n where small || k % every == 0 {
      let (name, font) = small ? (smallLabels[k], smallFont) : (labels[k], labelFont)
      let middle = k * cell + cell / 2
      p.fill(PixelRect(x: grid.x - 6, y: grid.y + middle, width: 5, height: 1), PlotTheme.axis)
      p.fill(PixelRect(x: grid.x + middle, y: grid.maxY + 1, width: 1, height: 5), PlotTheme.axis)
      p.text(name, font, x: Double(grid.x - 9), y: Double(grid.y + middle) + 0.5, anchor: .end)
      p.text(name, font, x: Double(grid.x + middle) + 0.5, y: Double(grid.maxY + 9), anchor: .end, vertical: true)
    }

    // Colour bar.
    p.verticalGradient(bar, stops: PlotTheme.blues)
    p.frame(PixelRect(x: bar.x - 1, y: bar.y - 1, width: bar.width + 2, height: bar.height + 2), PlotTheme.axis)
    for tick in barTicks {
      p.fill(PixelRect(x: bar.maxX + 1, y: tick.position, width: 4, height: 1), PlotTheme.axis)
      p.text(tick.label, PlotTheme.tickFont, x: Double(bar.maxX + 12), y: Double(tick.position) + 0.5, anchor: .start)
    }
    let middleY = Double(grid.y) + Double(grid.height) / 2
    p.text(barCaption, PlotTheme.labelFont, x: captionX, y: middleY, anchor: .middle, vertical: true)

    // Axis labels and title.
    p.text(
      "predicted class", PlotTheme.labelFont, x: Double(grid.x) + Double(grid.width) / 2, y: predictedLabelY,
      anchor: .middle)
    p.text("true class", PlotTheme.labelFont, x: trueLabelX, y: middleY, anchor: .middle, vertical: true)
    p.title(title, centerX: Double(width) / 2, top: titleTop)
  }
}
