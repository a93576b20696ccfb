// `featx evaluate HEAD STORE` and `featx probe STORE --test OTHER`: a head scored on another store gives
// probe's numbers on the same rows, and a store made otherwise (or without labels, or with classes the head
// does not know) is refused naming why.

import FeatureStore
import Foundation
import Testing
import TestSupport

private func json(_ result: CommandResult) throws -> [String: Any] {
  try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
}

private func part(_ report: [String: Any], _ name: String) -> [String: Double] {
  ((report[name] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

@Suite(
  .serialized,
  .enabled(
    if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("flower_photos_small").path),
    "the shared datasets are not available"))
struct EvaluateCLITests {
  static let extractArgs = ["--arch", "resnet18", "--weights", "random:0", "--quiet"]

  /// A train/val/test tree; the store of its train+val parts; a store of its test images alone.
  struct Stores {
    var dir: TemporaryDirectory
    var root: String
    var main: String
    var newImages: String
  }

  static func stores() throws -> Stores {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 6), ("val", 3), ("test", 2)])
    let main = dir.path("main.h5")
    let extract = try runFeatx(["extract", root, "-o", main] + extractArgs)
    #expect(extract.status == 0, "\(extract.stderr)")
    // New images: a dataset of one split folder, test/, holding the tree's test images.
    try FileManager.default.createDirectory(atPath: dir.path("new"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: dir.path("new/test"), withDestinationPath: root + "/test")
    let newImages = dir.path("new.h5")
    let second = try runFeatx(["extract", dir.path("new"), "-o", newImages] + extractArgs)
    #expect(second.status == 0, "\(second.stderr)")
    return Stores(dir: dir, root: root, main: main, newImages: newImages)
  }

  /// evaluate on the store the head was trained on repeats probe's report exactly, part by part.
  @Test func evaluateEqualsProbeOnTheSameRows() throws {
    let s = try Self.stores()
    let head = s.dir.path("head.h5")
    let probe = try json(try runFeatx(["probe", s.main, "-o", head, "--l2", "1e-2", "--json", "--quiet"]))
    let evaluated = try runFeatx(["evaluate", head, s.main, "--json"])
    #expect(evaluated.status == 0, "\(evaluated.stderr)")
    let report = try json(evaluated)
    #expect(part(report, "test") == part(probe, "test"))
    #expect(part(report, "train") == part(probe, "train"))
    #expect(part(report, "test")["rows"] == 9)
    #expect(report["confusion"] as? [[Int]] == probe["confusion"] as? [[Int]])
    #expect(report["confusion_of"] as? String == "test")
    #expect((report["per_class"] as? [[String: Any]])?.count == 3)
    #expect(report["solver"] as? String == "evaluate")

    let text = try runFeatx(["evaluate", head, s.main, "--plot", s.dir.path("plots")])
    #expect(text.status == 0, "\(text.stderr)")
    #expect(text.stdout.hasPrefix("\(head) on \(s.main): 27 labelled rows (the store it was trained on"), "\(text.stdout)")
    let testLine = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("test ") })
    #expect(testLine.contains(String(format: "%.4f", part(probe, "test")["top1"] ?? -1)), "\(text.stdout)")
    #expect(text.stdout.contains("worst classes (test):"))
    for format in ["png", "svg", "pdf"] {
      #expect(FileManager.default.fileExists(atPath: s.dir.path("plots/confusion.\(format)")))
    }
  }

  /// probe --test trains on every labelled row of one store and reports on another; evaluate of that head
  /// on the other store gives the same test numbers.
  @Test func probeOnOneStoreTestOnAnother() throws {
    let s = try Self.stores()
    let head = s.dir.path("head.h5")
    let result = try runFeatx(["probe", s.main, "-o", head, "--test", s.newImages, "--l2", "1e-2", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("27 train / 6 test rows"), "\(result.stderr)")
    #expect(result.stderr.contains("test rows from \(s.newImages)"))
    let probe = try json(result)
    #expect(part(probe, "train")["rows"] == 27)
    #expect(part(probe, "test")["rows"] == 6)
    let evaluated = try json(try runFeatx(["evaluate", head, s.newImages, "--json"]))
    #expect(part(evaluated, "test") == part(probe, "test"))
    #expect(evaluated["confusion"] as? [[Int]] == probe["confusion"] as? [[Int]])
    // A store of new images alone has no train part: the table has no train line.
    let text = try runFeatx(["evaluate", head, s.newImages])
    #expect(text.stdout.contains("6 labelled rows (a store it was not trained on"), "\(text.stdout)")
    #expect(!text.stdout.split(separator: "\n").contains { $0.hasPrefix("train ") }, "\(text.stdout)")

    let both = try runFeatx(["probe", s.main, "-o", head, "--test", s.newImages, "--val-ratio", "0.2"])
    #expect(both.status == 64)
    #expect(both.stderr.hasPrefix("Error: --val-ratio"), "\(both.stderr)")
  }

  /// A store made with other weights or preprocessing is refused naming the first difference, by
  /// evaluate and by probe --test; so are an unlabelled store and rows of a class the head does not know.
  @Test func mismatchesAreRefused() throws {
    let s = try Self.stores()
    let head = s.dir.path("head.h5")
    #expect(try runFeatx(["probe", s.main, "-o", head, "--l2", "1e-2", "--quiet"]).status == 0)
    let newRoot = s.dir.path("new")
    for (name, options, setting, expected, found) in [
      ("weights.h5", ["--weights", "random:1"], "weights sha256", "random:0", "random:1"),
      ("preset.h5", ["--weights", "random:0", "--preset", "seed"], "preprocessing", "{", "{"),
    ] {
      let other = s.dir.path(name)
      #expect(try runFeatx(["extract", newRoot, "-o", other, "--arch", "resnet18", "--quiet"] + options).status == 0)
      for arguments in [["evaluate", head, other], ["probe", s.main, "-o", s.dir.path("h2.h5"), "--test", other]] {
        let refused = try runFeatx(arguments)
        #expect(refused.status == 1, "\(refused.stderr)")
        let lines = refused.stderr.split(separator: "\n").filter {
          !$0.hasPrefix("WARNING") && !$0.hasPrefix("l2 ") && !$0.contains("train / ")
        }
        #expect(lines.count == 1, "\(refused.stderr)")
        let line = String(lines.first ?? "")
        #expect(line.hasPrefix("Error: \(other): its features were extracted with \(setting) \(found)"), "\(line)")
        #expect(line.contains("with \(setting) \(expected)"), "\(line)")
      }
      #expect(!FileManager.default.fileExists(atPath: s.dir.path("h2.h5")))
    }

    // Unlabelled: a flat folder of images.
    let flat = s.dir.path("flat")
    try FileManager.default.createDirectory(atPath: flat, withIntermediateDirectories: true)
    let daisy = s.root + "/train/daisy"
    for name in try FileManager.default.contentsOfDirectory(atPath: daisy).sorted().prefix(2) {
      try FileManager.default.createSymbolicLink(atPath: flat + "/" + name, withDestinationPath: daisy + "/" + name)
    }
    let unlabelled = s.dir.path("flat.h5")
    #expect(try runFeatx(["extract", flat, "-o", unlabelled] + Self.extractArgs).status == 0)
    let none = try runFeatx(["evaluate", head, unlabelled])
    #expect(none.status == 1)
    #expect(none.stderr.contains("\(unlabelled): the store has no labels"), "\(none.stderr)")
    #expect(none.stderr.contains("nothing to score against"))

    // A class the head does not know.
    let other = TemporaryDirectory()
    let foreign = try flowerSplitTree(other, parts: [("test", 2)], classes: ["daisy", "sunflowers"])
    let foreignStore = other.path("f.h5")
    #expect(try runFeatx(["extract", foreign, "-o", foreignStore] + Self.extractArgs).status == 0)
    let unknown = try runFeatx(["evaluate", head, foreignStore])
    #expect(unknown.status == 1)
    #expect(
      unknown.stderr.contains("rows of the class(es) sunflowers are not among the 3 classes of \(head)"), "\(unknown.stderr)")
  }
}
