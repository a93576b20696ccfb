import FeatureStore
import Foundation
import Testing
import TestSupport

@Suite struct InfoCommandTests {
  func makeStore(_ dir: TemporaryDirectory) throws -> String {
    let path = dir.path("birds.h5")
    let rows = StoreRows(
      classes: ["Black_footed_Albatross", "Groove_billed_Ani"],
      classFolders: ["001.Black_footed_Albatross", "004.Groove_billed_Ani"],
      paths: [
        "001.Black_footed_Albatross/0000.jpg", "001.Black_footed_Albatross/0001.jpg", "004.Groove_billed_Ani/0000.jpg",
        "004.Groove_billed_Ani/ü 1.jpg",
      ],
      labels: [0, 0, 1, 1], split: [0, 1, 0, 0])
    let metadata = StoreMetadata(
      featxVersion: "0.1.0", arch: "densenet121", weightsFile: "random:0", weightsSHA256: "random:0", layer: "features",
      pooling: "flatten", preprocess: #"{"preset":"seed"}"#, splitMode: .random, splitSeed: 2021, splitRatio: 0.8,
      created: "2026-11-23T10:00:00Z", source: "/data/birds", featureShape: [4, 1, 1], datasetRows: 4)
    let writer = try FeatureStoreWriter.create(path: path, metadata: metadata, rows: rows, dtype: .float32)
    try [Float](repeating: 0.5, count: 16).withUnsafeBufferPointer {
      try writer.commit(count: 4, values: $0, skipped: [false, false, false, true])
    }
    try writer.finish(skipReasons: [3: "truncated JPEG"])
    return path
  }

  @Test func humanSummary() throws {
    let dir = TemporaryDirectory()
    let path = try makeStore(dir)
    let result = try runFeatx(["info", path])
    #expect(result.status == 0, "\(result.stderr)")
    let text = result.stdout
    #expect(text.contains("status        complete"))
    #expect(text.contains("rows          3 (train 2, test 1)"))
    #expect(text.contains("4 values per row, float32, feature_shape [4, 1, 1]"))
    #expect(text.contains("densenet121, layer features, pooling flatten"))
    #expect(text.contains("SEEDED RANDOM WEIGHTS"))
    #expect(text.contains("random, ratio 0.8, seed 2021"))
    #expect(text.contains("004.Groove_billed_Ani/ü 1.jpg: truncated JPEG"))
    #expect(text.contains("      0  Black_footed_Albatross      2      1      1"))
    #expect(text.contains("      1  Groove_billed_Ani           1      1      0"))
  }

  @Test func jsonSummary() throws {
    let dir = TemporaryDirectory()
    let path = try makeStore(dir)
    let result = try runFeatx(["info", "--json", path])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    #expect(object?["rows"] as? Int == 3)
    #expect(object?["dimension"] as? Int == 4)
    #expect(object?["arch"] as? String == "densenet121")
    #expect(object?["complete"] as? Bool == true)
    #expect(object?["random_weights"] as? Bool == true)
    #expect(object?["train"] as? Int == 2)
    #expect(object?["feature_shape"] as? [Int] == [4, 1, 1])
    let classes = object?["classes"] as? [[String: Any]]
    #expect(classes?.map { $0["folder"] as? String } == ["001.Black_footed_Albatross", "004.Groove_billed_Ani"])
    #expect((object?["skipped"] as? [String: String])?["004.Groove_billed_Ani/ü 1.jpg"] == "truncated JPEG")
  }

  @Test(arguments: ["missing", "text", "foreign"])
  func badInputIsOneLineAndNonZero(kind: String) throws {
    let dir = TemporaryDirectory()
    let path = dir.path("\(kind).h5")
    switch kind {
    case "text": try "not hdf5".write(toFile: path, atomically: true, encoding: .utf8)
    case "foreign": _ = try runCommand("/bin/cp", [try makeStore(dir), path]); try corruptFormatTag(path)
    default: break
    }
    let result = try runFeatx(["info", path])
    #expect(result.status != 0)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "stderr: \(result.stderr)")
    #expect(result.stderr.contains(path))
    #expect(result.stdout.isEmpty)
  }

  /// Rewrites the `format` attribute's value bytes so the file is valid HDF5 of another format.
  func corruptFormatTag(_ path: String) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    let needle = Data("featx-features".utf8)
    guard let range = data.range(of: needle) else { throw CocoaError(.fileReadCorruptFile) }
    data.replaceSubrange(range, with: Data("other-features".utf8))
    try data.write(to: URL(fileURLWithPath: path))
  }

  @Test func versionAndHelp() throws {
    #expect(try runFeatx(["--version"]).stdout == "0.1.0\n")
    let help = try runFeatx(["--help"]).stdout
    #expect(help.contains("USAGE: featx <subcommand>"))
    #expect(help.contains("info"))
  }
}
