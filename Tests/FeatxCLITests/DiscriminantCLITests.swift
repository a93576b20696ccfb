import FeatureStore
import Foundation
import Testing
import TestSupport

/// `featx probe` on a store that does not fit in memory: the default turns to the linear discriminant
/// (one pass over the file), says so, and learns what `--recipe lda` learns from rows in memory.
@Suite struct DiscriminantCLITests {
  /// `n` rows of `d` features, `c` Gaussian classes, 80/20 split (by default 75 rows per feature).
  static func writeStore(_ path: String, rows n: Int = 600, dimension d: Int = 8, classes c: Int = 4) throws {
    var rng = SplitMix64(state: 11)
    let means = (0..<(c * d)).map { _ in Float.random(in: -1...1, using: &rng) }
    let labels = (0..<n).map { _ in Int64.random(in: 0..<Int64(c), using: &rng) }
    let split = (0..<n).map { $0 % 5 == 4 ? UInt8(1) : 0 }
    let metadata = StoreMetadata(
      featxVersion: "test", arch: "resnet18", weightsFile: "random:0", weightsSHA256: "random:0", layer: "avgpool",
      pooling: "flatten", preprocess: "{}", splitMode: .random, splitSeed: 0, splitRatio: 0.8, created: "", source: "",
      featureShape: [d], datasetRows: n)
    let rows = StoreRows(
      classes: (0..<c).map { "c\($0)" }, classFolders: (0..<c).map { "c\($0)" }, paths: (0..<n).map { "\($0).jpg" },
      labels: labels, split: split)
    try FeatureStoreWriter.writeComplete(path: path, metadata: metadata, rows: rows, dtype: .float16, skipped: []) {
      range, buffer in
      for (i, row) in range.enumerated() {
        for j in 0..<d {
          buffer[i * d + j] = means[Int(labels[row]) * d + j] + Float.random(in: -1...1, using: &rng)
        }
      }
    }
  }

  @Test func aStreamedStoreGetsTheDiscriminant() throws {
    let dir = TemporaryDirectory()
    let store = dir.path("s.h5")
    try Self.writeStore(store)
    let streamed = try runFeatx(["probe", store, "-o", dir.path("a.h5"), "--max-memory", "1K", "--json"])
    #expect(streamed.status == 0, "\(streamed.stderr)")
    #expect(streamed.stderr.contains("(streamed from the file)"), "\(streamed.stderr)")
    #expect(streamed.stderr.contains("fitting a linear discriminant"), "\(streamed.stderr)")
    #expect(streamed.stderr.contains("class means: 480 of 480 rows (100%)"), "\(streamed.stderr)")
    let inMemory = try runFeatx(["probe", store, "-o", dir.path("b.h5"), "--recipe", "lda", "--json"])
    #expect(inMemory.status == 0, "\(inMemory.stderr)")
    #expect(!inMemory.stderr.contains("streamed"), "\(inMemory.stderr)")
    func accuracy(_ json: String) throws -> Double {
      let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
      let test = try #require(report["test"] as? [String: Any], "\(report.keys)")
      return try #require(test["top1"] as? Double)
    }
    let (a, b) = (try accuracy(streamed.stdout), try accuracy(inMemory.stdout))
    #expect(a == b && a > 0.6, "streamed \(a), in memory \(b)")
    // In memory, the default stays L-BFGS.
    let lbfgs = try runFeatx(["probe", store, "-o", dir.path("c.h5"), "--quiet"])
    #expect(lbfgs.status == 0 && lbfgs.stdout.contains("solver lbfgs"), "\(lbfgs.stdout)")
  }

  /// A probe does not resume: SIGINT stops it at once, says so, and leaves no head behind.
  @Test func anInterruptedProbeSaysItDoesNotResume() throws {
    let dir = TemporaryDirectory()
    let store = dir.path("big.h5")
    try Self.writeStore(store, rows: 20000, dimension: 256, classes: 50)
    // The sweep's first line: training has started.
    let run = try runFeatx(
      ["probe", store, "-o", dir.path("head.h5")], signal: SIGINT, whenStderrContains: "validation accuracy")
    try #require(run.signalled, "the probe ended before its sweep printed: \(run.stderr)")
    #expect(run.exitStatus == 130, "\(run.stderr)")
    #expect(
      run.stderr.contains("interrupted (SIGINT): \(dir.path("head.h5")) was not written; a probe does not resume"),
      "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("head.h5")))
  }
}
