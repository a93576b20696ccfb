import Charts
import FeatureStore
import Foundation
import Images
import Probe

/// Pictures of stored images: the mistakes of a report (`--plot`) and contact sheets (`neighbors --sheet`).
/// The images are read through the paths a store records, relative to the dataset root it records.
enum Pictures {
  /// The image of store row `row`, shrunk to at most twice a grid tile; nil when it cannot be read.
  static func thumbnail(_ path: String) -> (width: Int, height: Int, pixels: [UInt8])? {
    let side = 2 * Plot.tileSize
    // JPEG draft: decode at 1/2, 1/4 or 1/8 scale while the image stays at least `side` on its shorter side.
    let draft: (Int, Int) -> (width: Int, height: Int)? = { w, h in
      let scale = Double(side) / Double(min(w, h))
      return scale < 1 ? (Int((Double(w) * scale).rounded(.up)), Int((Double(h) * scale).rounded(.up))) : nil
    }
    guard let image = try? ImageDecoder().decode(path: path, draftTo: draft) else { return nil }
    let scale = min(1, Double(side) / Double(max(image.width, image.height)))
    let small =
      scale < 1
      ? resizePIL(
        image, width: max(1, Int((Double(image.width) * scale).rounded())),
        height: max(1, Int((Double(image.height) * scale).rounded())))
      : image
    return (small.width, small.height, small.pixels)
  }

  /// The file of a stored path: absolute as recorded, else under the store's dataset root.
  static func file(_ stored: String, in store: FeatureStore) -> String {
    stored.hasPrefix("/") ? stored : store.metadata.source + "/" + stored
  }

  /// `folder/mistakes.png`: the report's most confidently wrong rows of the store at `storePath`, each
  /// captioned with its true class, the predicted one and the probability (or vote share). Nothing is
  /// written when there are no mistakes (or the report did not record them).
  @discardableResult
  static func writeMistakes(_ report: ProbeReport, storePath: String, to folder: String) throws -> String? {
    guard let mistakes = report.mistakes, !mistakes.isEmpty else { return nil }
    let store = try FeatureStore(path: storePath)
    let paths = try store.paths()
    let tiles = mistakes.map { m in
      let file = file(paths[m.storeRow], in: store)
      return GridTile(
        image: thumbnail(file), name: (paths[m.storeRow] as NSString).lastPathComponent,
        caption: [
          GridCaption(report.classes[m.truth]),
          GridCaption("→ \(report.classes[m.predicted])", suffix: String(format: " (%.2f)", m.probability)),
        ])
    }
    let wrong = report.confusion.enumerated().reduce(0) { sum, row in sum + row.element.reduce(0, +) - row.element[row.offset] }
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let path = folder + "/mistakes.png"
    try Plot.imageGrid(
      tiles, columns: 6,
      title: "The \(tiles.count) most confidently wrong \(report.confusionOf) images of \(wrong) wrong (true → predicted)",
      to: path)
    return path
  }
}
