// The image grid (mistakes, contact sheets): every image lands in its square, scaled to fit and centred,
// a missing image is a grey tile, the highlighted tile has a frame, and captions are drawn under images.

import Charts
import Foundation
import TestSupport
import Testing

@Suite struct ImageGridTests {
  /// A solid `width × height` image of one colour.
  func solid(_ width: Int, _ height: Int, _ rgb: (UInt8, UInt8, UInt8)) -> (width: Int, height: Int, pixels: [UInt8]) {
    (width, height, [UInt8]((0..<(width * height)).flatMap { _ in [rgb.0, rgb.1, rgb.2] }))
  }

  @Test func tilesAreScaledIntoTheirSquares() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("grid.png")
    let tiles = [
      GridTile(image: solid(40, 40, (255, 0, 0)), name: "red.jpg", caption: ["red", GridCaption("→ x", suffix: " (0.90)")]),
      // A wide image: 160 × 80 after scaling, centred vertically in its square.
      GridTile(image: solid(400, 200, (0, 0, 255)), name: "blue.jpg", caption: ["blue"]),
      GridTile(image: nil, name: "missing.jpg", caption: ["gone"]),
      GridTile(image: solid(10, 10, (0, 255, 0)), name: "query.jpg", caption: ["query"], highlighted: true),
    ]
    try Plot.imageGrid(tiles, columns: 3, title: "four tiles", to: path)
    let png = try RGBImage(path: path)
    // margin 16 + 3 tiles of 160 with gaps of 12; title band 40; cells 200 high with gaps of 12.
    #expect(png.width == 16 * 2 + 3 * 160 + 2 * 12)
    #expect(png.height == 16 + 40 + 2 * 200 + 12 + 16)
    let top = 16 + 40
    func center(_ column: Int, _ row: Int) -> (Int, Int) { (16 + column * 172 + 80, top + row * 212 + 80) }
    let (rx, ry) = center(0, 0)
    #expect(png.rgb(rx, ry) == 0xff0000)
    #expect(png.rgb(16 + 1, top + 1) == 0xff0000, "a square image fills its whole square")
    let (bx, by) = center(1, 0)
    #expect(png.rgb(bx, by) == 0x0000ff)
    #expect(png.rgb(bx, top + 10) == 0xffffff, "a wide image leaves the top of its square empty")
    #expect(png.rgb(bx, top + 45) == 0x0000ff)
    let (mx, _) = center(2, 0)
    #expect(png.rgb(mx - 70, top + 5) == 0xc8c8c8, "a missing image is a grey tile")
    #expect(png.darkPixels(x: (mx - 70)..<(mx + 70), y: (top + 70)..<(top + 90)) > 20, "its name is written on it")
    let (qx, qy) = center(0, 1)
    #expect(png.rgb(qx, qy) == 0x00ff00)
    #expect(png.rgb(16 + 1, top + 212 + 1) != 0x00ff00, "the highlighted tile is framed")
    #expect(png.darkPixels(x: 16..<176, y: (top + 162)..<(top + 200)) > 40, "captions are drawn under the image")
  }

  @Test func badTilesAreRefusedNamingTheFile() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("bad.png")
    #expect(throws: PlotError.invalidInput(path: path, reason: "no images to draw")) {
      try Plot.imageGrid([], columns: 3, title: "none", to: path)
    }
    let broken = GridTile(image: (4, 4, [0, 0, 0]), name: "x.jpg", caption: [])
    #expect(throws: PlotError.invalidInput(path: path, reason: "x.jpg: 3 bytes for 4×4 RGB")) {
      try Plot.imageGrid([broken], columns: 3, title: "bad", to: path)
    }
    #expect(!FileManager.default.fileExists(atPath: path))
  }
}
