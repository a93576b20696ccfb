import Backbones
import Extract
import Images
import FeatureStore
import Foundation
import Support
import Testing
import TestSupport
import Weights

/// A small, fast backbone for pipeline tests (what is stored matters here, not the features).
func smallBackbone(threads: Int = 2) throws -> Backbone {
  let config = ArchitectureConfig.resNet(ResNet.Config(block: .basic, layers: [1, 1, 1, 1], planes: [16, 16, 32, 32]))
  return try Backbone(
    name: "resnet-small", config: config, weights: RandomWeights.stateDict(config: config, seed: 3), threads: threads)
}

/// Builds a temporary ImageFolder dataset from files of the shared datasets (symbolic links) plus extra files.
func makeDataset(_ dir: TemporaryDirectory, classes: [String: [String]], extra: [String: [UInt8]] = [:]) throws -> String {
  let root = dir.path("dataset")
  for (name, sources) in classes {
    try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
    for (i, source) in sources.enumerated() {
      let ext = (source as NSString).pathExtension
      try FileManager.default.createSymbolicLink(
        atPath: root + "/\(name)/img\(i).\(ext)", withDestinationPath: TestPaths.datasets.appendingPathComponent(source).path)
    }
  }
  for (path, bytes) in extra {
    try FileManager.default.createDirectory(
      atPath: (root + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + path))
  }
  return root
}

/// The first `n` images of a shared-dataset class folder, as paths relative to the datasets root.
func sharedImages(_ folder: String, _ n: Int) throws -> [String] {
  let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.datasets.appendingPathComponent(folder).path).sorted()
  return names.prefix(n).map { "\(folder)/\($0)" }
}

@Suite(
  .parityLog,
  .enabled(
    if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("cub_birds50").path),
    "the shared datasets are not available"))
struct ExtractPipelineTests {
  /// `featx extract`'s pipeline (decode, PIL resize, ToTensor/Normalize, backbone) on real photos of both
  /// datasets against torchvision + PIL features of the same seeded random networks.
  @Test(arguments: ["densenet121", "resnet18"])
  func endToEndMatchesTorchvision(arch: String) throws {
    let dir = TemporaryDirectory()
    let reference = try Checkpoint.load(path: TestPaths.fixture("backbones/full_reference.safetensors").path)
    let images = [
      "cub_birds50/001.Black_footed_Albatross/0000.jpg", "cub_birds50/047.American_Goldfinch/0000.jpg",
      "flower_photos_small/roses/269037241_07fceff56a_m.jpg", "flower_photos_small/daisy/173350276_02817aa8d5.jpg",
    ]
    let list = dir.path("list.csv")
    try (["path,label"] + images.map { "\($0),\($0.split(separator: "/")[1])" }).joined(separator: "\n")
      .write(toFile: list, atomically: true, encoding: .utf8)
    let architecture = try Architecture.named(arch)
    let backbone = try Backbone(
      arch: architecture, weights: RandomWeights.stateDict(config: architecture.config, seed: 0), threads: 2)
    var options = ExtractOptions(
      root: TestPaths.datasets.path, output: dir.path("out.h5"), preprocessing: arch == "densenet121" ? .seed : .imagenet,
      split: SplitConfig(mode: .none))
    options.listFile = list
    _ = try Extractor(options: options, backbone: backbone, weightsName: "random:0").run()
    let store = try FeatureStore(path: dir.path("out.h5"))
    // The list's rows are in file order; the reference is in the same image order.
    #expect(try store.paths() == images)
    let features = try store.allFeatures()
    if arch == "densenet121" {
      let positions = try #require(reference.tensors["densenet121.features.positions"]?.integers).map { Int($0) }
      let picked = (0..<4).flatMap { image in positions.map { features[image * 50176 + $0] } }
      let report = ParityReport(
        actual: picked, reference: reference.tensors["densenet121.features.values"]!.values, rows: 4,
        label: "densenet121 features")
      #expect(report.passes(), "\(report)")
    } else {
      let report = ParityReport(
        actual: features, reference: reference.tensors["resnet18.avgpool"]!.values, rows: 4, label: "resnet18 avgpool")
      #expect(report.passes(), "\(report)")
    }
    #expect(store.metadata.preprocess == (arch == "densenet121" ? Preprocessing.seed : Preprocessing.imagenet).json)
    #expect(store.metadata.weightsSHA256 == "random:0")
  }

  @Test func unreadableFilesAreSkippedWithReasonsAndOthersIgnored() throws {
    let dir = TemporaryDirectory()
    let good = try Data(contentsOf: TestPaths.fixture("images/src/jpeg_420.jpg"))
    let root = try makeDataset(
      dir,
      classes: [
        "a": try sharedImages("cub_birds50/001.Black_footed_Albatross", 3),
        "b": try sharedImages("cub_birds50/004.Groove_billed_Ani", 2),
      ],
      extra: [
        "a/zero.jpg": [], "a/truncated.jpg": Array(good.prefix(good.count / 2)), "a/text.png": Array("hello".utf8),
        "a/notes.txt": Array("n".utf8), "a/.hidden.jpg": Array(good), "b/sub/nested.jpg": Array(good),
      ])
    var options = ExtractOptions(root: root, output: dir.path("f.h5"), preprocessing: .seed, split: SplitConfig(mode: .none))
    options.batchSize = 3
    let summary = try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    #expect(summary.rows == 6)
    #expect(summary.skipped.map(\.path).sorted() == ["a/text.png", "a/truncated.jpg", "a/zero.jpg"])
    #expect(summary.skipped.first { $0.path == "a/zero.jpg" }?.reason == "empty file (0 bytes)")
    #expect(summary.skipped.first { $0.path == "a/truncated.jpg" }?.reason.hasPrefix("truncated image") == true)
    #expect(Set(summary.ignored.map(\.path)) == ["a/notes.txt", "a/.hidden.jpg"])
    let store = try FeatureStore(path: dir.path("f.h5"))
    #expect(try store.paths() == ["a/img0.jpg", "a/img1.jpg", "a/img2.jpg", "b/img0.jpg", "b/img1.jpg", "b/sub/nested.jpg"])
    #expect(try store.skipped().count == 3)
    #expect(try store.labels() == [0, 0, 0, 1, 1, 1])

    options.output = dir.path("strict.h5")
    options.strict = true
    #expect(throws: ExtractError.self) {
      try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    }
  }

  /// Same rows, however the work is batched and threaded: a resumed or sharded store equals one run.
  @Test func featuresDoNotDependOnBatchingOrThreads() throws {
    let dir = TemporaryDirectory()
    let root = try makeDataset(dir, classes: ["x": try sharedImages("flower_photos_small/tulips", 7)])
    var outputs: [[Float]] = []
    for (batch, threads) in [(1, 1), (3, 2), (7, 2)] {
      var options = ExtractOptions(
        root: root, output: dir.path("b\(batch).h5"), preprocessing: .imagenet, split: SplitConfig(mode: .none))
      options.batchSize = batch
      _ = try Extractor(options: options, backbone: try smallBackbone(threads: threads), weightsName: "random:3").run()
      outputs.append(try FeatureStore(path: options.output).allFeatures())
    }
    #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern))
    #expect(outputs[0].map(\.bitPattern) == outputs[2].map(\.bitPattern))
  }

  /// Under `.perImage` a ResNet runs 8 images per execution and pads a smaller call: the pipeline decodes
  /// and runs whole groups (--batch 1 used to compute 8 images per image), yet still hands its caller
  /// `batchSize` rows at a time, in order, with the same rows a batch of 32 gives.
  @Test func smallBatchesRunWholeGroupsAndKeepTheirGranularity() throws {
    let backbone = try smallBackbone()
    #expect(try backbone.imagesPerRun(height: 224, width: 224) == 8)
    let paths = try sharedImages("flower_photos_small/tulips", 11).map { TestPaths.datasets.appendingPathComponent($0).path }
    var pipeline = FeaturePipeline(backbone: backbone, preprocessing: .imagenet)
    pipeline.parallelism = .perImage
    func rows(batch: Int) throws -> (ranges: [Range<Int>], features: [Float]) {
      var ranges: [Range<Int>] = []
      var features: [Float] = []
      try pipeline.run(paths, from: 1, batchSize: batch) { decoded, rows in
        ranges.append(decoded.range)
        #expect(decoded.tensors.count == decoded.range.count * 3 * 224 * 224)
        features += rows
        return true
      }
      return (ranges, features)
    }
    let three = try rows(batch: 3)
    #expect(three.ranges == [1..<4, 4..<7, 7..<10, 10..<11])
    #expect(three.features.map(\.bitPattern) == (try rows(batch: 32)).features.map(\.bitPattern))
    var seen: [Range<Int>] = []
    try pipeline.run(paths, batchSize: 2) { decoded, _ in
      seen.append(decoded.range)
      return seen.count < 2
    }
    #expect(seen == [0..<2, 2..<4], "a stop after a batch is a stop after that batch, inside a group")
  }

  @Test func resumeRefusesAnotherConfiguration() throws {
    let dir = TemporaryDirectory()
    let root = try makeDataset(dir, classes: ["x": try sharedImages("flower_photos_small/daisy", 3)])
    let options = ExtractOptions(root: root, output: dir.path("f.h5"), preprocessing: .seed, split: SplitConfig(mode: .none))
    _ = try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    let again = try Extractor(options: options, backbone: try smallBackbone(), weightsName: "random:3").run()
    #expect(again.alreadyComplete)
    var other = options
    other.preprocessing = .imagenet
    do {
      _ = try Extractor(options: other, backbone: try smallBackbone(), weightsName: "random:3").run()
      Issue.record("a store with another preprocessing was reused")
    } catch {
      #expect(String(describing: error).contains("another configuration"))
      guard case ExtractError.outputExists = error else { Issue.record("not outputExists: \(error)"); return }
    }
    other.overwrite = true
    #expect(try Extractor(options: other, backbone: try smallBackbone(), weightsName: "random:3").run().rows == 3)
  }
}

@Suite struct DatasetWalkTests {
  @Test func imageFolderOrderDisplayNamesAndIgnoredFiles() throws {
    let dir = TemporaryDirectory()
    let root = dir.path("d")
    for path in [
      "002.Zebra_Finch/b.JPG", "002.Zebra_Finch/a.png", "002.Zebra_Finch/sub/0.jpg", "002.Zebra_Finch/z.jpeg",
      "001.Ant_Bird/x.jpg", "001.Ant_Bird/readme.md", "001.Ant_Bird/pic.bmp", "001.Ant_Bird/.DS_Store", "loose.jpg",
    ] {
      try FileManager.default.createDirectory(
        atPath: (root + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: root + "/" + path, contents: Data([1]))
    }
    let d = try DatasetWalk.folder(root)
    #expect(d.classFolders == ["001.Ant_Bird", "002.Zebra_Finch"])
    #expect(d.classes == ["Ant_Bird", "Zebra_Finch"])
    // torchvision: per folder (sorted), then file names sorted (code points: uppercase before lowercase).
    #expect(
      d.items.map(\.relativePath) == [
        "001.Ant_Bird/x.jpg", "002.Zebra_Finch/a.png", "002.Zebra_Finch/b.JPG", "002.Zebra_Finch/z.jpeg",
        "002.Zebra_Finch/sub/0.jpg",
      ])
    #expect(d.items.map(\.label) == [0, 1, 1, 1, 1])
    let ignored = Dictionary(uniqueKeysWithValues: d.ignored.map { ($0.path, $0.reason) })
    #expect(ignored["001.Ant_Bird/readme.md"]?.hasPrefix("not an image") == true)
    #expect(ignored["001.Ant_Bird/pic.bmp"]?.hasPrefix("unsupported image format") == true)
    #expect(ignored["001.Ant_Bird/.DS_Store"] == "hidden")
    #expect(ignored["loose.jpg"] == "outside any class folder")

    let byDisplay = try DatasetWalk.folder(root, classOrder: .display)
    #expect(byDisplay.classes == ["Ant_Bird", "Zebra_Finch"])
    #expect(DatasetWalk.displayName("001.Black_footed_Albatross") == "Black_footed_Albatross")
    #expect(DatasetWalk.displayName("daisy") == "daisy")
    #expect(DatasetWalk.displayName("v1.2") == "v1.2")
  }

  @Test func symbolicLinkLoopEnds() throws {
    let dir = TemporaryDirectory()
    let root = dir.path("d")
    try FileManager.default.createDirectory(atPath: root + "/cls/deeper", withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: root + "/cls/a.jpg", contents: Data([1]))
    try FileManager.default.createSymbolicLink(atPath: root + "/cls/deeper/back", withDestinationPath: root + "/cls")
    try FileManager.default.createSymbolicLink(atPath: root + "/cls/self.jpg", withDestinationPath: root + "/cls/self.jpg")
    let d = try DatasetWalk.folder(root)
    #expect(d.items.map(\.relativePath) == ["cls/a.jpg"])
    #expect(d.ignored.contains { $0.path == "cls/deeper/back" && $0.reason.contains("loop") })
    #expect(d.ignored.contains { $0.path == "cls/self.jpg" && $0.reason.contains("loop") })
  }

  @Test func flatFolderAndListFile() throws {
    let dir = TemporaryDirectory()
    let root = dir.path("flat")
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    for name in ["b.jpg", "a.png", "c.txt"] { _ = FileManager.default.createFile(atPath: root + "/" + name, contents: Data([1])) }
    let flat = try DatasetWalk.folder(root)
    #expect(flat.classes.isEmpty)
    #expect(flat.items == [DatasetItem(relativePath: "a.png", label: -1), DatasetItem(relativePath: "b.jpg", label: -1)])
    let list = dir.path("l.csv")
    try "path,label\nb.jpg,dog\n\"a, b.png\",cat\na.png,dog\n".write(toFile: list, atomically: true, encoding: .utf8)
    let listed = try DatasetWalk.list(list, root: root)
    #expect(listed.classes == ["cat", "dog"])
    #expect(listed.items.map(\.relativePath) == ["b.jpg", "a, b.png", "a.png"])
    #expect(listed.items.map(\.label) == [1, 0, 1])
  }
}

@Suite struct SplitTests {
  @Test func randomIsTheBirdWorkflowsPermutation() {
    // np.random.seed(2021); np.random.permutation(10) == [6 7 2 3 9 8 0 1 5 4]; first int(10*0.8) = 8 train, rows 5 and 4 test.
    let parts = SplitConfig(mode: .random, ratio: 0.8, seed: 2021).assign(labels: [Int64](repeating: 0, count: 10))
    #expect(parts == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
  }

  @Test func stratifiedKeepsTheRatioPerClass() {
    let labels = (0..<300).map { Int64($0 % 3 == 0 ? 0 : ($0 % 3 == 1 ? 1 : 2)) } + [Int64](repeating: 1, count: 50)
    let parts = SplitConfig(mode: .stratified, ratio: 0.7, seed: 5).assign(labels: labels)
    for c: Int64 in 0...2 {
      let rows = labels.indices.filter { labels[$0] == c }
      let train = rows.filter { parts[$0] == 0 }.count
      #expect(train == Int(Double(rows.count) * 0.7))
    }
    #expect(SplitConfig(mode: .stratified, ratio: 0.7, seed: 5).assign(labels: labels) == parts)
    #expect(SplitConfig(mode: .stratified, ratio: 0.7, seed: 6).assign(labels: labels) != parts)
    #expect(SplitConfig(mode: .none).assign(labels: labels).allSatisfy { $0 == 0 })
  }
}
