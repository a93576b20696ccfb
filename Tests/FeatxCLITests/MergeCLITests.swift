import FeatureStore
import Foundation
import Testing
import TestSupport

/// `featx merge` at a cluster's scale: many shards, a low descriptor limit, shards of another run.
@Suite struct MergeCLITests {
  /// Shard `k` of `n` of a dataset of `n` rows (one row each, value k), written as `extract --shard` would.
  static func writeShard(_ k: Int, of n: Int, to path: String, arch: String = "resnet18", datasetRows: Int? = nil) throws {
    var metadata = StoreMetadata(
      featxVersion: "test", arch: arch, weightsFile: "random:0", weightsSHA256: "random:0", layer: "avgpool",
      pooling: "flatten", preprocess: "{}", splitMode: .random, splitSeed: 0, splitRatio: 0.8,
      created: String(format: "2026-12-04T00:%02d:%02dZ", k / 60 % 60, k % 60), source: "", featureShape: [4],
      datasetRows: datasetRows ?? n)
    metadata.shard = "\(k)/\(n)"
    metadata.shardStart = k
    let rows = StoreRows(
      classes: ["a", "b"], classFolders: ["a", "b"], paths: ["img\(k).jpg"], labels: [Int64(k % 2)], split: [0])
    try FeatureStoreWriter.writeComplete(path: path, metadata: metadata, rows: rows, dtype: .float32, skipped: []) { _, buffer in
      for i in buffer.indices { buffer[i] = Float(k) + Float(i) / 10 }
    }
  }

  /// A thousand shards merge under a limit of 64 open files: the merge holds one shard open at a time
  /// (it used to open them all), and the rows come out in shard order.
  @Test func aThousandShardsMergeWithFewOpenFiles() throws {
    let dir = TemporaryDirectory()
    let n = 1000
    let shards = (0..<n).map { dir.path("s\($0).h5") }
    for (k, path) in shards.enumerated() { try Self.writeShard(k, of: n, to: path) }
    let output = dir.path("merged.h5")
    let featx = TestPaths.featxBinary.path
    let script = "ulimit -n 64 && exec \"$0\" merge \"$@\" -o \(output)"
    let result = try runCommand("/bin/bash", ["-c", script, featx] + shards.reversed())
    #expect(result.status == 0, "\(result.stderr)")
    let merged = try FeatureStore(path: output)
    #expect(merged.rows == n && merged.metadata.shard == "")
    #expect(try merged.paths() == (0..<n).map { "img\($0).jpg" })
    #expect(try merged.features(rows: 999..<1000) == [999, 999.1, 999.2, 999.3])
    #expect(merged.metadata.created == "2026-12-04T00:00:00Z", "the earliest shard's time")
  }

  /// The crash guard checks many shards per child process; a file libhdf5 crashes on, among good shards,
  /// is still refused by name (its group is checked again file by file).
  @Test func aCrashingFileAmongManyShardsIsNamed() throws {
    let dir = TemporaryDirectory()
    var shards = try (0..<5).map { k in
      let path = dir.path("s\(k).h5")
      try Self.writeShard(k, of: 5, to: path)
      return path
    }
    let crashing = TestPaths.fixture("fuzz/libhdf5/global-heap-segv.h5").path
    shards.insert(crashing, at: 2)
    let result = try runFeatx(["merge"] + shards + ["-o", dir.path("m.h5")])
    #expect(result.status == 1)
    #expect(result.stderr.contains("\(crashing): libhdf5 crashed reading it"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("m.h5")))
  }

  /// A shard of another run is refused naming the shard's file and what differs; a shard that holds the
  /// wrong range is refused naming the range it should hold.
  @Test func shardsOfAnotherRunOrRangeAreRefusedByName() throws {
    let dir = TemporaryDirectory()
    try Self.writeShard(0, of: 2, to: dir.path("a0.h5"))
    try Self.writeShard(1, of: 2, to: dir.path("b1.h5"), arch: "resnet50")
    let other = try runFeatx(["merge", dir.path("a0.h5"), dir.path("b1.h5"), "-o", dir.path("m.h5")])
    #expect(other.status == 1)
    #expect(other.stderr.contains(dir.path("b1.h5")) && other.stderr.contains("another configuration"), "\(other.stderr)")
    #expect(other.stderr.contains("resnet50"), "\(other.stderr)")
    // Shards of a 4-row dataset holding one row each: shard 0/2 must hold rows 0..<2.
    try Self.writeShard(0, of: 2, to: dir.path("c0.h5"), datasetRows: 4)
    try Self.writeShard(1, of: 2, to: dir.path("c1.h5"), datasetRows: 4)
    let short = try runFeatx(["merge", dir.path("c1.h5"), dir.path("c0.h5"), "-o", dir.path("m.h5")])
    #expect(short.status == 1)
    #expect(
      short.stderr.contains(dir.path("c0.h5")) && short.stderr.contains("shard 0/2 should hold dataset rows 0..<2"),
      "\(short.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("m.h5")))
  }
}
