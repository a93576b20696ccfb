// The C side of the charts. Small owners of cairo and pango handles, each freeing its handle in deinit,
// and `ChartRenderer`, which runs a chart's one drawing function on three cairo surfaces — an image
// surface encoded as PNG, an SVG and a PDF surface streamed into memory — checks cairo's status, and
// then writes the three files atomically. One drawing code, so the three files cannot disagree.

import CCairo
import Support

// MARK: - Handles

/// A cairo surface; destroyed with its owner.
final class CairoSurface {
  let handle: OpaquePointer

  init(_ handle: OpaquePointer) { self.handle = handle }
  deinit { cairo_surface_destroy(handle) }

  /// - Throws: `PlotError.encoding` naming `path` when cairo has flagged an error on the surface.
  func check(_ path: String) throws { try checkCairo(cairo_surface_status(handle), path) }
}

/// A cairo drawing context, which keeps its surface alive; destroyed with its owner.
final class CairoContext {
  let handle: OpaquePointer
  let surface: CairoSurface

  init(_ surface: CairoSurface) {
    self.surface = surface
    handle = cairo_create(surface.handle)
  }
  deinit { cairo_destroy(handle) }

  /// - Throws: `PlotError.encoding` naming `path` when a drawing operation failed.
  func check(_ path: String) throws { try checkCairo(cairo_status(handle), path) }
}

/// A pango context (a GObject); unreferenced with its owner.
final class PangoContextHandle {
  let handle: OpaquePointer

  /// A context for text drawn on `context`, with unhinted metrics: text then has the same width on the
  /// PNG, SVG and PDF surfaces, so a layout measured once holds for all three.
  init(for context: CairoContext) {
    handle = pango_cairo_create_context(context.handle)
    let options = cairo_font_options_create()
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
    pango_cairo_context_set_font_options(handle, options)
    cairo_font_options_destroy(options)
  }
  deinit { g_object_unref(UnsafeMutableRawPointer(handle)) }
}

/// A pango font description of the charts' family; freed with its owner.
final class FontDescription {
  let handle: OpaquePointer

  init(_ font: ChartFont) {
    handle = pango_font_description_from_string(PlotTheme.fontFamily)
    pango_font_description_set_absolute_size(handle, font.size * Double(PANGO_SCALE))
    if font.bold { pango_font_description_set_weight(handle, PANGO_WEIGHT_BOLD) }
  }
  deinit { pango_font_description_free(handle) }
}

/// The logical box of laid-out text, in pixels, relative to where the layout is drawn.
struct TextBox: Equatable, Sendable {
  var x: Double
  var y: Double
  var width: Double
  var height: Double
}

/// A pango layout: one text shaped in one font (a GObject); unreferenced with its owner.
final class TextLayout {
  let handle: OpaquePointer
  /// The logical extents (advance widths and line heights, not ink).
  let box: TextBox
  let lineCount: Int

  /// - Parameter wrapWidth: when set, lines wrap (at words, else anywhere) to this width, centred, and at
  ///   most `maxLines` lines are kept.
  init(_ context: PangoContextHandle, _ text: String, _ font: FontDescription, wrapWidth: Double?, maxLines: Int) {
    handle = pango_layout_new(context.handle)
    pango_layout_set_font_description(handle, font.handle)
    if let wrapWidth {
      pango_layout_set_width(handle, Int32((wrapWidth * Double(PANGO_SCALE)).rounded(.down)))
      pango_layout_set_wrap(handle, PANGO_WRAP_WORD_CHAR)
      pango_layout_set_alignment(handle, PANGO_ALIGN_CENTER)
      pango_layout_set_height(handle, Int32(-maxLines))
      pango_layout_set_ellipsize(handle, PANGO_ELLIPSIZE_END)
    }
    pango_layout_set_text(handle, text, -1)
    var ink = PangoRectangle()
    var logical = PangoRectangle()
    pango_layout_get_extents(handle, &ink, &logical)
    let s = Double(PANGO_SCALE)
    box = TextBox(
      x: Double(logical.x) / s, y: Double(logical.y) / s, width: Double(logical.width) / s,
      height: Double(logical.height) / s)
    lineCount = Int(pango_layout_get_line_count(handle))
  }
  deinit { g_object_unref(UnsafeMutableRawPointer(handle)) }
}

/// Throws `PlotError.encoding` naming `path` unless `status` is success.
func checkCairo(_ status: cairo_status_t, _ path: String) throws {
  guard status != CAIRO_STATUS_SUCCESS else { return }
  throw PlotError.encoding(path: path, reason: String(cString: cairo_status_to_string(status)))
}

// MARK: - Rendering

/// What a drawing function is drawing for: the PNG shows what is legible at its pixel size, the vector
/// files may hold more detail for zooming in.
enum Medium: Sendable {
  case raster, vector
}

/// The three files every chart is written as.
enum ChartFormat: String, CaseIterable, Sendable {
  case png, svg, pdf
}

/// Where cairo streams a surface's bytes.
private final class ByteSink {
  var bytes: [UInt8] = []
}

/// cairo's write callback: appends to the `ByteSink` behind `closure`.
private func appendToSink(_ closure: UnsafeMutableRawPointer?, _ data: UnsafePointer<UInt8>?, _ length: UInt32)
  -> cairo_status_t
{
  guard let closure else { return CAIRO_STATUS_WRITE_ERROR }
  let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
  if let data, length > 0 { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length))) }
  return CAIRO_STATUS_SUCCESS
}

enum ChartRenderer {
  /// Runs `draw` on a `width`×`height` PNG, SVG and PDF surface (white background already painted) and
  /// writes `<base>.png`, `<base>.svg` and `<base>.pdf`. All three are rendered before the first is
  /// written, and each is written atomically, so a failure leaves earlier files of the same name intact.
  ///
  /// - Parameter title: the PDF's document title.
  /// - Throws: `PlotError.encoding` if cairo fails, `PlotError.write` naming the file that could not be
  ///   written.
  static func write(
    width: Int, height: Int, title: String, to base: String, draw: (Painter, Medium) -> Void
  ) throws {
    var files: [(path: String, bytes: [UInt8])] = []
    for format in ChartFormat.allCases {
      let path = base + "." + format.rawValue
      files.append((path, try render(format, width: width, height: height, title: title, path: path, draw: draw)))
    }
    for file in files {
      do {
        try writeFileAtomically(file.path, file.bytes)
      } catch let error as FileError {
        throw PlotError.write(path: file.path, reason: error.path == file.path ? error.reason : error.description)
      }
    }
  }

  /// The file bytes of one format.
  static func render(
    _ format: ChartFormat, width: Int, height: Int, title: String, path: String, draw: (Painter, Medium) -> Void
  ) throws -> [UInt8] {
    let sink = ByteSink()
    let closure = Unmanaged.passUnretained(sink).toOpaque()
    // The sink must outlive the surface: destroying an unfinished vector surface still writes to it.
    return try withExtendedLifetime(sink) {
      let (w, h) = (Double(width), Double(height))
      let surface: CairoSurface
      switch format {
      case .png:
        surface = CairoSurface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)))
      case .svg:
        surface = CairoSurface(cairo_svg_surface_create_for_stream(appendToSink, closure, w, h))
        cairo_svg_surface_restrict_to_version(surface.handle, CAIRO_SVG_VERSION_1_1)
        cairo_svg_surface_set_document_unit(surface.handle, CAIRO_SVG_UNIT_PX)
      case .pdf:
        surface = CairoSurface(cairo_pdf_surface_create_for_stream(appendToSink, closure, w, h))
        cairo_pdf_surface_set_metadata(surface.handle, CAIRO_PDF_METADATA_TITLE, title)
      }
      try surface.check(path)
      do {
        let painter = Painter(CairoContext(surface))
        painter.fill(PixelRect(x: 0, y: 0, width: width, height: height), PlotTheme.background)
        draw(painter, format == .png ? .raster : .vector)
        try painter.check(path)
      }
      if format == .png {
        cairo_surface_flush(surface.handle)
        try checkCairo(cairo_surface_write_to_png_stream(surface.handle, appendToSink, closure), path)
      } else {
        cairo_surface_finish(surface.handle)
        try surface.check(path)
      }
      return sink.bytes
    }
  }
}
