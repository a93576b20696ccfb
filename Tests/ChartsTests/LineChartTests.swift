// Tests of the training-curve charts: lines, markers, gaps and colours read back from the PNG's pixels at
// the coordinates the SVG's paths give, and the text (title, axis labels, ticks, legend) from the PDF.

import Charts
import Foundation
import TestSupport
import Testing

/// A pixel where blue clearly dominates (the train line, also where anti-aliased).
private func bluish(_ rgb: UInt32) -> Bool {
  let (r, b) = (Int(rgb >> 16), Int(rgb & 0xff))
  return b > r + 40
}

@Suite struct LineChartTests {
  @Test func lossChartDrawsBothSeriesWithAMarkerAtEveryPoint() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("loss")
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 20), to: base)

    let png = try RGBImage(path: base + ".png")
    #expect(png.width == 800 && png.height == 500)
    #expect(png.rgb(0, 0) == 0xffffff && png.rgb(799, 499) == 0xffffff)
    let svg = try SVGDocument(path: base + ".svg")
    for color in [blue, orange] {
      // One line through the values, and the legend's swatch.
      let lines = svg.strokes(color)
      try #require(lines.count == 2)
      let line = lines[0]
      // A marker on every value (plus one in the legend), evenly spaced along x and lying on the line;
      // its centre pixel in the PNG has exactly the series colour.
      let discs = svg.fills(color).filter(\.hasCurves)
      try #require(discs.count == 21)
      let points = discs.prefix(20).map(\.centre)
      let spacing = (points[19].x - points[0].x) / 19
      #expect(spacing > 30)
      for (k, p) in points.enumerated() {
        #expect(abs(p.x - (points[0].x + Double(k) * spacing)) < 0.01, "marker \(k) at \(p)")
        #expect(line.distance(to: p) < 0.01, "marker \(k) on the line")
        #expect(png.rgb(Int(p.x), Int(p.y)) == color, "PNG pixel at \(p)")
      }
      #expect(line.vertices.first!.x == points[0].x && line.vertices.last!.x == points[19].x)
    }
    // Loss falls: the first train-loss point is higher on the image (smaller y) than the last.
    let train = try #require(svg.strokes(blue).first?.vertices)
    #expect(train.first!.y < train.last!.y)
    // The title is drawn in dark pixels in the band above the plot.
    #expect(png.darkPixels(x: 300..<500, y: 8..<50, atLeast: 500) > 50)
  }

  @Test func seriesLongerThanFortyPointsAreLinesWithoutMarkers() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("long")
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 50), to: base)
    let svg = try SVGDocument(path: base + ".svg")
    // The line across the whole plot, and the legend swatch.
    for color in [blue, orange] {
      let lines = svg.strokes(color)
      #expect(lines.count == 2 && lines[0].span > 650 && lines[1].span == 28)
    }
    #expect(svg.fills(blue).filter(\.hasCurves).isEmpty && svg.fills(orange).filter(\.hasCurves).isEmpty)
    let png = try RGBImage(path: base + ".png")
    #expect(png.count(blue) > 200 && png.count(orange) > 200)
  }

  @Test func nonFiniteValuesLeaveGapsAndLonePointsBecomeMarkers() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("nan")
    var values = (1...100).map { 1 / Double($0) }
    values[10] = .nan
    values[11] = .infinity
    values[50] = -.infinity
    values[52] = .nan  // leaves values[51] alone between two gaps
    try Plot.lineChart(
      title: "NaN", xLabel: "iteration", yLabel: "loss",
      series: [PlotSeries(name: "loss", values: values), PlotSeries(name: "all NaN", values: [.nan, .nan])], to: base)

    let svg = try SVGDocument(path: base + ".svg")
    // Three runs of values (epochs 1–10, 13–50, 54–100), then the legend swatch; the all-NaN series draws
    // nothing at all.
    let strokes = svg.strokes(blue)
    try #require(strokes.count == 4)
    #expect(strokes[3].span == 28)
    #expect(svg.strokes(orange).isEmpty && svg.fills(orange).isEmpty)
    let runs = strokes.prefix(3).map(\.vertices)
    let x0 = runs[0].first!.x
    let step = (runs[0].last!.x - x0) / 9
    func epoch(_ x: Double) -> Double { 1 + (x - x0) / step }
    let ends = runs.map { [epoch($0.first!.x), epoch($0.last!.x)] }
    for (got, expected) in zip(ends.joined(), [1.0, 10, 13, 50, 54, 100]) {
      #expect(abs(got - expected) < 0.01, "run ends \(ends)")
    }
    // The lone value 52 is a marker (the only one: 100 values are too many for markers).
    let discs = svg.fills(blue).filter(\.hasCurves)
    try #require(discs.count == 1)
    let lone = discs[0].centre
    #expect(abs(epoch(lone.x) - 52) < 0.01)

    let png = try RGBImage(path: base + ".png")
    #expect(png.rgb(Int(lone.x), Int(lone.y)) == blue)
    // In the PNG, the columns of the first gap hold no blue at all; a column of the first run does.
    func bluePixels(column: Int) -> Int { (0..<png.height).filter { bluish(png.rgb(column, $0)) }.count }
    let gapMiddle = Int((runs[0].last!.x + runs[1].first!.x) / 2)
    for column in (gapMiddle - 3)...(gapMiddle + 3) { #expect(bluePixels(column: column) == 0, "column \(column)") }
    #expect(bluePixels(column: Int(runs[0][5].x)) > 0)
    // No NaN or infinity made it into a coordinate.
    let raw = try String(contentsOfFile: base + ".svg", encoding: .utf8)
    #expect(!raw.lowercased().contains("nan") && !raw.lowercased().contains("inf"))
  }

  @Test func missingTestCurveKeepsColourSlotsAndDrawsOnlyTheTrainCurve() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("no-test")
    // featx passes NaN for the test loss when there is no test split.
    let series = [
      PlotSeries(name: "train", values: [1.0, 0.6, 0.4, 0.3]), PlotSeries(name: "test", values: [.nan, .nan, .nan, .nan]),
    ]
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: series, to: base)
    let png = try RGBImage(path: base + ".png")
    #expect(png.count(blue) > 50 && png.count(orange) == 0)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(svg.strokes(blue).count == 2)  // the line and the legend swatch
    #expect(svg.paths.allSatisfy { $0.fill != orange && $0.stroke != orange })
  }

  @Test func singleEpochIsDrawnAsMarkersAtTheSameX() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("single")
    let series = [PlotSeries(name: "train", values: [0.8]), PlotSeries(name: "test", values: [0.7])]
    try Plot.lineChart(title: "One epoch", xLabel: "epoch", yLabel: "accuracy", series: series, to: base)
    let svg = try SVGDocument(path: base + ".svg")
    // No lines but the legend swatches; a marker per series (then one per legend entry).
    #expect(svg.strokes(blue).map(\.span) == [28] && svg.strokes(orange).map(\.span) == [28])
    let train = svg.fills(blue).filter(\.hasCurves)
    let test = svg.fills(orange).filter(\.hasCurves)
    try #require(train.count == 2 && test.count == 2)
    #expect(train[0].centre.x == test[0].centre.x)
    #expect(train[0].centre.y < test[0].centre.y)  // 0.8 is drawn above 0.7
    let png = try RGBImage(path: base + ".png")
    #expect(png.rgb(Int(train[0].centre.x), Int(train[0].centre.y)) == blue)
    #expect(png.rgb(Int(test[0].centre.x), Int(test[0].centre.y)) == orange)
  }

  @Test func emptySeriesGiveAxesOnly() throws {
    let dir = TemporaryDirectory("featx-charts")
    for (name, series) in [("none", [PlotSeries]()), ("empty", [PlotSeries(name: "train loss", values: [])])] {
      let base = dir.path(name)
      try Plot.lineChart(title: "Nothing yet", xLabel: "epoch", yLabel: "loss", series: series, to: base)
      let png = try RGBImage(path: base + ".png")
      #expect(png.width == 800 && png.height == 500)
      #expect(png.count(blue) == 0, "\(name): no data, no legend: nothing in the series colour")
      #expect(png.count(axisGrey) > 1000, "\(name): the axis frame")
      let svg = try SVGDocument(path: base + ".svg")
      #expect(svg.paths.allSatisfy { $0.stroke == nil && !$0.hasCurves }, "\(name): no lines, no markers")
    }
  }
}

/// The chart text, read from the PDF with pdftotext.
@Suite(.enabled(if: PDFText.tool != nil, "\(PDFText.missing)"))
struct LineChartTextTests {
  @Test func lossChartHasTitleAxisLabelsNiceTicksAndLegend() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("loss")
    try Plot.lineChart(
      title: "Probe loss", xLabel: "epoch", yLabel: "cross-entropy", series: lossSeries(epochs: 50), to: base)
    let text = try PDFText.flattened(base + ".pdf")
    for phrase in ["Probe loss", "epoch", "cross-entropy", "train loss", "test loss"] {
      #expect(text.contains(phrase), "missing \(phrase) in \(text)")
    }
    // Nice ticks: y from 0 in steps of 0.5, x in steps of 5 (50 epochs).
    let words = try PDFText.words(base + ".pdf")
    for tick in ["0", "0.5", "1.0", "1.5", "2.0", "2.5"] + stride(from: 5, through: 50, by: 5).map(String.init) {
      #expect(words.contains(tick), "missing tick \(tick)")
    }
    #expect(!words.contains("0.25") && !words.contains("2") && !words.contains("55"))
  }

  @Test func accuracyTicksRunFromPointThreeToOne() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("accuracy")
    let series = [
      PlotSeries(name: "train accuracy", values: (1...12).map { 1 - 0.8 * exp(-Double($0) / 3) }),
      PlotSeries(name: "test accuracy", values: (1...12).map { 0.9 - 0.8 * exp(-Double($0) / 3) }),
    ]
    try Plot.lineChart(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: series, to: base)
    let words = try PDFText.words(base + ".pdf")
    // Values from 0.31 to 0.98: ticks every 0.1 from 0.3 to 1.0.
    for tick in ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"] {
      #expect(words.contains(tick), "missing tick \(tick)")
    }
    #expect(!words.contains("0.2") && !words.contains("1.1"))
  }

  @Test func legendListsOnlySeriesWithData() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("no-test")
    let series = [
      PlotSeries(name: "train", values: [1.0, 0.6, 0.4, 0.3]), PlotSeries(name: "test", values: [.nan, .nan, .nan, .nan]),
    ]
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: series, to: base)
    let words = try PDFText.words(base + ".pdf")
    #expect(words.contains("train") && !words.contains("test"))
  }

  @Test func singleEpochHasTheOnlyXTickOne() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("single")
    let series = [PlotSeries(name: "train", values: [0.8]), PlotSeries(name: "test", values: [0.7])]
    try Plot.lineChart(title: "One epoch", xLabel: "epoch", yLabel: "accuracy", series: series, to: base)
    let words = try PDFText.words(base + ".pdf")
    #expect(words.contains("1") && !words.contains("2"))
  }

  @Test func emptyChartHasTitleAndAxisLabelsButNoLegend() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("empty")
    try Plot.lineChart(
      title: "Nothing yet", xLabel: "epoch", yLabel: "loss", series: [PlotSeries(name: "train loss", values: [])],
      to: base)
    let text = try PDFText.flattened(base + ".pdf")
    #expect(text.contains("Nothing yet") && text.contains("epoch") && text.contains("loss"))
    #expect(!text.contains("train"))
  }

  @Test func longTitlesAreShrunkOrWrappedNeverCut() throws {
    let dir = TemporaryDirectory("featx-charts")
    // Too wide at the full size, fits smaller: one line, the image keeps its size.
    let shrunk = "Loss (mean cross-entropy) of the linear head on the held-out test split"
    try Plot.lineChart(title: shrunk, xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 5), to: dir.path("a"))
    #expect(try PDFText.flattened(dir.path("a.pdf")).contains(shrunk))
    #expect(try RGBImage(path: dir.path("a.png")).height == 500)
    // Too wide even at the smallest size: wrapped onto more lines; the image grows to keep the plot.
    let wrapped =
      "Loss of the probe on the test split for 玫瑰, 向日葵 and Rosé, over many epochs of training with a learning rate of 1e-5 and a batch of 64 images"
    try Plot.lineChart(title: wrapped, xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 5), to: dir.path("b"))
    #expect(try PDFText.flattened(dir.path("b.pdf")).contains(wrapped))
    let png = try RGBImage(path: dir.path("b.png"))
    #expect(png.width == 800 && png.height > 500)
    // Both title lines are drawn: dark pixels in two separate bands at the top.
    let rows = (0..<70).map { png.darkPixels(x: 0..<800, y: $0..<($0 + 1), atLeast: 400) > 0 }
    let bands = zip(rows, [false] + rows).filter { $0 && !$1 }.count
    #expect(bands == 2, "title bands in the first 70 rows: \(bands)")
  }

  @Test func markupCharactersAreDrawnAsText() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("names")
    let title = "Loss <&> \"quoted\" 'single' — naïve 日本"
    try Plot.lineChart(
      title: title, xLabel: "x & y", yLabel: "<loss>", series: [PlotSeries(name: "a<b&c", values: [1, 2])], to: base)
    // pdftotext drops the spaces of short labels ("x&y"), so spaces are not compared.
    let text = try PDFText.extract(base + ".pdf").filter { !$0.isWhitespace }
    for phrase in [title, "x & y", "<loss>", "a<b&c"].map({ $0.filter { !$0.isWhitespace } }) {
      #expect(text.contains(phrase), "missing \(phrase) in \(text)")
    }
    _ = try SVGDocument(path: base + ".svg")
  }

  @Test func tooLongLegendNamesAndAxisLabelsEndInEllipsis() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("long-names")
    let name = String(repeating: "train loss with a long name ", count: 4)
    let label = String(repeating: "iteration ", count: 20)
    try Plot.lineChart(
      title: "t", xLabel: label, yLabel: "loss", series: [PlotSeries(name: name, values: [1, 2, 3])], to: base)
    let text = try PDFText.flattened(base + ".pdf")
    #expect(text.contains("train loss with a long name") && text.contains("\u{2026}"))
    #expect(!text.contains(name.trimmingCharacters(in: .whitespaces)))
    #expect(text.contains("iteration iteration") && !text.contains(label.trimmingCharacters(in: .whitespaces)))
  }
}
