// The raster side of featx's charts: an RGB8 canvas with anti-aliased lines and the embedded bitmap font,
// the rendering of a chart's shapes onto it, PNG encoding through libpng's simplified API, and the atomic
// file write (temporary file + rename) both the PNG and the SVG go through.

import CPNG
import Glibc

/// An 8-bit RGB raster, row-major, that charts are drawn on before PNG encoding.
struct Canvas {
  let width: Int
  let height: Int
  /// `width * height * 3` bytes, red-green-blue per pixel, top row first.
  private(set) var pixels: [UInt8]

  /// A canvas filled with `background`.
  init(width: Int, height: Int, background: PlotColor) {
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for p in 0..<(width * height) {
      pixels[3 * p] = background.red
      pixels[3 * p + 1] = background.green
      pixels[3 * p + 2] = background.blue
    }
  }

  /// The colour at column `x`, row `y` (for tests and checks).
  func color(x: Int, y: Int) -> PlotColor {
    let i = 3 * (y * width + x)
    return PlotColor(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2])
  }

  /// Fills the pixels of `rect` that lie on the canvas and inside `clip`.
  mutating func fill(_ rect: PixelRect, color: PlotColor, clip: PixelRect? = nil) {
    let area = rect.intersection(clip ?? bounds).intersection(bounds)
    guard !area.isEmpty else { return }
    for y in area.y..<(area.y + area.height) {
      var i = 3 * (y * width + area.x)
      for _ in 0..<area.width {
        pixels[i] = color.red
        pixels[i + 1] = color.green
        pixels[i + 2] = color.blue
        i += 3
      }
    }
  }

  /// Mixes `color` into one pixel with opacity `coverage` (0...1); pixels off the canvas are ignored.
  mutating func blend(x: Int, y: Int, color: PlotColor, coverage: Float) {
    guard x >= 0, y >= 0, x < width, y < height, coverage > 0 else { return }
    let i = 3 * (y * width + x)
    if coverage >= 1 {
      (pixels[i], pixels[i + 1], pixels[i + 2]) = (color.red, color.green, color.blue)
      return
    }
    @inline(__always) func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
      UInt8((Float(old) * (1 - coverage) + Float(new) * coverage).rounded())
    }
    pixels[i] = mix(pixels[i], color.red)
    pixels[i + 1] = mix(pixels[i + 1], color.green)
    pixels[i + 2] = mix(pixels[i + 2], color.blue)
  }

  /// The whole canvas as a rectangle.
  var bounds: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

  /// Draws a connected, anti-aliased line of `lineWidth` pixels through `points` (pixel centres at
  /// `x + 0.5`). Coverage is accumulated per pixel before blending, so joints are not darker than the line.
  mutating func strokePolyline(_ points: [PlotPoint], lineWidth: Double, color: PlotColor, clip: PixelRect) {
    guard points.count >= 2 else { return }
    let radius = lineWidth / 2
    let reach = radius + 1
    let box = PixelRect.enclosing(points, margin: reach).intersection(clip).intersection(bounds)
    guard !box.isEmpty else { return }
    var mask = [Float](repeating: 0, count: box.width * box.height)
    for k in 1..<points.count {
      let (a, b) = (points[k - 1], points[k])
      let segmentBox = PixelRect.enclosing([a, b], margin: reach).intersection(box)
      guard !segmentBox.isEmpty else { continue }
      let (dx, dy) = (b.x - a.x, b.y - a.y)
      let lengthSquared = dx * dx + dy * dy
      for y in segmentBox.y..<(segmentBox.y + segmentBox.height) {
        let py = Double(y) + 0.5
        for x in segmentBox.x..<(segmentBox.x + segmentBox.width) {
          let px = Double(x) + 0.5
          var t = lengthSquared > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / lengthSquared : 0
          t = min(1, max(0, t))
          let (ex, ey) = (px - (a.x + t * dx), py - (a.y + t * dy))
          let coverage = Float(min(1, max(0, radius + 0.5 - (ex * ex + ey * ey).squareRoot())))
          let m = (y - box.y) * box.width + (x - box.x)
          if coverage > mask[m] { mask[m] = coverage }
        }
      }
    }
    composite(mask, in: box, color: color)
  }

  /// Draws an anti-aliased filled disc.
  mutating func fillCircle(center: PlotPoint, radius: Double, color: PlotColor, clip: PixelRect) {
    let box = PixelRect.enclosing([center], margin: radius + 1).intersection(clip).intersection(bounds)
    guard !box.isEmpty else { return }
    for y in box.y..<(box.y + box.height) {
      for x in box.x..<(box.x + box.width) {
        let (ex, ey) = (Double(x) + 0.5 - center.x, Double(y) + 0.5 - center.y)
        let coverage = Float(min(1, max(0, radius + 0.5 - (ex * ex + ey * ey).squareRoot())))
        blend(x: x, y: y, color: color, coverage: coverage)
      }
    }
  }

  private mutating func composite(_ mask: [Float], in box: PixelRect, color: PlotColor) {
    for y in 0..<box.height {
      for x in 0..<box.width where mask[y * box.width + x] > 0 {
        blend(x: box.x + x, y: box.y + y, color: color, coverage: mask[y * box.width + x])
      }
    }
  }

  /// Draws `text` with the embedded bitmap font, each font pixel a `scale`×`scale` block.
  ///
  /// `(x, baseline)` is the anchor: horizontal text sits on `baseline` and starts, is centred or ends at
  /// `x`. Vertical text reads bottom to top (as a y-axis label): its baseline is the column `x` with the
  /// letters' tops towards smaller x, and `anchor` then applies along y. `bold` thickens strokes by a pixel.
  /// From scale 2 on, the inner corners of diagonal steps are partly filled, which softens the staircase.
  mutating func drawText(
    _ text: String, x: Int, baseline: Int, scale: Int, color: PlotColor, anchor: TextAnchor,
    vertical: Bool = false, bold: Bool = false
  ) {
    let extra = bold ? 1 : 0
    let length = PlotFont.width(of: text, scale: scale) + extra
    let shift = anchor == .start ? 0 : anchor == .middle ? length / 2 : length
    // Paints glyph-space pixel (u along the text, v down from the baseline) at `coverage`.
    func paint(_ u: Int, _ v: Int, _ coverage: Float) {
      let strokes = coverage >= 1 ? extra : 0
      for k in 0...strokes {
        if vertical {
          blend(x: x + v, y: baseline + shift - u - 1 - k, color: color, coverage: coverage)
        } else {
          blend(x: x - shift + u + k, y: baseline + v, color: color, coverage: coverage)
        }
      }
    }
    let (w, h) = (PlotFont.glyphWidth, PlotFont.glyphHeight)
    for (i, character) in text.enumerated() {
      let rows = Array(PlotFont.rows(for: character))
      func isSet(_ r: Int, _ c: Int) -> Bool { r >= 0 && r < h && c >= 0 && c < w && rows[r] & (0x10 >> UInt8(c)) != 0 }
      let u0 = i * PlotFont.advance * scale
      for r in 0..<h {
        for c in 0..<w where isSet(r, c) {
          for dv in 0..<scale {
            for du in 0..<scale { paint(u0 + c * scale + du, (r - PlotFont.capHeight) * scale + dv, 1) }
          }
        }
      }
      guard scale >= 2 else { continue }
      // Diagonal steps: fill the empty blocks' corners that face the diagonal.
      let corner = Float(scale) / 2
      for r in 0..<(h - 1) {
        for c in -1..<w {
          let falling = isSet(r, c) && isSet(r + 1, c + 1) && !isSet(r, c + 1) && !isSet(r + 1, c)
          let rising = isSet(r, c + 1) && isSet(r + 1, c) && !isSet(r, c) && !isSet(r + 1, c + 1)
          guard falling || rising else { continue }
          for a in 0..<scale {
            for b in 0..<scale {
              // Distance (in pixels, along both axes) of sub-pixel (a, b) from the corner it fills.
              let fromLeft = Float(a) + 0.5
              let fromRight = Float(scale - a) - 0.5
              let fromTop = Float(b) + 0.5
              let fromBottom = Float(scale - b) - 0.5
              // Upper block's corner touching the lower one, and the lower block's corner touching the upper.
              let upper = falling ? fromLeft + fromBottom : fromRight + fromBottom
              let lower = falling ? fromRight + fromTop : fromLeft + fromTop
              let upperCoverage = min(1, max(0, corner - upper + 0.5))
              let lowerCoverage = min(1, max(0, corner - lower + 0.5))
              let (upperColumn, lowerColumn) = falling ? (c + 1, c) : (c, c + 1)
              if upperCoverage > 0 {
                paint(u0 + upperColumn * scale + a, (r - PlotFont.capHeight) * scale + b, upperCoverage)
              }
              if lowerCoverage > 0 {
                paint(u0 + lowerColumn * scale + a, (r + 1 - PlotFont.capHeight) * scale + b, lowerCoverage)
              }
            }
          }
        }
      }
    }
  }
}

/// An integer pixel rectangle: columns `x..<x+width`, rows `y..<y+height`.
struct PixelRect: Equatable, Sendable {
  var x: Int
  var y: Int
  var width: Int
  var height: Int

  static let zero = PixelRect(x: 0, y: 0, width: 0, height: 0)

  var isEmpty: Bool { width <= 0 || height <= 0 }
  var maxX: Int { x + width }
  var maxY: Int { y + height }

  /// True if `point` lies inside.
  func contains(_ point: PlotPoint) -> Bool {
    point.x >= Double(x) && point.x < Double(maxX) && point.y >= Double(y) && point.y < Double(maxY)
  }

  /// The overlap of two rectangles (empty when they do not meet).
  func intersection(_ other: PixelRect) -> PixelRect {
    let (x0, y0) = (max(x, other.x), max(y, other.y))
    let (x1, y1) = (min(maxX, other.maxX), min(maxY, other.maxY))
    return x1 > x0 && y1 > y0 ? PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0) : .zero
  }

  /// The pixels any of `points` (widened by `margin`) can touch.
  static func enclosing(_ points: [PlotPoint], margin: Double) -> PixelRect {
    var (x0, y0, x1, y1) = (Double.infinity, Double.infinity, -Double.infinity, -Double.infinity)
    for p in points {
      (x0, y0, x1, y1) = (min(x0, p.x), min(y0, p.y), max(x1, p.x), max(y1, p.y))
    }
    guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { return .zero }
    // Clamp before converting so that absurd coordinates cannot overflow Int.
    func pixel(_ v: Double) -> Int { Int(min(1e7, max(-1e7, v)).rounded(.down)) }
    let (left, top) = (pixel(x0 - margin), pixel(y0 - margin))
    let (right, bottom) = (pixel(x1 + margin) + 1, pixel(y1 + margin) + 1)
    return PixelRect(x: left, y: top, width: right - left, height: bottom - top)
  }
}

extension Canvas {
  /// Draws a chart's shapes: the raster twin of `SVGRenderer`.
  init(drawing: PlotDrawing) {
    self.init(width: drawing.width, height: drawing.height, background: drawing.background)
    var clips: [PixelRect] = [bounds]
    for shape in drawing.shapes {
      let clip = clips[clips.count - 1]
      switch shape {
      case .rect(let rect, let color, _):
        fill(rect, color: color, clip: clip)
      case .polyline(let points, let color, let lineWidth):
        strokePolyline(points, lineWidth: lineWidth, color: color, clip: clip)
      case .circle(let center, let radius, let color):
        fillCircle(center: center, radius: radius, color: color, clip: clip)
      case .text(let text):
        if text.svgOnly { continue }
        drawText(
          text.text, x: text.x, baseline: text.baseline, scale: text.scale, color: text.color, anchor: text.anchor,
          vertical: text.vertical, bold: text.bold)
      case .colorBar(let rect, let stops):
        for row in 0..<rect.height {
          let t = rect.height > 1 ? Double(rect.height - 1 - row) / Double(rect.height - 1) : 1
          fill(
            PixelRect(x: rect.x, y: rect.y + row, width: rect.width, height: 1), color: PlotColor.interpolate(stops, t),
            clip: clip)
        }
      case .beginGroup(_, let groupClip):
        clips.append(groupClip.map { $0.intersection(clip) } ?? clip)
      case .endGroup:
        if clips.count > 1 { clips.removeLast() }
      }
    }
  }
}

/// PNG encoding through libpng's simplified write API.
enum PNGWriter {
  /// The PNG file bytes for an RGB8 raster. Contains no time stamp, so equal pixels give equal bytes.
  ///
  /// - Parameter path: names the file in errors.
  /// - Throws: `PlotError.encoding` if libpng fails.
  static func encode(_ canvas: Canvas, path: String) throws -> [UInt8] {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(canvas.width)
    image.height = UInt32(canvas.height)
    image.format = featx_png_format_rgb()
    defer { png_image_free(&image) }
    func failure() -> PlotError {
      let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      return .encoding(path: path, reason: message.isEmpty ? "libpng error" : message)
    }
    let stride = Int32(canvas.width * 3)
    var size: png_alloc_size_t = 0
    // The first call measures, the second writes.
    let measured = canvas.pixels.withUnsafeBytes {
      png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil)
    }
    guard measured != 0, size > 0 else { throw failure() }
    var bytes = [UInt8](repeating: 0, count: Int(size))
    let written = bytes.withUnsafeMutableBytes { out in
      canvas.pixels.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
    }
    guard written != 0 else { throw failure() }
    if Int(size) < bytes.count { bytes.removeLast(bytes.count - Int(size)) }
    return bytes
  }
}

/// Writing chart files.
enum PlotFile {
  /// Writes `bytes` to `path` atomically: into a temporary file beside it, then renamed over it, so a
  /// reader never sees half a chart and a failed write leaves any earlier file in place.
  ///
  /// - Throws: `PlotError.write` naming `path` and the system's reason.
  static func write(_ bytes: [UInt8], to path: String) throws {
    let temporary = "\(path).featx-tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw PlotError.write(path: path, reason: systemError()) }
    var closed = false
    var renamed = false
    defer {
      if !closed { close(fd) }
      if !renamed { unlink(temporary) }
    }
    try bytes.withUnsafeBytes { buffer in
      guard let base = buffer.baseAddress else { return }
      var done = 0
      while done < buffer.count {
        let n = Glibc.write(fd, base + done, buffer.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          throw PlotError.write(path: path, reason: systemError())
        }
        done += n
      }
    }
    closed = true
    guard close(fd) == 0 else { throw PlotError.write(path: path, reason: systemError()) }
    guard rename(temporary, path) == 0 else { throw PlotError.write(path: path, reason: systemError()) }
    renamed = true
  }

  private static func systemError() -> String { String(cString: strerror(errno)) }
}
