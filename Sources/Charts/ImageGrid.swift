// Pictures of images: a grid of thumbnails, each with a caption of one or two lines (the mistakes of a
// classifier, the neighbours of a query). The caller decodes and shrinks the images (Charts does not
// read image files); a tile without pixels is drawn grey with its name, so a missing file shows as such
// instead of failing the picture. PNG only: photographs gain nothing in SVG or PDF.

import CCairo
import Support

/// A line of a tile's caption: `text` is shortened with "…" to fit, `suffix` (a number) always shows.
public struct GridCaption: Sendable, Equatable, ExpressibleByStringLiteral {
  public var text: String
  public var suffix: String

  public init(_ text: String, suffix: String = "") {
    self.text = text
    self.suffix = suffix
  }

  public init(stringLiteral text: String) { self.init(text) }
}

/// One tile of an image grid.
public struct GridTile: Sendable {
  /// The image: `width × height` RGB pixels, row-major; nil when it could not be read.
  public var image: (width: Int, height: Int, pixels: [UInt8])?
  /// Shown on the grey tile of an image that could not be read.
  public var name: String
  /// One or two lines under the image.
  public var caption: [GridCaption]
  /// Drawn with a coloured frame (the query of a contact sheet).
  public var highlighted: Bool

  public init(
    image: (width: Int, height: Int, pixels: [UInt8])?, name: String, caption: [GridCaption], highlighted: Bool = false
  ) {
    self.image = image
    self.name = name
    self.caption = caption
    self.highlighted = highlighted
  }
}

extension Plot {
  /// Side of the square each thumbnail is fitted into, in pixels.
  public static let tileSize = 160

  /// A grid of `tiles`, `columns` wide, under `title`, written to `path` (PNG) atomically. Each image is
  /// scaled to fit a `tileSize` square, keeping its aspect ratio, and centred in it.
  /// - Throws: `PlotError.invalidInput` for no tiles or a tile whose pixel count is not width × height × 3;
  ///   `PlotError.write` naming the file that could not be written.
  public static func imageGrid(_ tiles: [GridTile], columns: Int, title: String, to path: String) throws {
    guard !tiles.isEmpty, columns >= 1 else { throw PlotError.invalidInput(path: path, reason: "no images to draw") }
    for tile in tiles {
      if let image = tile.image, image.width < 1 || image.height < 1 || image.pixels.count != image.width * image.height * 3 {
        throw PlotError.invalidInput(
          path: path, reason: "\(tile.name): \(image.pixels.count) bytes for \(image.width)×\(image.height) RGB")
      }
    }
    let grid = ImageGridLayout(count: tiles.count, columns: columns)
    let bytes = try ChartRenderer.render(
      .png, width: grid.width, height: grid.height, title: title, path: path
    ) { painter, _ in
      let heading = painter.fitTitle(title, maxWidth: Double(grid.width - 2 * PlotTheme.margin))
      painter.title(heading, centerX: Double(grid.width) / 2, top: Double(PlotTheme.margin))
      for (i, tile) in tiles.enumerated() { draw(tile, in: grid.cell(i), painter: painter) }
    }
    do { try writeFileAtomically(path, bytes) } catch let error as FileError {
      throw PlotError.write(path: path, reason: error.path == path ? error.reason : error.description)
    }
  }

  private static func draw(_ tile: GridTile, in cell: PixelRect, painter: Painter) {
    let box = PixelRect(x: cell.x, y: cell.y, width: tileSize, height: tileSize)
    if let image = tile.image {
      painter.image(image, fittedIn: box)
    } else {
      painter.fill(box, PlotTheme.missingTile)
      let name = painter.fitted(Painter.singleLine(tile.name), ImageGridLayout.captionFont, maxWidth: Double(tileSize - 8))
      painter.text(
        name, ImageGridLayout.captionFont, x: Double(box.x + tileSize / 2), y: Double(box.y + tileSize / 2), anchor: .middle)
    }
    if tile.highlighted {
      for inset in 0..<3 {
        painter.frame(
          PixelRect(x: box.x + inset, y: box.y + inset, width: tileSize - 2 * inset, height: tileSize - 2 * inset),
          PlotTheme.series[1])
      }
    }
    let font = ImageGridLayout.captionFont
    let lineHeight: Double = painter.lineHeight(font)
    for (j, line) in tile.caption.prefix(2).enumerated() {
      let room: Double = Double(tileSize) - (line.suffix.isEmpty ? 0 : painter.width(line.suffix, font))
      let fitted: String = painter.fitted(Painter.singleLine(line.text), font, maxWidth: room) + line.suffix
      let y: Double = Double(box.maxY) + 4 + lineHeight * (Double(j) + 0.5)
      painter.text(fitted, font, x: Double(box.x + tileSize / 2), y: y, anchor: .middle)
    }
  }
}

/// Where the tiles of an image grid go.
struct ImageGridLayout {
  static let captionFont = ChartFont(size: 12)
  static let gap = 12
  static let titleBand = 40
  static let captionBand = 40

  let count: Int
  let columns: Int

  init(count: Int, columns: Int) {
    self.count = count
    self.columns = min(columns, count)
  }

  var rows: Int { (count + columns - 1) / columns }
  var cellHeight: Int { Plot.tileSize + Self.captionBand }
  var width: Int { 2 * PlotTheme.margin + columns * Plot.tileSize + (columns - 1) * Self.gap }
  var height: Int { PlotTheme.margin + Self.titleBand + rows * cellHeight + (rows - 1) * Self.gap + PlotTheme.margin }

  /// The cell of tile `i`: the image square on top, its caption below.
  func cell(_ i: Int) -> PixelRect {
    let (row, column) = (i / columns, i % columns)
    return PixelRect(
      x: PlotTheme.margin + column * (Plot.tileSize + Self.gap),
      y: PlotTheme.margin + Self.titleBand + row * (cellHeight + Self.gap), width: Plot.tileSize, height: cellHeight)
  }
}

extension Painter {
  /// Draws an RGB image scaled to fit `box` (aspect kept, centred), with cairo's good filter.
  func image(_ image: (width: Int, height: Int, pixels: [UInt8]), fittedIn box: PixelRect) {
    let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(image.width)))
    var data = [UInt8](repeating: 0, count: stride * image.height)
    // CAIRO_FORMAT_RGB24: one native-endian 32-bit word per pixel, 0x00RRGGBB.
    data.withUnsafeMutableBytes { raw in
      for y in 0..<image.height {
        let row = raw.baseAddress!.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)
        for x in 0..<image.width {
          let p = (y * image.width + x) * 3
          row[x] = UInt32(image.pixels[p]) << 16 | UInt32(image.pixels[p + 1]) << 8 | UInt32(image.pixels[p + 2])
        }
      }
    }
    let scale = min(Double(box.width) / Double(image.width), Double(box.height) / Double(image.height))
    let (w, h) = (Double(image.width) * scale, Double(image.height) * scale)
    data.withUnsafeMutableBytes { raw in
      let surface = CairoSurface(
        cairo_image_surface_create_for_data(
          raw.baseAddress!.assumingMemoryBound(to: UInt8.self), CAIRO_FORMAT_RGB24, Int32(image.width), Int32(image.height),
          Int32(stride)))
      drawing { cr in
        cairo_translate(cr, Double(box.x) + (Double(box.width) - w) / 2, Double(box.y) + (Double(box.height) - h) / 2)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, surface.handle, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD)
        // Edge pixels repeat outward, so the scaled edges do not fade into the background.
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD)
        cairo_rectangle(cr, 0, 0, Double(image.width), Double(image.height))
        cairo_clip(cr)
        cairo_paint(cr)
      }
    }
  }
}
