// Tests of the files every chart writes: PNG, SVG and PDF all present and readable with the expected
// size and content, errors that name the file, atomic replacement, and deterministic output.

import Charts
import Foundation
import TestSupport
import Testing

@Suite struct PlotFileTests {
  @Test func everyChartWritesAPNGAnSVGAndAPDFThatParse() throws {
    let dir = TemporaryDirectory("featx-charts")
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 10), to: dir.path("loss"))
    try Plot.confusionMatrix(
      [[5, 0], [1, 7]], classes: ["玫瑰", "Rosé"], title: "Confusion matrix (test rows)", to: dir.path("confusion"))
    for (name, color) in [("loss", blue), ("confusion", darkestBlue)] {
      let base = dir.path(name)
      // PNG: read back by cairo, the chart's size, its colours drawn.
      let png = try RGBImage(path: base + ".png")
      if name == "loss" { #expect(png.width == 800 && png.height == 500) }
      #expect(png.width >= 500 && png.height >= 500)
      #expect(png.count(color) > 50, "\(name).png shows its data colour")
      #expect(png.count(axisGrey) > 500, "\(name).png has its axes")
      // SVG: well-formed XML of the same size in pixels, with shapes and glyphs.
      let svg = try SVGDocument(path: base + ".svg")
      #expect(svg.root["width"] == "\(png.width)px" && svg.root["height"] == "\(png.height)px")
      #expect(svg.root["viewBox"] == "0 0 \(png.width) \(png.height)")
      #expect(svg.paths.contains { $0.fill == color || $0.stroke == color })
      #expect(svg.usedGlyphs.count > 20 && !svg.drawnGlyphOutlines.isEmpty)
      // PDF: a PDF file, complete, of one page.
      let pdf = try Data(contentsOf: URL(fileURLWithPath: base + ".pdf"))
      #expect(pdf.starts(with: Array("%PDF-".utf8)))
      #expect(String(decoding: pdf.suffix(16), as: UTF8.self).contains("%%EOF"))
      let pages = String(decoding: pdf, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("<< /Type /Page ") }
      #expect(pages.count == 1)
    }
  }

  @Test(.enabled(if: PDFText.tool != nil, "\(PDFText.missing)"))
  func pdftotextReadsEveryChartsPDF() throws {
    let dir = TemporaryDirectory("featx-charts")
    try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries(epochs: 10), to: dir.path("loss"))
    try Plot.confusionMatrix([[5, 1], [2, 7]], classes: ["玫瑰", "Rosé"], title: "Confusion", to: dir.path("confusion"))
    #expect(try PDFText.lines(dir.path("loss.pdf")).contains("Loss"))
    #expect(try PDFText.lines(dir.path("confusion.pdf")).contains("Confusion"))
  }

  @Test func unwritableFolderGivesAWriteErrorNamingTheFile() throws {
    let dir = TemporaryDirectory("featx-charts")
    // A folder that does not exist, and a "folder" that is a file (both fail for root too).
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path("file")))
    let cases = [("/nonexistent-featx-folder/plots", "No such file or directory"), (dir.path("file"), "Not a directory")]
    for (folder, reason) in cases {
      let draws: [(String, () throws -> Void)] = [
        (
          "loss",
          { try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: lossSeries(epochs: 3), to: folder + "/loss") }
        ),
        ("confusion", { try Plot.confusionMatrix([[1]], classes: ["a"], title: "t", to: folder + "/confusion") }),
      ]
      for (name, draw) in draws {
        do {
          try draw()
          Issue.record("writing into \(folder) succeeded")
        } catch let error as PlotError {
          guard case .write(let path, _) = error else {
            Issue.record("not a write error: \(error)")
            continue
          }
          #expect(path == folder + "/\(name).png")
          #expect(error.description.hasPrefix(folder + "/\(name).png: cannot write the chart"), "\(error)")
          #expect(error.description.contains(reason), "\(error)")
        }
      }
    }
  }

  @Test func failedWriteLeavesNoTemporaryOrPartialFiles() throws {
    let dir = TemporaryDirectory("featx-charts")
    // A folder where the PNG should go: the rename fails, nothing else is written.
    try FileManager.default.createDirectory(atPath: dir.path("busy.png"), withIntermediateDirectories: false)
    do {
      try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: [], to: dir.path("busy"))
      Issue.record("writing over a folder succeeded")
    } catch {
      #expect("\(error)".hasPrefix(dir.path("busy.png")), "\(error)")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["busy.png"])
  }

  @Test func sameInputGivesIdenticalFiles() throws {
    let dir = TemporaryDirectory("featx-charts")
    var values = (1...30).map { 1 / Double($0) }
    values[7] = .nan
    let series = [PlotSeries(name: "train loss", values: values), PlotSeries(name: "test loss", values: [0.5, 0.4])]
    let matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    for run in ["a", "b"] {
      try Plot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: series, to: dir.path("line-" + run))
      try Plot.confusionMatrix(matrix, classes: ["x", "y & z", "玫瑰"], title: "CM", to: dir.path("cm-" + run))
    }
    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir.path(name))) }
    for chart in ["line", "cm"] {
      let (a, b) = (try bytes("\(chart)-a.png"), try bytes("\(chart)-b.png"))
      #expect(!a.isEmpty && a == b, "\(chart).png differs between runs")
      // The SVG differs only in the id cairo numbers its surfaces with across the process (the same for
      // every run of featx), the PDF only in its creation date.
      func svg(_ data: Data) -> String {
        String(decoding: data, as: UTF8.self).replacingOccurrences(
          of: "id=\"surface[0-9]+\"", with: "id=\"surface\"", options: .regularExpression)
      }
      #expect(svg(try bytes("\(chart)-a.svg")) == svg(try bytes("\(chart)-b.svg")), "\(chart).svg")
      func withoutDate(_ data: Data) -> [Substring] {
        String(decoding: data, as: UTF8.self).split(separator: "\n").filter { !$0.contains("/CreationDate") }
      }
      #expect(withoutDate(try bytes("\(chart)-a.pdf")) == withoutDate(try bytes("\(chart)-b.pdf")), "\(chart).pdf")
    }
  }

  @Test func existingFilesAreReplacedByTheNewChart() throws {
    let dir = TemporaryDirectory("featx-charts")
    let base = dir.path("plot")
    for ext in ["png", "svg", "pdf"] { try Data("old".utf8).write(to: URL(fileURLWithPath: base + "." + ext)) }
    try Plot.lineChart(title: "t", xLabel: "x", yLabel: "y", series: lossSeries(epochs: 4), to: base)
    let png = try RGBImage(path: base + ".png")
    #expect(png.width == 800 && png.count(blue) > 50)
    #expect(try SVGDocument(path: base + ".svg").strokes(blue).count == 2)
    #expect(try Data(contentsOf: URL(fileURLWithPath: base + ".pdf")).starts(with: Array("%PDF-".utf8)))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted() == ["plot.pdf", "plot.png", "plot.svg"])
  }
}
