// Tests of the charts `featx probe --plot` writes: the PNGs are decoded back with libpng and checked pixel
// by pixel, the SVGs are parsed as XML; edge cases (NaN, one epoch, one or 200 classes, names needing
// escaping, unwritable paths) and byte-for-byte determinism.

import CPNG
import Foundation
import Charts
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

// MARK: - Helpers

/// A decoded RGB8 PNG.
private struct DecodedPNG {
  var width: Int
  var height: Int
  var pixels: [UInt8]

  /// The colour at (x, y) as 0xRRGGBB.
  func rgb(_ x: Int, _ y: Int) -> UInt32 {
    let i = 3 * (y * width + x)
    return UInt32(pixels[i]) << 16 | UInt32(pixels[i + 1]) << 8 | UInt32(pixels[i + 2])
  }

  /// How many pixels have exactly this colour.
  func count(_ color: UInt32) -> Int {
    var n = 0
    for y in 0..<height { for x in 0..<width where rgb(x, y) == color { n += 1 } }
    return n
  }
}

private struct PNGDecodeError: Error, CustomStringConvertible {
  var description: String
}

/// Reads a PNG with libpng's simplified API (independently of the writer under test).
private func decodePNG(_ path: String) throws -> DecodedPNG {
  var image = png_image()
  image.version = UInt32(PNG_IMAGE_VERSION)
  guard png_image_begin_read_from_file(&image, path) != 0 else {
    throw PNGDecodeError(description: "\(path): libpng cannot read it")
  }
  image.format = featx_png_format_rgb()
  let (width, height) = (Int(image.width), Int(image.height))
  var pixels = [UInt8](repeating: 0, count: width * height * 3)
  let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
  png_image_free(&image)
  guard ok != 0 else { throw PNGDecodeError(description: "\(path): libpng cannot decode it") }
  return DecodedPNG(width: width, height: height, pixels: pixels)
}

/// One SVG element: its name, attributes, the ids of the groups around it, and its own text.
private struct SVGElement {
  var name: String
  var attributes: [String: String]
  var groups: [String]
  var text = ""

  func number(_ key: String) -> Double { Double(attributes[key] ?? "") ?? .nan }
}

/// Parses an SVG file with Foundation's `XMLParser`; throws if it is not well-formed XML.
private final class SVGDocument: NSObject, XMLParserDelegate {
  private(set) var elements: [SVGElement] = []
  private var stack: [Int] = []
  private var groupIDs: [String] = []
  private var parseError: Error?

  init(path: String) throws {
    super.init()
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let parser = XMLParser(data: data)
    parser.delegate = self
    guard parser.parse() else {
      throw parseError ?? parser.parserError ?? PNGDecodeError(description: "\(path): not well-formed")
    }
  }

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    elements.append(SVGElement(name: name, attributes: attributes, groups: groupIDs))
    stack.append(elements.count - 1)
    if name == "g" { groupIDs.append(attributes["id"] ?? "") }
  }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    stack.removeLast()
    if name == "g" { groupIDs.removeLast() }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if let top = stack.last { elements[top].text += string }
  }

  func parser(_ parser: XMLParser, parseErrorOccurred error: Error) { parseError = error }

  /// Elements named `name`, optionally only those inside the group with id `group`.
  func all(_ name: String, in group: String? = nil) -> [SVGElement] {
    elements.filter { $0.name == name && (group.map($0.groups.contains) ?? true) }
  }

  /// Every `<text>` and `<title>` string.
  var strings: [String] { elements.filter { $0.name == "text" || $0.name == "title" }.map(\.text) }
}

/// A fresh directory under the system's temporary folder, removed by `cleanup()`.
private struct ScratchDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "featx-plot-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  func cleanup() { try? FileManager.default.removeItem(atPath: path) }
  func base(_ name: String) -> String { path + "/" + name }
}

/// Relative luminance-like darkness measure (0 = white).
private func darkness(_ rgb: UInt32) -> Int {
  765 - Int(rgb >> 16) - Int((rgb >> 8) & 0xff) - Int(rgb & 0xff)
}

/// "#rrggbb" → 0xRRGGBB.
private func hexColor(_ text: String?) -> UInt32 { UInt32(text?.dropFirst() ?? "", radix: 16) ?? 0xdead_beef }

private let blue: UInt32 = 0x1f77b4
private let orange: UInt32 = 0xff7f0e
private let darkestBlue: UInt32 = 0x08306b

private func lossSeries(epochs: Int) -> [PlotSeries] {
  [
    PlotSeries(name: "train loss", values: (1...epochs).map { 2.3 * exp(-Double($0) / 5) + 0.05 }),
    PlotSeries(name: "test loss", values: (1...epochs).map { 2.3 * exp(-Double($0) / 6) + 0.2 }),
  ]
}

// MARK: - Line charts

@Suite struct LineChartTests {
  @Test func lossChartPNGShowsBothLinesOnWhite() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("loss")
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 20), to: base)

    let png = try decodePNG(base + ".png")
    #expect(png.width == 800 && png.height == 500)
    #expect(png.rgb(0, 0) == 0xffffff)
    #expect(png.rgb(799, 499) == 0xffffff)
    #expect(png.count(blue) > 200)
    #expect(png.count(orange) > 200)

    // Each data point is a marker: its centre pixel has exactly the series colour, at the SVG's coordinates.
    let svg = try SVGDocument(path: base + ".svg")
    for (group, color) in [("series-1", blue), ("series-2", orange)] {
      let markers = svg.all("circle", in: group)
      #expect(markers.count == 20)
      for marker in markers {
        let (x, y) = (Int(marker.number("cx")), Int(marker.number("cy")))
        #expect(png.rgb(x, y) == color, "marker at \(x),\(y) in \(group)")
      }
    }
    // Loss falls: the first train-loss point is higher on the image (smaller y) than the last.
    let train = svg.all("circle", in: "series-1")
    #expect(train[0].number("cy") < train[19].number("cy"))
    // The title is drawn in dark pixels in the band above the plot.
    var titlePixels = 0
    for y in 10..<45 { for x in 300..<500 where darkness(png.rgb(x, y)) > 500 { titlePixels += 1 } }
    #expect(titlePixels > 50)
  }

  @Test func lossChartSVGHasTitleLabelsTicksAndLegend() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("loss")
    try Plot.lineChart(
      title: "Probe loss", xLabel: "epoch", yLabel: "cross-entropy", series: lossSeries(epochs: 50), to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let root = try #require(svg.elements.first)
    #expect(root.name == "svg" && root.attributes["width"] == "800" && root.attributes["height"] == "500")
    let strings = svg.strings
    for expected in ["Probe loss", "epoch", "cross-entropy", "train loss", "test loss"] {
      #expect(strings.contains(expected), "missing \(expected)")
    }
    // Nice ticks: y from 0 in steps of 0.5, x in steps of 10 (50 epochs).
    for tick in ["0", "0.5", "1.0", "1.5", "2.0", "10", "20", "30", "40", "50"] {
      #expect(strings.contains(tick), "missing tick \(tick)")
    }
    let lines = svg.all("polyline", in: "data")
    #expect(lines.count == 2)
    #expect(lines.allSatisfy { ($0.attributes["points"] ?? "").split(separator: " ").count == 50 })
    #expect(lines.map { hexColor($0.attributes["stroke"]) } == [blue, orange])
    // More than 40 points: no markers.
    #expect(svg.all("circle", in: "data").isEmpty)
    #expect(svg.all("text", in: "legend").map(\.text) == ["train loss", "test loss"])
  }

  @Test func accuracyChartTicksBetweenZeroAndOne() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("accuracy")
    let series = [
      PlotSeries(name: "train accuracy", values: (1...12).map { 1 - 0.8 * exp(-Double($0) / 3) }),
      PlotSeries(name: "test accuracy", values: (1...12).map { 0.9 - 0.8 * exp(-Double($0) / 3) }),
    ]
    try Plot.lineChart(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: series, to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let strings = svg.strings
    // Values from 0.31 to 0.98: ticks every 0.1 from 0.3 to 1.0.
    for tick in ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"] {
      #expect(strings.contains(tick), "missing tick \(tick)")
    }
    #expect(!strings.contains("0.2") && !strings.contains("1.1"))
    // Rising curves leave the bottom right free: the legend goes there, below the plot's middle.
    let legendBox = try #require(svg.all("rect", in: "legend").first)
    #expect(legendBox.number("y") > 250)
  }

  @Test func nonFiniteValuesLeaveGapsAndLonePointsBecomeMarkers() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("nan")
    var values = (1...100).map { 1 / Double($0) }
    values[10] = .nan
    values[11] = .infinity
    values[50] = -.infinity
    values[52] = .nan  // leaves values[51] alone between two gaps
    try Plot.lineChart(
      title: "NaN", xLabel: "iteration", yLabel: "loss",
      series: [PlotSeries(name: "loss", values: values), PlotSeries(name: "all NaN", values: [.nan, .nan])], to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let lines = svg.all("polyline", in: "series-1")
    #expect(lines.map { ($0.attributes["points"] ?? "").split(separator: " ").count } == [10, 38, 47])
    #expect(svg.all("circle", in: "series-1").count == 1)
    #expect(svg.all("polyline", in: "series-2").isEmpty && svg.all("circle", in: "series-2").isEmpty)
    #expect(svg.all("text", in: "legend").map(\.text) == ["loss"])
    let raw = try String(contentsOfFile: base + ".svg", encoding: .utf8)
    #expect(!raw.lowercased().contains("nan,") && !raw.contains("inf"))
    let png = try decodePNG(base + ".png")
    #expect(png.count(blue) > 100)
  }

  @Test func missingTestCurveKeepsColoursAndLeavesLegend() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("no-test")
    // featx passes NaN for the test loss when there is no test split.
    let series = [
      PlotSeries(name: "train", values: [1.0, 0.6, 0.4, 0.3]), PlotSeries(name: "test", values: [.nan, .nan, .nan, .nan]),
    ]
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: series, to: base)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(svg.all("text", in: "legend").map(\.text) == ["train"])
    let png = try decodePNG(base + ".png")
    #expect(png.count(blue) > 50 && png.count(orange) == 0)
  }

  @Test func singleEpochIsDrawnAsMarkers() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("single")
    let series = [PlotSeries(name: "train", values: [0.8]), PlotSeries(name: "test", values: [0.7])]
    try Plot.lineChart(title: "One epoch", xLabel: "epoch", yLabel: "accuracy", series: series, to: base)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(svg.all("polyline", in: "data").isEmpty)
    let markers = svg.all("circle", in: "data")
    #expect(markers.count == 2)
    let png = try decodePNG(base + ".png")
    #expect(png.rgb(Int(markers[0].number("cx")), Int(markers[0].number("cy"))) == blue)
    #expect(png.rgb(Int(markers[1].number("cx")), Int(markers[1].number("cy"))) == orange)
    // Both points sit at epoch 1, the only x tick.
    #expect(markers[0].number("cx") == markers[1].number("cx"))
    #expect(svg.strings.contains("1") && !svg.strings.contains("2"))
  }

  @Test func emptySeriesGiveAxesOnly() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    for (name, series) in [("none", [PlotSeries]()), ("empty", [PlotSeries(name: "train loss", values: [])])] {
      let base = dir.base(name)
      try Plot.lineChart(title: "Nothing yet", xLabel: "epoch", yLabel: "loss", series: series, to: base)
      let svg = try SVGDocument(path: base + ".svg")
      #expect(svg.all("polyline", in: "data").isEmpty && svg.all("circle", in: "data").isEmpty)
      #expect(svg.strings.contains("Nothing yet") && svg.strings.contains("epoch"))
      let png = try decodePNG(base + ".png")
      // No data, no legend: nothing in the series colour.
      #expect(png.width == 800 && png.count(blue) == 0)
      #expect(svg.all("g").allSatisfy { $0.attributes["id"] != "legend" })
      #expect(png.count(0x444444) > 1000)  // the axis frame
    }
  }

  @Test func namesAreEscapedInSVGAndReplacedInPNG() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("names")
    let title = "Loss <&> \"quoted\" 'single' — naïve 日本"
    try Plot.lineChart(
      title: title, xLabel: "x & y", yLabel: "<loss>", series: [PlotSeries(name: "a<b&c", values: [1, 2])], to: base)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(svg.strings.contains(title))
    #expect(svg.strings.contains("x & y") && svg.strings.contains("<loss>") && svg.strings.contains("a<b&c"))
    let raw = try String(contentsOfFile: base + ".svg", encoding: .utf8)
    #expect(raw.contains("a&lt;b&amp;c") && raw.contains("&quot;quoted&quot;") && raw.contains("naïve 日本"))
    #expect(try decodePNG(base + ".png").width == 800)
  }
}

// MARK: - Confusion matrices

/// The cell rectangles of a heatmap SVG, row by row.
private func cells(_ svg: SVGDocument) -> [SVGElement] { svg.all("rect", in: "cells") }

@Suite struct ConfusionMatrixTests {
  @Test func heatmapPNGColoursMatchCounts() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("cm")
    let matrix = [[50, 1, 0, 2], [3, 40, 2, 0], [0, 4, 30, 6], [1, 0, 5, 20]]
    let classes = ["cat", "dog", "bird", "fish"]
    try Plot.confusionMatrix(matrix, classes: classes, title: "Test confusion", to: base)

    let svg = try SVGDocument(path: base + ".svg")
    let rects = cells(svg)
    #expect(rects.count == 16)
    let png = try decodePNG(base + ".png")
    #expect(png.width >= 500 && png.height >= 500 && png.width <= 1700 && png.height <= 1700)
    #expect(png.rgb(0, 0) == 0xffffff)
    // Sample each cell near its top-left corner (the count is printed in the middle).
    func cellColor(_ i: Int, _ j: Int) -> UInt32 {
      let r = rects[i * 4 + j]
      return png.rgb(Int(r.number("x")) + 3, Int(r.number("y")) + 3)
    }
    for i in 0..<4 {
      for j in 0..<4 {
        #expect(cellColor(i, j) == hexColor(rects[i * 4 + j].attributes["fill"]), "cell \(i),\(j): PNG and SVG agree")
        if i != j { #expect(darkness(cellColor(i, i)) > darkness(cellColor(i, j)), "diagonal \(i) darker than \(j)") }
      }
    }
    // The largest count (also the largest share of its row) gets the darkest colour.
    let darkest = rects.indices.map { darkness(cellColor($0 / 4, $0 % 4)) }.max() ?? 0
    #expect(darkness(cellColor(0, 0)) == darkest)
    // Counts are printed: the largest cell's count in white on the dark cell.
    #expect(svg.all("text", in: "counts").map(\.text).contains("50"))
    let strings = svg.strings
    for name in classes + ["Test confusion", "true class", "predicted class", "fraction of true class"] {
      #expect(strings.contains(name), "missing \(name)")
    }
  }

  @Test func countColouringMakesLargestCountDarkest() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("counts")
    let matrix = [[10, 0, 90], [0, 5, 0], [0, 0, 1]]
    try Plot.confusionMatrix(matrix, classes: ["a", "b", "c"], title: "Counts", normalized: false, to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let rects = cells(svg)
    let png = try decodePNG(base + ".png")
    let colors = rects.map { png.rgb(Int($0.number("x")) + 2, Int($0.number("y")) + 2) }
    #expect(colors[2] == darkestBlue)
    #expect(colors.indices.allSatisfy { $0 == 2 || darkness(colors[$0]) < darkness(colors[2]) })
    #expect(svg.strings.contains("count"))
  }

  @Test func identityMatrixHasDarkDiagonal() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("identity")
    let n = 12
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 25 : 0 } }
    try Plot.confusionMatrix(matrix, classes: (0..<n).map { "class \($0)" }, title: "Identity", to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let rects = cells(svg)
    let png = try decodePNG(base + ".png")
    for i in 0..<n {
      for j in 0..<n {
        let r = rects[i * n + j]
        let color = png.rgb(Int(r.number("x")) + 2, Int(r.number("y")) + 2)
        #expect(i == j ? color == darkestBlue : color == 0xf7fbff, "cell \(i),\(j)")
      }
    }
  }

  @Test func oneClass() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("one")
    try Plot.confusionMatrix([[7]], classes: ["only"], title: "One class", to: base)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(cells(svg).count == 1)
    #expect(svg.strings.contains("only") && svg.strings.contains("7"))
    let png = try decodePNG(base + ".png")
    #expect(png.width >= 500 && png.height >= 500)
    let r = try #require(cells(svg).first)
    #expect(png.rgb(Int(r.number("x")) + 3, Int(r.number("y")) + 3) == darkestBlue)
  }

  @Test func twoHundredClassesThinLabelsInPNGButKeepAllInSVG() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("many")
    let n = 200
    let classes = (0..<n).map { "n0\(1_440_000 + 17 * $0)_long_synset_name_\($0)" }
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 40 : (i + 3 * j) % 97 == 0 ? 3 : 0 } }
    let start = ContinuousClock.now
    try Plot.confusionMatrix(matrix, classes: classes, title: "200 classes", to: base)
    let elapsed = ContinuousClock.now - start
    print("200-class heatmap (PNG + SVG): \(elapsed)")
    #expect(elapsed < .seconds(20))

    let png = try decodePNG(base + ".png")
    #expect((500...1700).contains(png.width) && (500...1700).contains(png.height))
    let svg = try SVGDocument(path: base + ".svg")
    #expect(cells(svg).count == n * n)
    // Every name is in the SVG (shortened names in full as tooltips); only every other one at full size.
    let rowLabels = svg.all("text", in: "row-labels")
    #expect(rowLabels.count == n)
    let fullSize = rowLabels.filter { $0.attributes["font-size"] == "10" }
    #expect(fullSize.count == n / 2)
    let strings = Set(svg.strings)
    #expect(classes.allSatisfy { strings.contains($0) })
    // The diagonal is darker than the rest of its row in the PNG.
    let rects = cells(svg)
    func color(_ i: Int, _ j: Int) -> UInt32 {
      png.rgb(Int(rects[i * n + j].number("x")) + 1, Int(rects[i * n + j].number("y")) + 1)
    }
    for i in 0..<n {
      let diagonal = darkness(color(i, i))
      #expect((0..<n).allSatisfy { $0 == i || darkness(color(i, $0)) < diagonal }, "row \(i)")
    }
  }

  @Test func largeMatricesWriteOnlyNonZeroCellsToSVG() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("sparse")
    let n = 400
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 10 : j == (i + 1) % n ? 2 : 0 } }
    try Plot.confusionMatrix(matrix, classes: (0..<n).map { "c\($0)" }, title: "400 classes", to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let rects = cells(svg)
    #expect(rects.count == 1 + 2 * n)  // background + diagonal + one neighbour per row
    let background = try #require(rects.first)
    #expect(hexColor(background.attributes["fill"]) == 0xf7fbff)
    let png = try decodePNG(base + ".png")
    #expect(png.width <= 1700 && png.height <= 1700)
    for r in rects.dropFirst().prefix(50) {
      #expect(png.rgb(Int(r.number("x")), Int(r.number("y"))) == hexColor(r.attributes["fill"]))
    }
    #expect(png.rgb(Int(background.number("x")) + 100, Int(background.number("y")) + 5) == 0xf7fbff)
  }

  @Test func classNamesAreEscapedAndShortened() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("names")
    let classes = ["a<b", "Tom & Jerry", "\"quoted\" 'x'", "naïve café", "日本語", String(repeating: "long_", count: 10)]
    let matrix = (0..<6).map { i in (0..<6).map { j in i == j ? 9 : 1 } }
    try Plot.confusionMatrix(matrix, classes: classes, title: "Names <&>", to: base)
    let svg = try SVGDocument(path: base + ".svg")
    #expect(cells(svg).count == 36)
    let strings = svg.strings
    for name in classes { #expect(strings.contains(name), "missing \(name)") }
    #expect(strings.contains("long_long_long_long\u{2026}"))
    let raw = try String(contentsOfFile: base + ".svg", encoding: .utf8)
    #expect(raw.contains("a&lt;b") && raw.contains("Tom &amp; Jerry") && raw.contains("&quot;quoted&quot; &apos;x&apos;"))
    #expect(raw.contains("naïve café") && raw.contains("日本語"))
    #expect(!raw.contains("a<b"))
    #expect(try decodePNG(base + ".png").width >= 500)
  }

  @Test func invalidMatricesAreRefused() {
    let base = "/tmp/featx-never-written"
    #expect(throws: PlotError.self) { try Plot.confusionMatrix([], classes: [], title: "t", to: base) }
    do {
      try Plot.confusionMatrix([[1, 2], [3]], classes: ["a", "b"], title: "t", to: base)
      Issue.record("a ragged matrix was accepted")
    } catch {
      #expect("\(error)".contains(base + ".png") && "\(error)".contains("square"))
    }
    #expect(throws: PlotError.self) { try Plot.confusionMatrix([[1]], classes: ["a", "b"], title: "t", to: base) }
    #expect(throws: PlotError.self) { try Plot.confusionMatrix([[-1]], classes: ["a"], title: "t", to: base) }
    #expect(!FileManager.default.fileExists(atPath: base + ".png"))
  }
}

// MARK: - Files

@Suite struct PlotFileTests {
  @Test func unwritablePathThrowsErrorNamingIt() throws {
    let base = "/nonexistent-featx-folder/plots/loss"
    do {
      try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: lossSeries(epochs: 3), to: base)
      Issue.record("writing into a missing folder succeeded")
    } catch let error as PlotError {
      #expect(error.description.contains(base + ".png"))
      #expect(error.description.contains("No such file or directory"))
    }
    #expect(throws: PlotError.self) { try Plot.confusionMatrix([[1]], classes: ["a"], title: "t", to: base) }
  }

  @Test func failedWriteLeavesNoTemporaryFile() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    // A folder where the PNG should go: the rename fails.
    try FileManager.default.createDirectory(atPath: dir.base("busy.png"), withIntermediateDirectories: false)
    do {
      try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: [], to: dir.base("busy"))
      Issue.record("writing over a folder succeeded")
    } catch {
      #expect("\(error)".contains(dir.base("busy.png")))
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["busy.png"])
  }

  @Test func sameInputGivesIdenticalBytes() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    var values = (1...30).map { 1 / Double($0) }
    values[7] = .nan
    let series = [PlotSeries(name: "train loss", values: values), PlotSeries(name: "test loss", values: [0.5, 0.4])]
    let matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    for name in ["a", "b"] {
      try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: series, to: dir.base("line-" + name))
      try Plot.confusionMatrix(matrix, classes: ["x", "y & z", "ü"], title: "CM", to: dir.base("cm-" + name))
    }
    for file in ["line-%@.png", "line-%@.svg", "cm-%@.png", "cm-%@.svg"] {
      let a = try Data(contentsOf: URL(fileURLWithPath: dir.base(file.replacingOccurrences(of: "%@", with: "a"))))
      let b = try Data(contentsOf: URL(fileURLWithPath: dir.base(file.replacingOccurrences(of: "%@", with: "b"))))
      #expect(!a.isEmpty && a == b, "\(file) differs between runs")
    }
  }

  @Test func existingFilesAreReplaced() throws {
    let dir = try ScratchDirectory()
    defer { dir.cleanup() }
    let base = dir.base("plot")
    try Data("old".utf8).write(to: URL(fileURLWithPath: base + ".png"))
    try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: lossSeries(epochs: 4), to: base)
    #expect(try decodePNG(base + ".png").width == 800)
  }
}
