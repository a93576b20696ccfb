// `featx extract` on split folders, end to end on real photos: what it detects and prints, what it
// records, what it refuses; then probe on the store it wrote.

import FeatureStore
import Foundation
import Testing
import TestSupport

/// `root/<part>/<class>/…` as symbolic links into flower_photos_small: for every part, `perClass[part]`
/// images of each of `classes` (consecutive, distinct images across parts).
func flowerSplitTree(
  _ dir: TemporaryDirectory, parts: [(name: String, perClass: Int)], classes: [String] = ["daisy", "dandelion", "roses"],
  only: [String: [String]] = [:]
) throws -> String {
  let root = dir.path("flower_data")
  let flowers = TestPaths.datasets.appendingPathComponent("flower_photos_small").path
  for cls in Set(classes + only.values.flatMap { $0 }).sorted() {
    let names = try FileManager.default.contentsOfDirectory(atPath: flowers + "/" + cls).sorted()
    var next = 0
    for part in parts {
      let inPart = only[part.name].map { $0.contains(cls) } ?? classes.contains(cls)
      guard inPart else { continue }
      try FileManager.default.createDirectory(atPath: "\(root)/\(part.name)/\(cls)", withIntermediateDirectories: true)
      for name in names[next..<(next + part.perClass)] {
        try FileManager.default.createSymbolicLink(
          atPath: "\(root)/\(part.name)/\(cls)/\(name)", withDestinationPath: "\(flowers)/\(cls)/\(name)")
      }
      next += part.perClass
    }
  }
  return root
}

@Suite(
  .serialized,
  .enabled(
    if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("flower_photos_small").path),
    "the shared datasets are not available"))
struct SplitFolderCLITests {
  static let extractArgs = ["--arch", "resnet18", "--weights", "random:0", "--quiet"]

  /// The seed 004 layout: flower_data/train/<class> + flower_data/val/<class> → extract → info → probe.
  @Test func trainValTreeExtractsAndProbes() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 8), ("val", 4)])
    let store = dir.path("flowers.h5")
    let extract = try runFeatx(["extract", root, "-o", store] + Self.extractArgs)
    #expect(extract.status == 0, "\(extract.stderr)")
    #expect(extract.stdout.contains("36 rows (train 24, test 12)"), "\(extract.stdout)")
    #expect(
      extract.stdout.contains("split folders: train/ → train (24 images, 3 classes), val/ → test (12 images, 3 classes)"),
      "\(extract.stdout)")
    #expect(!extract.stdout.contains("classes only in"))

    let s = try FeatureStore(path: store)
    #expect(s.classes == ["daisy", "dandelion", "roses"])
    #expect(s.metadata.splitMode == .folders)
    #expect(s.metadata.splitFolders == SplitFolderRecord(train: "train", test: "val"))
    let paths = try s.paths()
    let split = try s.split()
    let labels = try s.labels()
    for (i, path) in paths.enumerated() {
      let parts = path.split(separator: "/")
      #expect(split[i] == (parts[0] == "train" ? 0 : 1), "\(path)")
      #expect(s.classes[Int(labels[i])] == String(parts[1]), "\(path)")
    }

    let info = try runFeatx(["info", store])
    #expect(info.stdout.contains("split         folders: train/ → train, val/ → test"), "\(info.stdout)")
    let json = try runFeatx(["info", store, "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(object?["split_mode"] as? String == "folders")
    #expect((object?["split_folders"] as? [String: Any])?["test"] as? String == "val")

    let probe = try runFeatx(["probe", store, "-o", dir.path("head.h5"), "--l2", "1e-3", "--quiet", "--json"])
    #expect(probe.status == 0, "\(probe.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any]
    #expect((report?["train"] as? [String: Any])?["rows"] as? Int == 24)
    #expect((report?["test"] as? [String: Any])?["rows"] as? Int == 12)
    #expect(report?["confusion_of"] as? String == "test")
  }

  /// Both val/ and TEST/ (mixed case): val/ is the test part by default, TEST/ is left out and listed;
  /// --test-split test swaps them. A class in only one part is listed.
  @Test func valAndTestAndAClassInOnePart() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(
      dir, parts: [("Train", 4), ("val", 2), ("TEST", 3)], classes: ["daisy", "roses"],
      only: ["Train": ["daisy", "roses", "tulips"], "TEST": ["daisy", "roses", "sunflowers"]])
    let store = dir.path("a.h5")
    let byDefault = try runFeatx(["extract", root, "-o", store] + Self.extractArgs)
    #expect(byDefault.status == 0, "\(byDefault.stderr)")
    #expect(
      byDefault.stdout.contains("Train/ → train (12 images, 3 classes), val/ → test (4 images, 2 classes)"), "\(byDefault.stdout)"
    )
    #expect(byDefault.stdout.contains("TEST/ left out (9 images): val/ is the test part; --test-split test uses TEST/ instead"))
    #expect(byDefault.stdout.contains("classes only in Train/ (no test images): tulips"), "\(byDefault.stdout)")
    #expect(try FeatureStore(path: store).classes == ["daisy", "roses", "tulips"])

    let other = dir.path("b.h5")
    let chosen = try runFeatx(["extract", root, "-o", other, "--test-split", "test"] + Self.extractArgs)
    #expect(chosen.status == 0, "\(chosen.stderr)")
    #expect(chosen.stdout.contains("TEST/ → test (9 images, 3 classes)"), "\(chosen.stdout)")
    #expect(chosen.stdout.contains("val/ left out (4 images)"))
    #expect(chosen.stdout.contains("classes only in Train/ (no test images): tulips"))
    #expect(chosen.stdout.contains("classes only in TEST/ (no train images): sunflowers"))
    let s = try FeatureStore(path: other)
    #expect(s.classes == ["daisy", "roses", "sunflowers", "tulips"])
    #expect(s.metadata.splitFolders == SplitFolderRecord(train: "Train", test: "TEST", leftOut: ["val"]))
    #expect(try s.paths().allSatisfy { !$0.hasPrefix("val/") })
  }

  /// An explicit --split over split folders is refused before any weights or image are read.
  @Test func explicitSplitIsRefused() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 1), ("val", 1)])
    for split in ["0.8", "stratified", "none"] {
      let result = try runFeatx(["extract", root, "-o", dir.path("x.h5"), "--split", split, "--weights", dir.path("no.pth")])
      #expect(result.status == 64, "\(result.stderr)")
      let first = result.stderr.split(separator: "\n").first ?? ""
      #expect(first.contains("--split \(split): \(root) holds the split folders train/, val/"), "\(result.stderr)")
      #expect(!FileManager.default.fileExists(atPath: dir.path("x.h5")))
    }
    // `--split folders` says what the default does; over class folders it is refused at run time.
    #expect(try runFeatx(["extract", root, "-o", dir.path("y.h5"), "--split", "folders"] + Self.extractArgs).status == 0)
    let plain = TemporaryDirectory()
    let classes = try linkedDataset(plain, classes: 2, perClass: 1)
    let noFolders = try runFeatx(["extract", classes, "-o", plain.path("z.h5"), "--split", "folders"] + Self.extractArgs)
    #expect(noFolders.status == 1)
    #expect(noFolders.stderr.contains("\(classes): no split folders"), "\(noFolders.stderr)")
    #expect(noFolders.stderr.contains("choose another --split"))
    let testSplit = try runFeatx(["extract", classes, "-o", plain.path("z.h5"), "--test-split", "test"] + Self.extractArgs)
    #expect(testSplit.status == 64)
    #expect(testSplit.stderr.contains("--test-split test: \(classes) has no split folders"), "\(testSplit.stderr)")
  }

  /// The nested trap and the other bad layouts: one line naming the folder, exit 1, no store.
  @Test func badLayoutsFailOnOneLine() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 2), ("val", 1)], classes: ["daisy"])
    // flower_data/train/train/daisy/…: an archive unpacked one level too deep.
    try FileManager.default.createDirectory(atPath: root + "/train/train", withIntermediateDirectories: true)
    try FileManager.default.moveItem(atPath: root + "/train/daisy", toPath: root + "/train/train/daisy")
    let nested = try runFeatx(["extract", root, "-o", dir.path("n.h5")] + Self.extractArgs)
    #expect(nested.status == 1)
    let lines = nested.stderr.split(separator: "\n").filter { !$0.hasPrefix("WARNING: SEEDED RANDOM") }
    #expect(lines.count == 1, "\(nested.stderr)")
    #expect(lines.first?.contains("\(root)/train/train: a folder named like a split inside the split folder") == true)
    #expect(lines.first?.contains("--list") == true)
    #expect(!FileManager.default.fileExists(atPath: dir.path("n.h5")))

    // Loose images beside the class folders of a split folder.
    try FileManager.default.moveItem(atPath: root + "/train/train/daisy", toPath: root + "/train/daisy")
    try FileManager.default.removeItem(atPath: root + "/train/train")
    let image = try FileManager.default.contentsOfDirectory(atPath: root + "/train/daisy").sorted()[0]
    try FileManager.default.copyItem(atPath: root + "/train/daisy/" + image, toPath: root + "/train/" + image)
    let loose = try runFeatx(["extract", root, "-o", dir.path("l.h5")] + Self.extractArgs)
    #expect(loose.status == 1)
    #expect(loose.stderr.contains("\(root)/train: 1 image(s) (\(image)) lie beside its class folders"), "\(loose.stderr)")
  }
}
