// The drawing vocabulary the charts are written in: fills on whole pixels, lines, discs, a gradient, and
// text laid out by pango (measured, shortened with "…" to a width, titles shrunk or wrapped), all on one
// cairo context. The same calls draw the PNG, the SVG and the PDF; a painter on a 1×1 image measures text
// for a chart's layout before the real surfaces exist.

import CCairo

/// Where a text's anchor point lies along the text.
enum TextAnchor: Sendable {
  case start, middle, end
}

/// A title laid out to fit a width: at the largest size that fits on one line, else wrapped.
struct FittedTitle {
  var text: String
  var font: ChartFont
  /// Set when the title wraps.
  var wrapWidth: Double?
  var height: Double
  var lineCount: Int
}

final class Painter {
  private let context: CairoContext
  private let pango: PangoContextHandle
  private var fonts: [ChartFont: FontDescription] = [:]
  private struct LayoutKey: Hashable {
    var text: String
    var font: ChartFont
    var wrapWidth: Double?
  }
  /// Layouts of texts drawn or measured before (names, counts and ticks repeat).
  private var layouts: [LayoutKey: TextLayout] = [:]

  private var cr: OpaquePointer { context.handle }

  init(_ context: CairoContext) {
    self.context = context
    pango = PangoContextHandle(for: context)
  }

  /// A painter that only measures text.
  static func measuring() -> Painter {
    Painter(CairoContext(CairoSurface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1))))
  }

  /// - Throws: `PlotError.encoding` naming `path` if a drawing operation failed.
  func check(_ path: String) throws { try context.check(path) }

  // MARK: Text

  private func description(_ font: ChartFont) -> FontDescription {
    if let known = fonts[font] { return known }
    let made = FontDescription(font)
    fonts[font] = made
    return made
  }

  private func layout(_ text: String, _ font: ChartFont, wrapWidth: Double? = nil, keep: Bool = true) -> TextLayout {
    let key = LayoutKey(text: text, font: font, wrapWidth: wrapWidth)
    if let known = layouts[key] { return known }
    let made = TextLayout(pango, text, description(font), wrapWidth: wrapWidth, maxLines: PlotTheme.maxTitleLines)
    if keep { layouts[key] = made }
    return made
  }

  /// The drawn width of `text` in pixels.
  func width(_ text: String, _ font: ChartFont) -> Double { layout(text, font).box.width }

  /// The height of one line of `text` (of a typical line when `text` is omitted).
  func lineHeight(_ font: ChartFont, _ text: String = "Ag") -> Double { layout(text, font).box.height }

  /// `text` made single-line and, when wider than `maxWidth`, shortened to the longest start that fits
  /// with "…" after it (measured, so narrow and wide scripts are both shortened where they overflow).
  func fitted(_ text: String, _ font: ChartFont, maxWidth: Double) -> String {
    let line = Painter.singleLine(text)
    guard width(line, font) > maxWidth else { return line }
    let characters = Array(line)
    var (low, high) = (0, characters.count - 1)  // the longest fitting prefix has `low` characters
    while low < high {
      let middle = (low + high + 1) / 2
      let candidate = String(characters[..<middle]) + "\u{2026}"
      if layout(candidate, font, keep: false).box.width <= maxWidth { low = middle } else { high = middle - 1 }
    }
    var head = String(characters[..<low])
    while head.last == " " { head.removeLast() }
    return head + "\u{2026}"
  }

  /// `title` at the largest title size at which it fits `maxWidth` on one line, else wrapped at the
  /// smallest size (at most `PlotTheme.maxTitleLines` lines).
  func fitTitle(_ title: String, maxWidth: Double) -> FittedTitle {
    let text = Painter.singleLine(title)
    for size in PlotTheme.titleSizes {
      let font = ChartFont(size: size, bold: true)
      let box = layout(text, font).box
      if box.width <= maxWidth { return FittedTitle(text: text, font: font, wrapWidth: nil, height: box.height, lineCount: 1) }
    }
    let font = ChartFont(size: PlotTheme.titleSizes.last ?? 14, bold: true)
    let wrapped = layout(text, font, wrapWidth: maxWidth)
    return FittedTitle(text: text, font: font, wrapWidth: maxWidth, height: wrapped.box.height, lineCount: wrapped.lineCount)
  }

  /// The height a one-line title at full size takes: the title band of every chart.
  var titleBand: Double { lineHeight(ChartFont(size: PlotTheme.titleSizes[0], bold: true)) }

  /// Draws `text` (one line) with its anchor point at `(x, y)`: `y` is the vertical middle of the line.
  /// Vertical text reads upwards, and its anchor runs along the text from bottom (start) to top (end).
  func text(
    _ text: String, _ font: ChartFont, x: Double, y: Double, anchor: TextAnchor, vertical: Bool = false,
    color: PlotColor = PlotTheme.text
  ) {
    guard !text.isEmpty else { return }
    let l = layout(text, font)
    let along = anchor == .start ? 0 : anchor == .middle ? -l.box.width / 2 : -l.box.width
    cairo_save(cr)
    setColor(color)
    cairo_translate(cr, x.rounded(), y.rounded())
    if vertical { cairo_rotate(cr, -Double.pi / 2) }
    cairo_move_to(cr, (along - l.box.x).rounded(), (-l.box.height / 2 - l.box.y).rounded())
    pango_cairo_show_layout(cr, l.handle)
    cairo_restore(cr)
  }

  /// Draws a fitted title centred on `centerX`, its first line's top at `top`.
  func title(_ title: FittedTitle, centerX: Double, top: Double, color: PlotColor = PlotTheme.text) {
    let l = layout(title.text, title.font, wrapWidth: title.wrapWidth)
    cairo_save(cr)
    setColor(color)
    let left = title.wrapWidth.map { centerX - $0 / 2 } ?? centerX - l.box.width / 2 - l.box.x
    cairo_move_to(cr, left.rounded(), (top - l.box.y).rounded())
    pango_cairo_show_layout(cr, l.handle)
    cairo_restore(cr)
  }

  /// `text` with control characters (newlines, tabs, …) turned into spaces, so a name stays on one line.
  static func singleLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      out.unicodeScalars.append(scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) ? " " : scalar)
    }
    return out
  }

  // MARK: Shapes

  private func setColor(_ c: PlotColor) {
    cairo_set_source_rgb(cr, Double(c.red) / 255, Double(c.green) / 255, Double(c.blue) / 255)
  }

  func fill(_ r: PixelRect, _ color: PlotColor) {
    guard !r.isEmpty else { return }
    setColor(color)
    cairo_rectangle(cr, Double(r.x), Double(r.y), Double(r.width), Double(r.height))
    cairo_fill(cr)
  }

  /// A one-pixel outline just inside `r`.
  func frame(_ r: PixelRect, _ color: PlotColor) {
    fill(PixelRect(x: r.x, y: r.y, width: r.width, height: 1), color)
    fill(PixelRect(x: r.x, y: r.maxY - 1, width: r.width, height: 1), color)
    fill(PixelRect(x: r.x, y: r.y + 1, width: 1, height: r.height - 2), color)
    fill(PixelRect(x: r.maxX - 1, y: r.y + 1, width: 1, height: r.height - 2), color)
  }

  /// A connected line through `points`, with round joins and ends.
  func polyline(_ points: [PlotPoint], _ color: PlotColor, lineWidth: Double) {
    guard let first = points.first, points.count > 1 else { return }
    cairo_new_path(cr)
    cairo_move_to(cr, first.x, first.y)
    for p in points.dropFirst() { cairo_line_to(cr, p.x, p.y) }
    setColor(color)
    cairo_set_line_width(cr, lineWidth)
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND)
    cairo_stroke(cr)
  }

  func disc(_ center: PlotPoint, radius: Double, _ color: PlotColor) {
    cairo_new_path(cr)
    cairo_arc(cr, center.x, center.y, radius, 0, 2 * Double.pi)
    setColor(color)
    cairo_fill(cr)
  }

  /// `r` filled with `stops` evenly spaced from the bottom (first) to the top (last).
  func verticalGradient(_ r: PixelRect, stops: [PlotColor]) {
    guard !r.isEmpty, let pattern = cairo_pattern_create_linear(0, Double(r.maxY), 0, Double(r.y)) else { return }
    defer { cairo_pattern_destroy(pattern) }
    for (k, c) in stops.enumerated() {
      let offset = stops.count > 1 ? Double(k) / Double(stops.count - 1) : 0
      cairo_pattern_add_color_stop_rgb(pattern, offset, Double(c.red) / 255, Double(c.green) / 255, Double(c.blue) / 255)
    }
    cairo_set_source(cr, pattern)
    cairo_rectangle(cr, Double(r.x), Double(r.y), Double(r.width), Double(r.height))
    cairo_fill(cr)
  }

  /// Runs `body` with drawing clipped to `r`.
  func clipped(to r: PixelRect, _ body: () -> Void) {
    cairo_save(cr)
    cairo_rectangle(cr, Double(r.x), Double(r.y), Double(r.width), Double(r.height))
    cairo_clip(cr)
    body()
    cairo_restore(cr)
  }

  /// Runs raw cairo calls on the context between a save and a restore.
  func drawing(_ body: (OpaquePointer) -> Void) {
    cairo_save(cr)
    body(cr)
    cairo_restore(cr)
  }
}
