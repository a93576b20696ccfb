// Split folders (`train/<class>/…` beside `val/<class>/…` or `test/<class>/…`): every layout variant the
// walk accepts, and every one it refuses rather than give images a wrong class or part.

import Extract
import FeatureStore
import Foundation
import Testing
import TestSupport

/// A dataset tree of empty files (the walk reads names only): `files` are paths relative to the root.
private func tree(_ dir: TemporaryDirectory, _ files: [String]) throws -> String {
  let root = dir.path("data")
  try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  for file in files {
    let path = root + "/" + file
    if file.hasSuffix("/") {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } else {
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: path, contents: Data())
    }
  }
  return root
}

/// The walk's rows as `path → (class, part)`.
private func rows(_ d: Dataset) -> [String: String] {
  Dictionary(
    uniqueKeysWithValues: d.items.map {
      ($0.relativePath, "\(d.classes[Int($0.label)]):\($0.part == .train ? "train" : $0.part == .test ? "test" : "?")")
    })
}

/// What `folder` throws, as an `ExtractError`.
private func walkError(_ root: String, testSplit: TestSplitChoice? = nil) -> ExtractError? {
  do {
    _ = try DatasetWalk.folder(root, testSplit: testSplit)
    return nil
  } catch {
    return error as? ExtractError
  }
}

@Suite struct SplitFolderTests {
  @Test func trainAndValGiveTheSplitAndTheUnionOfClasses() throws {
    let dir = TemporaryDirectory()
    let root = try tree(
      dir, ["train/roses/b.jpg", "train/daisy/a.jpg", "train/daisy/c.png", "val/daisy/z.jpg", "val/tulips/y.jpg", "notes.txt"])
    let d = try DatasetWalk.folder(root)
    #expect(d.classes == ["daisy", "roses", "tulips"])
    #expect(d.classFolders == ["daisy", "roses", "tulips"])
    // Train first, then test; classes sorted, files sorted inside each.
    #expect(
      d.items.map(\.relativePath) == [
        "train/daisy/a.jpg", "train/daisy/c.png", "train/roses/b.jpg", "val/daisy/z.jpg", "val/tulips/y.jpg",
      ])
    #expect(
      rows(d) == [
        "train/daisy/a.jpg": "daisy:train", "train/daisy/c.png": "daisy:train", "train/roses/b.jpg": "roses:train",
        "val/daisy/z.jpg": "daisy:test", "val/tulips/y.jpg": "tulips:test",
      ])
    let f = try #require(d.splitFolders)
    #expect(f.train?.name == "train" && f.train?.images == 3 && f.train?.classFolders == ["daisy", "roses"])
    #expect(f.test?.name == "val" && f.test?.images == 2)
    #expect(f.leftOut.isEmpty)
    // A class present in only one part is reported, per part.
    #expect(f.onlyInTrain == ["roses"])
    #expect(f.onlyInTest == ["tulips"])
    #expect(f.record == SplitFolderRecord(train: "train", test: "val", leftOut: []))
    #expect(d.ignored.map { "\($0.path): \($0.reason)" } == ["notes.txt: outside any split folder"])
    let parts = try SplitConfig(mode: .folders).assign(d, source: root)
    #expect(parts == [0, 0, 0, 1, 1])
  }

  @Test(arguments: ["test", "valid", "validation", "val"])
  func everyNameOfTheTestPart(name: String) throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["train/a/1.jpg", "train/b/2.jpg", "\(name)/a/3.jpg", "\(name)/b/4.jpg"])
    let d = try DatasetWalk.folder(root)
    #expect(d.splitFolders?.test?.name == name)
    #expect(d.items.filter { $0.part == .test }.map(\.relativePath) == ["\(name)/a/3.jpg", "\(name)/b/4.jpg"])
    #expect(d.classes == ["a", "b"])
  }

  @Test func namesMatchInAnyCase() throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["Train/a/1.jpg", "Train/b/2.jpg", "VALIDATION/a/3.jpg", "VALIDATION/b/4.jpg", "TeSt/a/5.jpg"])
    let d = try DatasetWalk.folder(root)
    let f = try #require(d.splitFolders)
    #expect(f.train?.name == "Train")
    #expect(f.test?.name == "VALIDATION")
    #expect(f.leftOut.map(\.name) == ["TeSt"])
    #expect(rows(d)["Train/a/1.jpg"] == "a:train")
    #expect(rows(d)["VALIDATION/b/4.jpg"] == "b:test")
    #expect(d.items.count == 4)
    #expect(DatasetWalk.splitFolderNames(root) == ["TeSt", "Train", "VALIDATION"])
  }

  @Test func valIsTheTestPartUnlessTestIsChosen() throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["train/a/1.jpg", "train/b/2.jpg", "val/a/3.jpg", "test/a/4.jpg", "test/b/5.jpg", "test/b/6.jpg"])
    let byDefault = try DatasetWalk.folder(root)
    #expect(byDefault.splitFolders?.test?.name == "val")
    #expect(byDefault.splitFolders?.leftOut.map(\.name) == ["test"])
    #expect(byDefault.splitFolders?.leftOut.first?.images == 3)
    #expect(!byDefault.items.contains { $0.relativePath.hasPrefix("test/") })
    // The left-out folder is listed with the ignored files (one entry, not one per image).
    let left = try #require(byDefault.ignored.first { $0.path == "test/" })
    #expect(left.reason.contains("left out (3 images)") && left.reason.contains("val/ is the test part"))
    #expect(try DatasetWalk.folder(root, testSplit: .val).items == byDefault.items)

    let chosen = try DatasetWalk.folder(root, testSplit: .test)
    #expect(chosen.splitFolders?.test?.name == "test")
    #expect(chosen.splitFolders?.leftOut.map(\.name) == ["val"])
    #expect(chosen.items.filter { $0.part == .test }.map(\.relativePath) == ["test/a/4.jpg", "test/b/5.jpg", "test/b/6.jpg"])
    #expect(!chosen.items.contains { $0.relativePath.hasPrefix("val/") })
  }

  @Test func oneSplitFolderAlone() throws {
    let dir = TemporaryDirectory()
    let trainOnly = try tree(dir, ["train/a/1.jpg", "train/b/2.jpg"])
    let t = try DatasetWalk.folder(trainOnly)
    #expect(t.items.allSatisfy { $0.part == .train })
    #expect(t.splitFolders?.test == nil)
    #expect(t.splitFolders?.onlyInTrain == [])
    let other = TemporaryDirectory()
    let testOnly = try tree(other, ["test/a/1.jpg", "test/b/2.jpg"])
    let s = try DatasetWalk.folder(testOnly)
    #expect(s.items.allSatisfy { $0.part == .test })
    #expect(s.splitFolders?.train == nil)
    #expect(s.classes == ["a", "b"])
    // A choice that names a folder the dataset does not have is refused, not ignored.
    #expect(walkError(testOnly, testSplit: .val) == .missingSplitFolder(root: testOnly, wanted: "val", found: ["test"]))
    #expect(walkError(trainOnly, testSplit: .test) != nil)
  }

  @Test func displayOrderAppliesToTheUnion() throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["train/002.Zebra/1.jpg", "train/010.Ant/2.jpg", "val/003.Moth/3.jpg"])
    let d = try DatasetWalk.folder(root, classOrder: .display)
    #expect(d.classes == ["Ant", "Moth", "Zebra"])
    #expect(d.classFolders == ["010.Ant", "003.Moth", "002.Zebra"])
    #expect(
      rows(d) == ["train/002.Zebra/1.jpg": "Zebra:train", "train/010.Ant/2.jpg": "Ant:train", "val/003.Moth/3.jpg": "Moth:test"])
  }

  /// The nested trap: a split folder holding a folder named like a split (an archive unpacked into
  /// `train/`, or `train/val/` by mistake) would otherwise become a class named "train".
  @Test(arguments: ["train", "Val", "test"])
  func nestedSplitFolderIsRefused(inner: String) throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["train/\(inner)/daisy/1.jpg", "train/roses/2.jpg", "val/daisy/3.jpg"])
    let error = walkError(root)
    #expect(error == .nestedSplitFolder(path: root + "/train/\(inner)", parent: root + "/train"))
    #expect(error?.description.contains("pass \(root)/train instead") == true)
  }

  @Test func badLayoutsAreRefusedNamingTheFolder() throws {
    var keep: [TemporaryDirectory] = []
    func make(_ files: [String]) throws -> String {
      let sub = TemporaryDirectory()
      keep.append(sub)
      return try tree(sub, files)
    }

    // Split folders beside class folders.
    let mixed = try make(["train/a/1.jpg", "val/a/2.jpg", "daisy/3.jpg"])
    #expect(walkError(mixed) == .mixedSplitFolders(root: mixed, splitFolders: ["train", "val"], others: ["daisy"]))
    // A class folder named like a split among ordinary classes is just as ambiguous.
    let classNamedTest = try make(["cats/1.jpg", "dogs/2.jpg", "test/3.jpg"])
    #expect(
      walkError(classNamedTest) == .mixedSplitFolders(root: classNamedTest, splitFolders: ["test"], others: ["cats", "dogs"]))
    // Two folders for one part.
    let twoVal = try make(["train/a/1.jpg", "val/a/2.jpg", "validation/a/3.jpg"])
    #expect(walkError(twoVal) == .duplicateSplitFolders(root: twoVal, folders: ["val", "validation"]))
    let twoTrain = try make(["Train/a/1.jpg", "train/a/2.jpg", "val/a/3.jpg"])
    #expect(walkError(twoTrain) == .duplicateSplitFolders(root: twoTrain, folders: ["Train", "train"]))
    // Split folders of loose images (no class folders): once silently two classes named train and val.
    let flat = try make(["train/1.jpg", "train/2.jpg", "val/3.jpg"])
    #expect(walkError(flat) == .splitFolderWithoutClasses(folder: flat + "/train", images: 2))
    let empty = try make(["train/a/1.jpg", "val/"])
    #expect(walkError(empty) == .splitFolderWithoutClasses(folder: empty + "/val", images: 0))
    // Images beside the class folders of a split folder.
    let loose = try make(["train/a/1.jpg", "train/x.jpg", "train/y.png", "train/readme.md", "val/a/2.jpg"])
    #expect(walkError(loose) == .looseImages(folder: loose + "/train", count: 2, first: "x.jpg"))
    // Non-images and hidden files beside class folders are only ignored.
    let notes = try make(["train/a/1.jpg", "train/readme.md", "train/.DS_Store", "val/a/2.jpg"])
    let d = try DatasetWalk.folder(notes)
    #expect(Set(d.ignored.map(\.path)) == ["train/readme.md", "train/.DS_Store"])
    #expect(d.items.count == 2)

    for root in [mixed, classNamedTest, twoVal, twoTrain, flat, empty, loose] {
      let text = try #require(walkError(root)).description
      #expect(!text.contains("\n"), "\(text)")
      #expect(text.hasPrefix(root), "\(text)")
      #expect(!text.contains("--"), "a library error names no option: \(text)")
    }
  }

  @Test func computedSplitsAreRefusedOverSplitFolders() throws {
    let dir = TemporaryDirectory()
    let root = try tree(dir, ["train/a/1.jpg", "train/b/2.jpg", "val/a/3.jpg", "test/b/4.jpg"])
    let d = try DatasetWalk.folder(root)
    for mode in [SplitMode.random, .stratified, .none] {
      #expect(throws: ExtractError.splitOverSplitFolders(root: root, folders: ["train", "val", "test"], mode: mode)) {
        try SplitConfig(mode: mode).assign(d, source: root)
      }
    }
    let other = TemporaryDirectory()
    let classes = try tree(other, ["a/1.jpg", "b/2.jpg"])
    #expect(throws: ExtractError.noSplitFolders(root: classes)) {
      try SplitConfig(mode: .folders).assign(try DatasetWalk.folder(classes), source: classes)
    }
    #expect(DatasetWalk.splitFolderNames(classes).isEmpty)
    // A plain ImageFolder dataset walks as before: no parts, no split folders.
    let plain = try DatasetWalk.folder(classes)
    #expect(plain.splitFolders == nil && plain.items.allSatisfy { $0.part == nil })
  }

  /// The extractor writes the folders' parts, `split_mode = folders` and the `split_folders` record.
  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("flower_photos_small").path),
      "the shared datasets are not available"))
  func extractorRecordsTheFolders() throws {
    let dir = TemporaryDirectory()
    let root = dir.path("flowers")
    let flowers = TestPaths.datasets.appendingPathComponent("flower_photos_small").path
    for (part, range) in [("train", 0..<3), ("Val", 3..<5)] {
      for cls in ["daisy", "roses"] {
        let names = try FileManager.default.contentsOfDirectory(atPath: flowers + "/" + cls).sorted()
        try FileManager.default.createDirectory(atPath: "\(root)/\(part)/\(cls)", withIntermediateDirectories: true)
        for name in names[range] {
          try FileManager.default.createSymbolicLink(
            atPath: "\(root)/\(part)/\(cls)/\(name)", withDestinationPath: "\(flowers)/\(cls)/\(name)")
        }
      }
    }
    var options = ExtractOptions(
      root: root, output: dir.path("f.h5"), preprocessing: .imagenet, split: SplitConfig(mode: .folders))
    options.batchSize = 4
    let summary = try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    #expect(summary.train == 6 && summary.test == 4)
    #expect(summary.splitFolders?.test?.name == "Val")
    let store = try FeatureStore(path: dir.path("f.h5"))
    #expect(store.metadata.splitMode == .folders)
    #expect(store.metadata.splitFolders == SplitFolderRecord(train: "train", test: "Val"))
    #expect(abs(store.metadata.splitRatio - 0.6) < 1e-12)
    let paths = try store.paths()
    let split = try store.split()
    #expect(zip(paths, split).allSatisfy { ($0.hasPrefix("train/") ? 0 : 1) == $1 })
    #expect(store.classes == ["daisy", "roses"])
    // Resuming the finished store with the same options is a no-op; a random split over it is refused.
    #expect(try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run().alreadyComplete)
    options.split = SplitConfig(mode: .random)
    #expect(throws: ExtractError.self) {
      try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    }
  }
}
