// Tests of the confusion-matrix heatmap: cell colours read back from the PNG where the SVG's rectangles
// are, class names told apart by their pixels and by their glyphs, the names and title as real text in
// the PDF, labelling of large matrices, image growth, and refusal of matrices that cannot be drawn.

import Charts
import Foundation
import TestSupport
import Testing

/// The grid of a heatmap, found in its SVG: the background square in the zero colour, `n` cells a side.
private struct Heatmap {
  let x: Double
  let y: Double
  let side: Double
  let cell: Double
  /// The SVG's cell rectangles (non-zero cells only): (row, column) → fill colour.
  let cells: [[Int]: UInt32]

  init(_ svg: SVGDocument, classes n: Int) throws {
    let background = try #require(
      svg.fills(zeroBlue).compactMap(\.rectangle).first { $0.width == $0.height && $0.width >= 300 },
      "no background square in the zero colour")
    (x, y, side) = (background.x, background.y, background.width)
    cell = side / Double(n)
    var cells: [[Int]: UInt32] = [:]
    for path in svg.paths {
      guard let fill = path.fill, let r = path.rectangle, r.width == cell, r.height == cell else { continue }
      let (i, j) = (Int(((r.y - y) / cell).rounded()), Int(((r.x - x) / cell).rounded()))
      if (0..<n).contains(i) && (0..<n).contains(j) { cells[[i, j]] = fill }
    }
    self.cells = cells
  }

  /// The PNG colour of cell (i, j), sampled `offset` pixels inside its top-left corner (clear of a count).
  func color(_ png: RGBImage, _ i: Int, _ j: Int, offset: Int = 3) -> UInt32 {
    png.rgb(Int(x + Double(j) * cell) + offset, Int(y + Double(i) * cell) + offset)
  }

  /// Pixel ranges of a cell.
  func columns(_ j: Int) -> Range<Int> { Int(x + Double(j) * cell)..<Int(x + Double(j + 1) * cell) }
  func rows(_ i: Int) -> Range<Int> { Int(y + Double(i) * cell)..<Int(y + Double(i + 1) * cell) }
  var gridColumns: Range<Int> { Int(x)..<Int(x + side) }
  var gridRows: Range<Int> { Int(y)..<Int(y + side) }
}

private let smallMatrix = [[50, 1, 0, 2], [3, 40, 2, 0], [0, 4, 30, 6], [1, 0, 5, 20]]

@Suite struct ConfusionMatrixTests {
  @Test func cellColoursFollowRowSharesAndAgreeBetweenPNGAndSVG() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("cm")
    try Plot.confusionMatrix(smallMatrix, classes: ["cat", "dog", "bird", "fish"], title: "Test confusion", to: base)
    let svg = try SVGDocument(path: base + ".svg")
    let map = try Heatmap(svg, classes: 4)
    // One rectangle per non-zero cell, over the background of the zero colour.
    let nonZero = Set((0..<16).filter { smallMatrix[$0 / 4][$0 % 4] != 0 }.map { [$0 / 4, $0 % 4] })
    #expect(Set(map.cells.keys) == nonZero)
    let png = try RGBImage(path: base + ".png")
    #expect((500...1700).contains(png.width) && (500...1700).contains(png.height))
    #expect(png.rgb(0, 0) == 0xffffff)
    for i in 0..<4 {
      for j in 0..<4 {
        #expect(map.color(png, i, j) == (map.cells[[i, j]] ?? zeroBlue), "cell \(i),\(j): PNG and SVG agree")
        if i != j { #expect(darkness(map.color(png, i, i)) > darkness(map.color(png, i, j)), "row \(i): diagonal darkest") }
      }
    }
    // The largest share of a row (50 of 53) gets the darkest colour of all cells.
    let darkest = (0..<16).map { darkness(map.color(png, $0 / 4, $0 % 4)) }.max()
    #expect(darkness(map.color(png, 0, 0)) == darkest)
    // The colour bar: one gradient, light at the bottom, darkest blue at the top.
    let bars = svg.paths.filter(\.gradientFill)
    try #require(bars.count == 1)
    let bar = bars[0].bounds
    let top = png.rgb(Int(bar.x + bar.width / 2), Int(bar.y))
    #expect(abs(darkness(top) - darkness(darkestBlue)) < 6, "top of the colour bar: \(String(top, radix: 16))")
    #expect(darkness(png.rgb(Int(bar.x + bar.width / 2), Int(bar.y + bar.height) - 2)) < 20)
  }

  @Test func countsArePrintedInCellsWhenTheyFit() throws {
    let dir = TemporaryDirectory("featx-charts")
    try Plot.confusionMatrix(smallMatrix, classes: ["cat", "dog", "bird", "fish"], title: "t", to: dir.path("small"))
    let small = try Heatmap(SVGDocument(path: dir.path("small.svg")), classes: 4)
    let png = try RGBImage(path: dir.path("small.png"))
    // "50" in white on the dark cell (0,0); "0" in grey on the zero cell (0,2); the corners stay plain.
    let dark = png.region(x: small.columns(0), y: small.rows(0))
    #expect(dark.filter { darkness($0) < 60 }.count > 20)
    let zero = png.region(x: small.columns(2), y: small.rows(0))
    #expect(zero.filter { darkness($0) > 150 }.count > 10)
    #expect(small.color(png, 0, 0) == small.cells[[0, 0]] && small.color(png, 0, 2) == zeroBlue)

    // 200 classes: 6-pixel cells, no room for counts; every diagonal cell is one flat colour.
    let n = 200
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 40 : 0 } }
    try Plot.confusionMatrix(matrix, classes: (0..<n).map { "c\($0)" }, title: "t", to: dir.path("large"))
    let large = try Heatmap(SVGDocument(path: dir.path("large.svg")), classes: n)
    let big = try RGBImage(path: dir.path("large.png"))
    for i in stride(from: 0, to: n, by: 37) {
      #expect(Set(big.region(x: large.columns(i), y: large.rows(i))) == [darkestBlue], "cell \(i),\(i)")
    }
  }

  @Test func countColouringMakesLargestCountDarkest() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("counts")
    let matrix = [[10, 0, 90], [0, 5, 0], [0, 0, 1]]
    try Plot.confusionMatrix(matrix, classes: ["a", "b", "c"], title: "Counts", normalized: false, to: base)
    let map = try Heatmap(SVGDocument(path: base + ".svg"), classes: 3)
    let png = try RGBImage(path: base + ".png")
    let colors = (0..<9).map { map.color(png, $0 / 3, $0 % 3) }
    #expect(colors[2] == darkestBlue)
    #expect(colors.indices.allSatisfy { $0 == 2 || darkness(colors[$0]) < darkness(colors[2]) })
    // Counts, not shares: the lone count 1 of class c is nearly white, 10 darker, 90 darkest.
    #expect(darkness(colors[8]) < darkness(colors[0]) && darkness(colors[0]) < darkness(colors[2]))
  }

  @Test func rowNormalisedColouringComparesRareAndCommonClassesFairly() throws {
    let dir = TemporaryDirectory("featx-charts")
    let matrix = [[2, 2], [0, 100]]
    try Plot.confusionMatrix(matrix, classes: ["rare", "common"], title: "t", to: dir.path("shares"))
    try Plot.confusionMatrix(matrix, classes: ["rare", "common"], title: "t", normalized: false, to: dir.path("counts"))
    let shares = try Heatmap(SVGDocument(path: dir.path("shares.svg")), classes: 2)
    let sharesPNG = try RGBImage(path: dir.path("shares.png"))
    // Half of the rare class on each side: the middle of the scale in both cells; all of common: darkest.
    #expect(shares.color(sharesPNG, 0, 0) == 0x6baed6 && shares.color(sharesPNG, 0, 1) == 0x6baed6)
    #expect(shares.color(sharesPNG, 1, 1) == darkestBlue)
    // Coloured by count instead, the rare class almost vanishes.
    let counts = try Heatmap(SVGDocument(path: dir.path("counts.svg")), classes: 2)
    let countsPNG = try RGBImage(path: dir.path("counts.png"))
    #expect(darkness(counts.color(countsPNG, 0, 0)) < 30)
  }

  @Test func identityMatrixHasDarkDiagonal() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("identity")
    let n = 12
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 25 : 0 } }
    try Plot.confusionMatrix(matrix, classes: (0..<n).map { "class \($0)" }, title: "Identity", to: base)
    let map = try Heatmap(SVGDocument(path: base + ".svg"), classes: n)
    let png = try RGBImage(path: base + ".png")
    for i in 0..<n {
      for j in 0..<n {
        #expect(map.color(png, i, j) == (i == j ? darkestBlue : zeroBlue), "cell \(i),\(j)")
      }
    }
  }

  @Test func oneClassIsOneDarkCellOnAtLeast500Pixels() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("one")
    try Plot.confusionMatrix([[7]], classes: ["only"], title: "One class", to: base)
    let map = try Heatmap(SVGDocument(path: base + ".svg"), classes: 1)
    #expect(map.cells.count == 1 && map.side >= 300)
    let png = try RGBImage(path: base + ".png")
    #expect(png.width >= 500 && png.height >= 500)
    #expect(map.color(png, 0, 0) == darkestBlue)
  }

  @Test func imageGrowsWithTheClassCount() throws {
    let dir = TemporaryDirectory("featx-charts")
    var sizes: [(n: Int, width: Int, height: Int, side: Double)] = []
    for n in [1, 12, 60, 200, 400] {
      let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 5 : 0 } }
      try Plot.confusionMatrix(matrix, classes: (0..<n).map { "c\($0)" }, title: "t", to: dir.path("n\(n)"))
      let png = try RGBImage(path: dir.path("n\(n).png"))
      let map = try Heatmap(SVGDocument(path: dir.path("n\(n).svg")), classes: n)
      sizes.append((n, png.width, png.height, map.side))
    }
    #expect(sizes[0].width == 500 && sizes[0].height == 500, "\(sizes)")
    for (a, b) in zip(sizes, sizes.dropFirst()) {
      #expect(a.width <= b.width && a.height <= b.height && a.side <= b.side, "\(a) → \(b)")
    }
    #expect(sizes[3].width > 1000 && sizes.allSatisfy { $0.width <= 1700 && $0.height <= 1700 }, "\(sizes)")
  }

  @Test func twoHundredClassesAreLabelledEveryOtherClassInThePNG() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("many")
    let n = 200
    let classes = (0..<n).map { "n0\(1_440_000 + 17 * $0)_long_synset_name_\($0)" }
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 40 : (i + 3 * j) % 97 == 0 ? 3 : 0 } }
    let start = ContinuousClock.now
    try Plot.confusionMatrix(matrix, classes: classes, title: "200 classes", to: base)
    let elapsed = ContinuousClock.now - start
    print("200-class heatmap (PNG + SVG + PDF): \(elapsed)")
    #expect(elapsed < .seconds(20))

    let png = try RGBImage(path: base + ".png")
    let map = try Heatmap(SVGDocument(path: base + ".svg"), classes: n)
    // One tick mark per labelled class, left of the rows and below the columns: every other class.
    func runs(_ pixels: [UInt32]) -> Int { zip(pixels, [0] + pixels).filter { $0 == axisGrey && $1 != axisGrey }.count }
    #expect(runs(map.gridRows.map { png.rgb(Int(map.x) - 4, $0) }) == n / 2)
    #expect(runs(map.gridColumns.map { png.rgb($0, Int(map.y + map.side) + 3) }) == n / 2)
    // The diagonal is darker than the rest of its row.
    for i in 0..<n {
      let diagonal = darkness(map.color(png, i, i, offset: 1))
      #expect((0..<n).allSatisfy { $0 == i || darkness(map.color(png, i, $0, offset: 1)) < diagonal }, "row \(i)")
    }
  }

  /// The names the tests draw have real glyphs in the installed fonts (WenQuanYi Micro Hei on Debian for
  /// Chinese), so the pixel and glyph comparisons below compare letters, not boxes of hex digits.
  @Test func installedFontsHaveGlyphsForTheTestNames() {
    for name in ["玫瑰", "牡丹", "向日葵", "蒲公英", "Rosé", "中华人民共和国", "日本語", "naïve café"] {
      #expect(missingGlyphs(name) == 0, "no font has the glyphs of \(name); install fonts-wqy-microhei")
    }
  }

  /// Names of the same length in the same script: the old bitmap font drew both as "??" or "???".
  @Test(arguments: [("玫瑰", "牡丹"), ("向日葵", "蒲公英"), ("Rosé", "Rose")])
  func differentNamesGiveDifferentLabelPixels(_ first: String, _ second: String) throws {
    let dir = TemporaryDirectory("featx-charts")
    let matrix = [[5, 1], [2, 7]]
    try Plot.confusionMatrix(matrix, classes: [first, "daisy"], title: "t", to: dir.path("a"))
    try Plot.confusionMatrix(matrix, classes: [second, "daisy"], title: "t", to: dir.path("b"))
    let (a, b) = (try RGBImage(path: dir.path("a.png")), try RGBImage(path: dir.path("b.png")))
    try #require(a.width == b.width && a.height == b.height)
    let map = try Heatmap(SVGDocument(path: dir.path("a.svg")), classes: 2)
    let labelColumns = 0..<(Int(map.x) - 8)
    // Row 0's label (left of the matrix) and column 0's label (below it) differ, and have ink.
    let rowA = a.region(x: labelColumns, y: map.rows(0))
    #expect(rowA != b.region(x: labelColumns, y: map.rows(0)))
    #expect(rowA.filter { darkness($0) > 300 }.count > 20)
    let below = Int(map.y + map.side) + 8..<a.height
    #expect(a.region(x: map.columns(0), y: below) != b.region(x: map.columns(0), y: below))
    // Everything else is the same: the cells and the other class's label.
    #expect(a.region(x: map.gridColumns, y: map.gridRows) == b.region(x: map.gridColumns, y: map.gridRows))
    #expect(a.region(x: labelColumns, y: map.rows(1)) == b.region(x: labelColumns, y: map.rows(1)))
  }

  @Test func svgDrawsEachNameWithItsOwnGlyphs() throws {
    let dir = TemporaryDirectory("featx-charts")
    let matrix = [[5, 1], [2, 7]]
    try Plot.confusionMatrix(matrix, classes: ["玫瑰", "daisy"], title: "t", to: dir.path("rose"))
    try Plot.confusionMatrix(matrix, classes: ["向日葵", "daisy"], title: "t", to: dir.path("sunflower"))
    let rose = try SVGDocument(path: dir.path("rose.svg")).drawnGlyphOutlines
    let sunflower = try SVGDocument(path: dir.path("sunflower.svg")).drawnGlyphOutlines
    // All other text is the same: 玫 and 瑰 are the only glyphs of the first chart alone, 向, 日 and 葵 of
    // the second, each upright (row label) and turned (column label).
    #expect(rose.subtracting(sunflower).count == 2 * 2)
    #expect(sunflower.subtracting(rose).count == 2 * 3)
    #expect(sunflower.count == rose.count + 2)
  }

  @Test func invalidMatricesAreRefusedWithTheReason() throws {
    let base = TemporaryDirectory("featx-charts").path("never")
    let cases: [(matrix: [[Int]], classes: [String], reason: String)] = [
      ([], [], "no classes"),
      ([[1, 2], [3]], ["a", "b"], "row 1 has 1 counts for 2 classes; the matrix must be square"),
      ([[1]], ["a", "b"], "the matrix has 1 rows for 2 class names"),
      ([[1, 0], [-1, 2]], ["a", "b"], "row 1, column 0 holds the negative count -1"),
      ([], (0...2000).map { "c\($0)" }, "2001 classes are more than the 2000"),
    ]
    for (matrix, classes, reason) in cases {
      do {
        try Plot.confusionMatrix(matrix, classes: classes, title: "t", to: base)
        Issue.record("accepted: \(reason)")
      } catch let error as PlotError {
        guard case .invalidInput(let path, _) = error else {
          Issue.record("not invalidInput: \(error)")
          continue
        }
        #expect(path == base + ".png")
        #expect(error.description.contains("cannot draw the chart") && error.description.contains(reason), "\(error)")
      }
    }
    for ext in ["png", "svg", "pdf"] { #expect(!FileManager.default.fileExists(atPath: base + "." + ext)) }
  }
}

/// The heatmap's text, read from the PDF with pdftotext.
@Suite(.enabled(if: PDFText.tool != nil, "\(PDFText.missing)"))
struct ConfusionMatrixTextTests {
  @Test func namesInAnyScriptAndTheFullTitleAreRealText() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("flowers")
    let classes = ["玫瑰", "向日葵", "Rosé", "daisy"]
    let matrix = (0..<4).map { i in (0..<4).map { j in i == j ? 9 : 1 } }
    try Plot.confusionMatrix(matrix, classes: classes, title: "Confusion matrix (test rows)", to: base)
    let lines = try PDFText.lines(base + ".pdf")
    // Each name twice (rows and columns), and the whole title on one line.
    for name in classes { #expect(lines.filter { $0 == name }.count == 2, "\(name) in \(lines)") }
    #expect(lines.contains("Confusion matrix (test rows)"))
    for caption in ["true class", "predicted class", "fraction of true class"] { #expect(lines.contains(caption)) }
  }

  @Test func longTitleIsWrappedNotCut() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("title")
    let title =
      "Confusion matrix (test rows) of the linear head on DenseNet-121 features, 5 classes of flowers, after 50 epochs"
    let matrix = (0..<5).map { i in (0..<5).map { j in i == j ? 9 : 1 } }
    try Plot.confusionMatrix(matrix, classes: ["a", "b", "c", "d", "e"], title: title, to: base)
    #expect(try PDFText.flattened(base + ".pdf").contains(title))
  }

  @Test func countsAreRealTextInTheCells() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("cm")
    try Plot.confusionMatrix(smallMatrix, classes: ["cat", "dog", "bird", "fish"], title: "t", to: base)
    let words = try PDFText.words(base + ".pdf")
    for count in smallMatrix.joined() { #expect(words.contains(String(count)), "count \(count)") }
  }

  @Test func classNamesAreShortenedByTheirDrawnWidth() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("names")
    let narrow = String(repeating: "i", count: 30)  // many characters, little width: kept whole
    let wide = "中华人民共和国国家标准汉字字符集合测试名称"  // 20 wide characters: shortened
    let long = String(repeating: "long_", count: 10)
    try Plot.confusionMatrix([[3, 0, 0], [0, 3, 0], [0, 0, 3]], classes: [narrow, wide, long], title: "t", to: base)
    let lines = try PDFText.lines(base + ".pdf")
    #expect(lines.filter { $0 == narrow }.count == 2, "\(lines)")
    let shortWide = lines.filter { $0.hasSuffix("\u{2026}") && wide.hasPrefix($0.dropLast()) }
    #expect(shortWide.count == 2 && shortWide.allSatisfy { $0.count > 5 }, "\(lines)")
    let shortLong = lines.filter { $0.hasSuffix("\u{2026}") && long.hasPrefix($0.dropLast()) }
    #expect(shortLong.count == 2 && shortLong.allSatisfy { $0.count > 10 }, "\(lines)")
    #expect(!lines.contains(wide) && !lines.contains(long))
  }

  @Test func markupCharactersInNamesAreDrawnAsText() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("markup")
    let classes = ["a<b", "Tom & Jerry", "\"quoted\" 'x'", "naïve café", "日本語"]
    let matrix = (0..<5).map { i in (0..<5).map { j in i == j ? 9 : 1 } }
    try Plot.confusionMatrix(matrix, classes: classes, title: "Names <&>", to: base)
    let lines = try PDFText.lines(base + ".pdf")
    for name in classes + ["Names <&>"] { #expect(lines.contains(name), "missing \(name) in \(lines)") }
  }

  @Test func twoHundredClassesAreAllNamedInThePDF() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("many")
    let n = 200
    let classes = (0..<n).map { "n0\(1_440_000 + 17 * $0)_long_synset_name_\($0)" }
    let matrix = (0..<n).map { i in (0..<n).map { j in i == j ? 40 : 0 } }
    try Plot.confusionMatrix(matrix, classes: classes, title: "200 classes", to: base)
    let text = try PDFText.extract(base + ".pdf")
    // Every synset id, twice (rows and columns), even where the PNG leaves the label out.
    let missing = (0..<n).filter { text.components(separatedBy: "n0\(1_440_000 + 17 * $0)").count - 1 != 2 }
    #expect(missing.isEmpty, "classes not named twice: \(missing)")
  }
}
