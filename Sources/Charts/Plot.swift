// The public face of the charts `featx probe --plot DIR` writes: training curves and a confusion-matrix
// heatmap, each as `<base>.png`, `<base>.svg` and `<base>.pdf`. Every chart has one drawing function that
// cairo runs on three surfaces (Surfaces.swift), and its text is laid out by pango, so names in any
// script are drawn with the fonts fontconfig finds. This file holds only the API and its errors.

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
  /// cairo could not draw or encode the file (e.g. out of memory, an image too large).
  case encoding(path: String, reason: String)

  public var description: String {
    switch self {
    case .invalidInput(let path, let reason): "\(path): cannot draw the chart: \(reason)"
    case .write(let path, let reason):
      "\(path): cannot write the chart: \(reason); check that its folder exists and is writable"
    case .encoding(let path, let reason): "\(path): cairo cannot render the chart: \(reason)"
    }
  }
}

/// Training curves and confusion matrices as PNG, SVG and PDF files.
public enum Plot {
  /// A line chart: x = epoch or iteration (1...n), one line per series, with a title, axis labels,
  /// nice tick values, grid lines and a legend; writes `<base>.png`, `<base>.svg` and `<base>.pdf`
  /// (800×500; taller only when a long title needs more than one line).
  ///
  /// NaN and infinite values (and magnitudes above 1e100) are skipped, leaving a gap in the line; a point
  /// without neighbours is drawn as a marker, and series of at most 40 points have a marker at every
  /// point. Empty (or all-NaN) series are allowed: they keep their colour slot but are left out of the
  /// legend, so a chart of no data shows the axes only. A title too wide for the chart is set smaller, then
  /// wrapped, never cut; axis labels and legend names too long for their place end in "…".
  /// `xTickLabels` names the points 1...n on the x axis (e.g. shot counts) instead of numbering them.
  /// - Throws: `PlotError` naming the file that could not be written.
  public static func lineChart(
    title: String, xLabel: String, yLabel: String, series: [PlotSeries], xTickLabels: [String]? = nil, to base: String
  ) throws {
    try LineChart(title: title, xLabel: xLabel, yLabel: yLabel, series: series, xTickLabels: xTickLabels).write(to: base)
  }

  /// A confusion-matrix heatmap: rows are true classes, columns predicted classes, class names on both
  /// axes, and a colour bar; writes `<base>.png`, `<base>.svg` and `<base>.pdf`. The image grows with the
  /// class count (from 500 to about 1600 pixels).
  ///
  /// Colour shows the row-normalised fraction (the share of each true class predicted as each class, so
  /// rare and common classes compare fairly) or, with `normalized: false`, the count relative to the
  /// largest count. Counts are printed in the cells when they fit. Class names wider than their place are
  /// shortened with "…" (by their drawn width). With more classes than labels fit (more than 100), the PNG
  /// labels every k-th class, while the SVG and PDF name every class in a font small enough for the cells,
  /// so zooming in shows all of them. Cells with a count of 0 are one background rectangle, so the vector
  /// files of large matrices stay small. At most 2000 classes.
  /// - Throws: `PlotError.invalidInput` if the matrix is not square with one row per class name or holds
  ///   a negative count; `PlotError.write` naming the file that could not be written.
  public static func confusionMatrix(
    _ matrix: [[Int]], classes: [String], title: String, normalized: Bool = true, to base: String
  ) throws {
    try ConfusionMatrixChart(matrix: matrix, classes: classes, title: title, normalized: normalized, base: base)
      .write(to: base)
  }
}
