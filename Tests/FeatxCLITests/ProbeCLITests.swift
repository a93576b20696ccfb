import Backbones
import FeatureStore
import Foundation
import HDF5
import Testing
import TestSupport
import Weights

@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct ProbeCLITests {
  static let extractArgs = ["--arch", "resnet18", "--weights", "random:0", "--quiet"]

  /// extract → probe → predict: a training image comes back as its own class, in every output format.
  @Test func extractProbePredictRoundTrip() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 3, perClass: 8)
    let store = dir.path("f.h5")
    #expect(try runFeatx(["extract", root, "-o", store, "--split", "0.75"] + Self.extractArgs).status == 0)
    let head = dir.path("head.h5")
    let probe = try runFeatx(["probe", store, "-o", head, "--l2", "1e-4", "--standardize", "--plot", dir.path("plots")])
    #expect(probe.status == 0, "\(probe.stderr)")
    let trainLine = probe.stdout.split(separator: "\n").first { $0.hasPrefix("train ") } ?? ""
    #expect(trainLine.split(separator: " ").prefix(3) == ["train", "18", "1.0000"], "\(probe.stdout)")
    #expect(probe.stdout.contains("wrote \(head)"))
    for picture in ["loss", "accuracy", "confusion"] {
      #expect(FileManager.default.fileExists(atPath: dir.path("plots/\(picture).svg")), "no \(picture).svg")
    }
    let summary = try FeatureStore(path: store)
    let paths = try summary.paths()
    let labels = try summary.labels()
    let split = try summary.split()
    let trainRow = try #require(split.firstIndex(of: 0))
    let image = root + "/" + paths[trainRow]
    let expected = summary.classes[Int(labels[trainRow])]

    let text = try runFeatx(["predict", head, image, "--top-k", "2"])
    #expect(text.status == 0, "\(text.stderr)")
    let lines = text.stdout.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[1].hasSuffix(expected), "\(text.stdout)")

    let csv = try runFeatx(["predict", head, root + "/" + paths[0].split(separator: "/")[0], "--format", "csv", "--top-k", "0"])
    #expect(csv.status == 0)
    let rows = csv.stdout.split(separator: "\n")
    #expect(rows[0] == "path,error,class1,probability1,class2,probability2,class3,probability3")
    #expect(rows.count == 1 + 8)

    let json = try runFeatx(["predict", head, image, "--format", "json", "--top-k", "0"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
    let predictions = try #require(object?.first?["predictions"] as? [[String: Any]])
    #expect(predictions.count == 3)
    let total = predictions.compactMap { $0["probability"] as? Double }.reduce(0, +)
    #expect(abs(total - 1) < 1e-4)
    #expect(predictions.first?["class"] as? String == expected)
  }

  @Test func predictRefusesOtherWeightsAndMissingFiles() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 4)
    let store = dir.path("f.h5")
    #expect(try runFeatx(["extract", root, "-o", store, "--split", "0.5"] + Self.extractArgs).status == 0)
    let head = dir.path("head.h5")
    #expect(try runFeatx(["probe", store, "-o", head, "--l2", "1e-3", "--quiet"]).status == 0)
    let image = root + "/" + (try FeatureStore(path: store).paths()[0])

    let other = dir.path("other-resnet18.safetensors")
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 1), to: other)
    let mismatch = try runFeatx(["predict", head, image, "--weights", other])
    #expect(mismatch.status != 0)
    #expect(mismatch.stderr.contains("has sha256"), "\(mismatch.stderr)")
    #expect(mismatch.stderr.contains("--weights"))

    // A head whose features came from a torchvision file that is nowhere to be found, offline.
    let copied = dir.path("head-real.h5")
    try FileManager.default.copyItem(atPath: head, toPath: copied)
    do {
      let file = try H5File(path: copied, mode: .readWrite)
      try file.root().attributes.set("weights_file", .string("resnet18-f37072fd.pth"))
      try file.root().attributes.set(
        "weights_sha256", .string("f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"))
    }
    let missing = try runFeatx(
      ["predict", copied, image], environment: ["TORCH_HOME": dir.path("torch"), "FEATX_WEIGHTS_URL": "http://127.0.0.1:9/"])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains("resnet18-f37072fd.pth"), "\(missing.stderr)")
    #expect(missing.stderr.split(separator: "\n").count == 1)

    // A head whose recorded layer gives features of another size than its weights expect.
    let wrongLayer = dir.path("head-layer.h5")
    try FileManager.default.copyItem(atPath: head, toPath: wrongLayer)
    do {
      let file = try H5File(path: wrongLayer, mode: .readWrite)
      try file.root().attributes.set("layer", .string("layer3"))
      try file.root().attributes.set("pooling", .string("avg"))
    }
    let dims = try runFeatx(["predict", wrongLayer, image])
    #expect(dims.status != 0)
    #expect(dims.stderr.contains("expects 512 features per image, but the backbone produced 256"), "\(dims.stderr)")

    let unreadable = try runFeatx(["predict", head, dir.path("none.jpg")])
    #expect(unreadable.status != 0)
    #expect(unreadable.stderr.contains("none.jpg"))
  }

  @Test func probeRefusesBadStores() throws {
    let dir = TemporaryDirectory()
    func store(_ name: String, labels: [Int64], split: [UInt8], values: [Float]) throws -> String {
      try BadInputTests.store(dir.path(name), labels: labels, split: split, classes: ["a", "b"], values: values)
    }
    let values: [Float] = [1, 0, 0, 1, 1, 1, 0, 0]
    let noTrain = try store("notrain.h5", labels: [0, 1, 0, 1], split: [1, 1, 1, 1], values: values)
    let oneClass = try store("oneclass.h5", labels: [0, 0, 0, 1], split: [0, 0, 0, 1], values: values)
    let nan = try store("nan.h5", labels: [0, 1, 0, 1], split: [0, 0, 0, 0], values: [1, 0, 0, .nan, 1, 1, 0, 0])
    for (path, text) in [(noTrain, "no labelled rows with split = train"), (oneClass, "1 class"), (nan, "row 1 (img1.jpg)")] {
      let result = try runFeatx(["probe", path, "-o", dir.path("h.h5")])
      #expect(result.status != 0)
      #expect(result.stderr.contains(text), "\(result.stderr)")
      #expect(result.stderr.contains(path))
      #expect(!FileManager.default.fileExists(atPath: dir.path("h.h5")))
    }
    // The seed recipe with --json: stdout is one JSON document, the seed's epoch lines go to stderr.
    let good = try store("good.h5", labels: [0, 1, 0, 1], split: [0, 0, 1, 1], values: values)
    let seed = try runFeatx(["probe", good, "-o", dir.path("h.h5"), "--recipe", "seed", "--epochs", "2", "--json"])
    #expect(seed.status == 0, "\(seed.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(seed.stdout.utf8)) as? [String: Any]
    #expect((report?["history"] as? [Any])?.count == 2)
    #expect(seed.stderr.contains("epoch: 1  ;loss: "), "\(seed.stderr)")
  }
}

/// Real photos, real featx features (densenet121 on seeded random weights), against scikit-learn on the
/// same features (Fixtures/probe/flowers_sklearn.json, made by tools/make_probe_real_reference.py).
@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct RealDataProbeTests {
  struct Reference: Decodable {
    struct Pool: Decodable {
      var default_C_test_accuracy: Double
      var best_test_accuracy: Double
      var test_rows: Int
    }
    var pools: [String: Pool]
  }

  @Test(arguments: ["flatten", "avg"])
  func defaultSolverReachesScikitLearnsAccuracy(pool: String) throws {
    let reference = try JSONDecoder().decode(
      Reference.self, from: Data(contentsOf: TestPaths.fixture("probe/flowers_sklearn.json")))
    let expected = try #require(reference.pools[pool])
    let dir = TemporaryDirectory()
    let store = dir.path("flowers.h5")
    let dataset = TestPaths.datasets.appendingPathComponent("flower_photos_small").path
    let extract = try runFeatx([
      "extract", dataset, "-o", store, "--arch", "densenet121", "--weights", "random:0", "--pool", pool, "--quiet",
    ])
    #expect(extract.status == 0, "\(extract.stderr)")
    let probe = try runFeatx(["probe", store, "-o", dir.path("head.h5"), "--json", "--quiet"])
    #expect(probe.status == 0, "\(probe.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any]
    let test = try #require(report?["test"] as? [String: Any])
    let accuracy = try #require(test["top1"] as? Double)
    // Within one test image of sklearn (features differ in the last bits between AVX2 and AVX-512 machines).
    let slack = 1.0 / Double(expected.test_rows) + 1e-9
    #expect(
      accuracy >= expected.default_C_test_accuracy - slack,
      "featx \(accuracy) vs sklearn (C=1) \(expected.default_C_test_accuracy)")
    #expect(
      accuracy >= expected.best_test_accuracy - 2 * slack, "featx \(accuracy) vs sklearn's best C \(expected.best_test_accuracy)")
  }
}
