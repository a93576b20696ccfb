// Reading back what the charts wrote, independently of the drawing code: the PNG's pixels through cairo's
// PNG reader, the SVG as XML (its fills, strokes and glyphs, since cairo draws text as glyph outlines), and
// the PDF's text through poppler's pdftotext. Shared by the chart tests.

import CCairo
import Charts
import Foundation
import TestSupport
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

struct ChartFileError: Error, CustomStringConvertible {
  var description: String
}

// MARK: - PNG

/// A PNG read back with cairo, as 0xRRGGBB per pixel.
struct RGBImage {
  let width: Int
  let height: Int
  private let pixels: [UInt32]

  init(path: String) throws {
    guard let surface = cairo_image_surface_create_from_png(path) else {
      throw ChartFileError(description: "\(path): cairo cannot read it")
    }
    defer { cairo_surface_destroy(surface) }
    let status = cairo_surface_status(surface)
    guard status == CAIRO_STATUS_SUCCESS else {
      throw ChartFileError(description: "\(path): not a PNG: \(String(cString: cairo_status_to_string(status)))")
    }
    let format = cairo_image_surface_get_format(surface)
    guard format == CAIRO_FORMAT_RGB24 || format == CAIRO_FORMAT_ARGB32 else {
      throw ChartFileError(description: "\(path): unexpected pixel format \(format.rawValue)")
    }
    cairo_surface_flush(surface)
    width = Int(cairo_image_surface_get_width(surface))
    height = Int(cairo_image_surface_get_height(surface))
    let stride = Int(cairo_image_surface_get_stride(surface))
    guard let data = cairo_image_surface_get_data(surface) else {
      throw ChartFileError(description: "\(path): no pixel data")
    }
    var pixels = [UInt32](repeating: 0, count: width * height)
    for y in 0..<height {
      let row = UnsafeRawPointer(data + y * stride)
      for x in 0..<width { pixels[y * width + x] = row.load(fromByteOffset: 4 * x, as: UInt32.self) & 0xff_ffff }
    }
    self.pixels = pixels
  }

  func rgb(_ x: Int, _ y: Int) -> UInt32 { pixels[y * width + x] }

  /// How many pixels have exactly this colour.
  func count(_ color: UInt32) -> Int { pixels.reduce(0) { $0 + ($1 == color ? 1 : 0) } }

  /// How many pixels of the region are at least this dark.
  func darkPixels(x: Range<Int>, y: Range<Int>, atLeast threshold: Int = 300) -> Int {
    var n = 0
    for row in y.clamped(to: 0..<height) {
      for column in x.clamped(to: 0..<width) where darkness(rgb(column, row)) >= threshold { n += 1 }
    }
    return n
  }

  /// The pixels of a region, row by row.
  func region(x: Range<Int>, y: Range<Int>) -> [UInt32] {
    y.clamped(to: 0..<height).flatMap { row in x.clamped(to: 0..<width).map { rgb($0, row) } }
  }
}

/// 0 for white, 765 for black.
func darkness(_ rgb: UInt32) -> Int { 765 - Int(rgb >> 16) - Int((rgb >> 8) & 0xff) - Int(rgb & 0xff) }

// MARK: - SVG

/// One `<path>` of a cairo SVG: its fill or stroke colour and its commands.
struct SVGPath {
  /// 0xRRGGBB, nil for "none" or a gradient.
  var fill: UInt32?
  var stroke: UInt32?
  var gradientFill: Bool
  var commands: [(command: Character, numbers: [Double])]

  /// The points the path moves or draws lines to, in order, without the move cairo appends after a close.
  var vertices: [(x: Double, y: Double)] {
    var out: [(x: Double, y: Double)] = []
    var closed = false
    for (command, numbers) in commands {
      switch command {
      case "Z": closed = true
      case "M" where closed: break
      case "M", "L": if numbers.count >= 2 { out.append((numbers[0], numbers[1])) }
      default: break
      }
    }
    return out
  }

  var hasCurves: Bool { commands.contains { $0.command == "C" } }

  /// The distance from `p` to the nearest of the path's straight segments (cairo merges collinear
  /// segments, so a data point need not be a vertex, but it lies on the line).
  func distance(to p: (x: Double, y: Double)) -> Double {
    let v = vertices
    var best = Double.infinity
    for (a, b) in zip(v, v.dropFirst()) {
      let (dx, dy) = (b.x - a.x, b.y - a.y)
      let length = dx * dx + dy * dy
      let t = length > 0 ? min(1, max(0, ((p.x - a.x) * dx + (p.y - a.y) * dy) / length)) : 0
      let (ex, ey) = (p.x - (a.x + t * dx), p.y - (a.y + t * dy))
      best = min(best, (ex * ex + ey * ey).squareRoot())
    }
    return best
  }

  /// The width of the path's horizontal extent.
  var span: Double { bounds.width }

  /// The bounding box of every coordinate in the path.
  var bounds: (x: Double, y: Double, width: Double, height: Double) {
    var xs: [Double] = []
    var ys: [Double] = []
    for (_, numbers) in commands {
      for k in stride(from: 0, to: numbers.count - 1, by: 2) {
        xs.append(numbers[k])
        ys.append(numbers[k + 1])
      }
    }
    let (x0, x1, y0, y1) = (xs.min() ?? 0, xs.max() ?? 0, ys.min() ?? 0, ys.max() ?? 0)
    return (x0, y0, x1 - x0, y1 - y0)
  }

  /// The box of an axis-aligned rectangle path (M L L L Z), nil for any other shape.
  var rectangle: (x: Double, y: Double, width: Double, height: Double)? {
    let v = vertices
    guard !hasCurves, v.count == 4, commands.contains(where: { $0.command == "Z" }) else { return nil }
    let xs = Set(v.map(\.x))
    let ys = Set(v.map(\.y))
    guard xs.count == 2, ys.count == 2 else { return nil }
    return bounds
  }

  /// The centre of a disc (a closed curve).
  var centre: (x: Double, y: Double) {
    let b = bounds
    return (b.x + b.width / 2, b.y + b.height / 2)
  }
}

/// A cairo SVG parsed with Foundation's `XMLParser` (throws if it is not well-formed XML): the root's
/// attributes, the drawn paths in order (outside `<defs>`), the glyph outlines cairo defines as `<symbol>`s
/// and the glyphs drawn with `<use>`.
final class SVGDocument: NSObject, XMLParserDelegate {
  private(set) var root: [String: String] = [:]
  private(set) var paths: [SVGPath] = []
  /// Glyph symbol id → its outline (the `d` of its path).
  private(set) var glyphOutlines: [String: String] = [:]
  /// The symbol ids of the drawn glyphs, in order.
  private(set) var usedGlyphs: [String] = []
  private var stack: [String] = []
  private var currentSymbol: String?
  private var parseError: Error?

  init(path: String) throws {
    super.init()
    let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
    parser.delegate = self
    guard parser.parse() else {
      throw parseError ?? parser.parserError ?? ChartFileError(description: "\(path): not well-formed XML")
    }
    guard !root.isEmpty else { throw ChartFileError(description: "\(path): no <svg> root") }
  }

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    if stack.isEmpty && name == "svg" { root = attributes }
    stack.append(name)
    switch name {
    case "symbol": currentSymbol = attributes["id"]
    case "path":
      if let symbol = currentSymbol {
        glyphOutlines[symbol] = attributes["d"] ?? ""
      } else if !stack.contains("defs") {
        paths.append(SVGDocument.path(attributes))
      }
    case "use":
      if let href = attributes["xlink:href"] ?? attributes["href"], href.hasPrefix("#glyph") {
        usedGlyphs.append(String(href.dropFirst()))
      }
    default: break
    }
  }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    stack.removeLast()
    if name == "symbol" { currentSymbol = nil }
  }

  func parser(_ parser: XMLParser, parseErrorOccurred error: Error) { parseError = error }

  /// The distinct outlines of the glyphs drawn (the same glyph has the same outline in any two files).
  var drawnGlyphOutlines: Set<String> { Set(usedGlyphs.compactMap { glyphOutlines[$0] }) }

  func fills(_ color: UInt32) -> [SVGPath] { paths.filter { $0.fill == color } }
  func strokes(_ color: UInt32) -> [SVGPath] { paths.filter { $0.stroke == color } }

  private static func path(_ attributes: [String: String]) -> SVGPath {
    var style: [String: String] = [:]
    for item in (attributes["style"] ?? "").split(separator: ";") {
      let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if parts.count == 2 { style[parts[0]] = parts[1] }
    }
    var commands: [(command: Character, numbers: [Double])] = []
    for token in (attributes["d"] ?? "").split(separator: " ") {
      if let number = Double(token) {
        if !commands.isEmpty { commands[commands.count - 1].numbers.append(number) }
      } else if let letter = token.first {
        commands.append((letter, []))
      }
    }
    return SVGPath(
      fill: color(style["fill"]), stroke: color(style["stroke"]), gradientFill: style["fill"]?.hasPrefix("url(") ?? false,
      commands: commands)
  }

  /// "rgb(12.156863%,46.666667%,70.588235%)" → 0x1f77b4.
  private static func color(_ text: String?) -> UInt32? {
    guard let text, text.hasPrefix("rgb("), text.hasSuffix(")") else { return nil }
    let parts = text.dropFirst(4).dropLast().split(separator: ",")
    guard parts.count == 3 else { return nil }
    var value: UInt32 = 0
    for part in parts {
      guard let percent = Double(part.trimmingCharacters(in: CharacterSet(charactersIn: "%"))) else { return nil }
      value = value << 8 | UInt32((percent * 2.55).rounded())
    }
    return value
  }
}

// MARK: - Fonts

/// How many characters of `text` pango finds no glyph for in the charts' font family (with fontconfig's
/// fallbacks); such characters would be drawn as boxes of hex digits.
func missingGlyphs(_ text: String) -> Int {
  let context = pango_font_map_create_context(pango_cairo_font_map_get_default())
  defer { g_object_unref(UnsafeMutableRawPointer(context)) }
  let layout = pango_layout_new(context)
  defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
  let font = pango_font_description_from_string("Sans 13px")
  defer { pango_font_description_free(font) }
  pango_layout_set_font_description(layout, font)
  pango_layout_set_text(layout, text, -1)
  return Int(pango_layout_get_unknown_glyphs_count(layout))
}

// MARK: - PDF

enum PDFText {
  /// The pdftotext executable (poppler-utils), if installed.
  static let tool: String? = {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    return folders.map { $0 + "/pdftotext" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  static let missing = "pdftotext (poppler-utils) is not installed; apt-get install poppler-utils to check the PDF's text"

  /// The text of a PDF, as pdftotext extracts it; throws when pdftotext fails.
  static func extract(_ path: String) throws -> String {
    guard let tool else { throw ChartFileError(description: missing) }
    let result = try runCommand(tool, ["-enc", "UTF-8", path, "-"])
    guard result.status == 0 else {
      throw ChartFileError(description: "pdftotext \(path) failed (\(result.status)): \(result.stderr)")
    }
    return result.stdout
  }

  /// The extracted text's lines, trimmed, without empty ones.
  static func lines(_ path: String) throws -> [String] {
    try extract(path).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
  }

  /// The extracted text's words (split at white space).
  static func words(_ path: String) throws -> Set<String> {
    Set(try extract(path).split(whereSeparator: { $0.isWhitespace }).map(String.init))
  }

  /// The extracted text with all runs of white space made one space.
  static func flattened(_ path: String) throws -> String {
    try extract(path).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
  }
}

// MARK: - Shared data

let blue: UInt32 = 0x1f77b4
let orange: UInt32 = 0xff7f0e
let darkestBlue: UInt32 = 0x08306b
let zeroBlue: UInt32 = 0xf7fbff
let axisGrey: UInt32 = 0x444444

func lossSeries(epochs: Int) -> [PlotSeries] {
  [
    PlotSeries(name: "train loss", values: (1...epochs).map { 2.3 * exp(-Double($0) / 5) + 0.05 }),
    PlotSeries(name: "test loss", values: (1...epochs).map { 2.3 * exp(-Double($0) / 6) + 0.2 }),
  ]
}
