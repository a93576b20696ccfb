import FeatureStore
import Foundation
import HDF5
import Testing
import TestSupport

/// A small store's worth of rows with non-ASCII paths, two classes and a split.
func sampleRows(_ n: Int) -> StoreRows {
  let names = ["Černá/ptáček 01.jpg", "日本/鳥.jpg", "plain/a b.png", "x/y.JPG"]
  return StoreRows(
    classes: ["Black_footed_Albatross", "Oiseau été"], classFolders: ["001.Black_footed_Albatross", "002.Oiseau été"],
    paths: (0..<n).map { "\($0)-\(names[$0 % names.count])" }, labels: (0..<n).map { Int64($0 % 2) },
    split: (0..<n).map { UInt8($0 % 5 == 4 ? 1 : 0) })
}

func sampleMetadata(shape: [Int] = [3, 2, 2]) -> StoreMetadata {
  StoreMetadata(
    featxVersion: "test", arch: "densenet121", weightsFile: "densenet121-a639ec97.pth",
    weightsSHA256: String(repeating: "ab", count: 32), layer: "features", pooling: "flatten",
    preprocess: #"{"resize":[224,224]}"#, splitMode: .random, splitSeed: 2021, splitRatio: 0.8,
    created: "2026-11-23T00:00:00Z", source: "/data/birds", featureShape: shape, datasetRows: 37)
}

/// Deterministic values with plenty of distinct bit patterns (negative, tiny, large).
func sampleValues(rows: Int, dimension: Int, seed: Int = 1) -> [Float] {
  (0..<(rows * dimension)).map { i in
    let x = Float((i * 7919 + seed * 104_729) % 10007) / 97.0 - 51.5
    return i % 11 == 0 ? x * 1e-7 : x
  }
}

@Suite struct FeatureStoreRoundTrip {
  @Test(arguments: [FeatureDType.float32, .float16])
  func unevenBatchesAcrossTwoSessions(dtype: FeatureDType) throws {
    let dir = TemporaryDirectory()
    let path = dir.path("store é.h5")
    let rows = sampleRows(37)
    let d = 12
    var values = sampleValues(rows: 37, dimension: d)
    if dtype == .float16 { values = values.map { Float(Float16($0)) } }
    let skippedRows: Set<Int> = [3, 20]
    func commit(_ writer: FeatureStoreWriter, _ count: Int) throws {
      let start = writer.rowsComplete
      let flags = (start..<(start + count)).map { skippedRows.contains($0) }
      try values[(start * d)..<((start + count) * d)].withUnsafeBufferPointer {
        try writer.commit(count: count, values: $0, skipped: flags)
      }
    }
    do {
      let writer = try FeatureStoreWriter.create(path: path, metadata: sampleMetadata(), rows: rows, dtype: dtype)
      try commit(writer, 5)
      try commit(writer, 11)
    }
    // An interrupted store opens, says how far it got, and is refused where complete data is needed.
    do {
      let partial = try FeatureStore(path: path)
      #expect(!partial.isComplete)
      #expect(partial.rowsComplete == 16)
      #expect(throws: FeatureStoreError.self) { try partial.requireComplete() }
    }
    do {
      let writer = try FeatureStoreWriter.resume(path: path)
      #expect(writer.rowsComplete == 16)
      #expect(try writer.skippedRows() == [3])
      try commit(writer, 9)
      try commit(writer, 12)
      #expect(try writer.finish(skipReasons: [20: "corrupt JPEG"]) == 35)
    }
    let store = try FeatureStore(path: path)
    try store.requireComplete()
    let keep = (0..<37).filter { !skippedRows.contains($0) }
    #expect(store.rows == 35)
    #expect(store.dimension == d)
    #expect(store.dtype == dtype)
    #expect(store.metadata == sampleMetadata())
    let expected = keep.flatMap { values[($0 * d)..<(($0 + 1) * d)] }
    let actual = try store.allFeatures()
    #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern))
    #expect(try store.row(7).map(\.bitPattern) == Array(expected[(7 * d)..<(8 * d)]).map(\.bitPattern))
    #expect(try store.features(rows: 30..<35).map(\.bitPattern) == Array(expected[(30 * d)...]).map(\.bitPattern))
    #expect(try store.paths() == keep.map { rows.paths[$0] })
    #expect(try store.labels() == keep.map { rows.labels[$0] })
    #expect(try store.split() == keep.map { rows.split[$0] })
    #expect(store.classes == rows.classes)
    #expect(store.classFolders == rows.classFolders)
    let skipped = try store.skipped()
    #expect(skipped.map(\.path) == [rows.paths[3], rows.paths[20]])
    #expect(skipped.map(\.reason) == ["could not be read", "corrupt JPEG"])
    #expect(try store.featureChunkShape()?.last == d)
  }

  @Test func h5dumpShowsTheDocumentedLayout() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("dump.h5")
    let writer = try FeatureStoreWriter.create(path: path, metadata: sampleMetadata(), rows: sampleRows(4), dtype: .float32)
    try sampleValues(rows: 4, dimension: 12).withUnsafeBufferPointer {
      try writer.commit(count: 4, values: $0, skipped: [false, false, false, false])
    }
    try writer.finish(skipReasons: [:])
    let result = try runCommand("/usr/bin/h5dump", ["-H", "-A", path])
    #expect(result.status == 0, "h5dump failed: \(result.stderr) (install hdf5-tools: scripts/install-deps)")
    let dump = result.stdout
    for needle in [
      #"DATASET "features""#, "H5T_IEEE_F32LE", "DATASPACE  SIMPLE { ( 4, 12 ) / ( 4, 12 ) }",
      #"ATTRIBUTE "feature_shape""#, #"DATASET "labels""#, "H5T_STD_I64LE", #"DATASET "split""#, "H5T_STD_U8LE",
      #"DATASET "paths""#, "H5T_CSET_UTF8", "STRSIZE H5T_VARIABLE", #"DATASET "classes""#, #"GROUP "skipped""#,
      #"ATTRIBUTE "format""#, #""featx-features""#, #"ATTRIBUTE "format_version""#, #"ATTRIBUTE "rows_complete""#,
      #"ATTRIBUTE "complete""#, #"ATTRIBUTE "preprocess""#, #"ATTRIBUTE "weights_sha256""#, #"ATTRIBUTE "split_seed""#,
      #"ATTRIBUTE "created""#, #"ATTRIBUTE "arch""#, #"ATTRIBUTE "layer""#, #"ATTRIBUTE "pooling""#,
    ] {
      #expect(dump.contains(needle), "h5dump output lacks \(needle)")
    }
    #expect(!dump.contains("row_status"), "a complete store must not keep the working dataset row_status")
    let values = try runCommand("/usr/bin/h5dump", ["-d", "/labels", path]).stdout
    #expect(values.contains("(0): 0, 1, 0, 1"))
  }
}

@Suite struct FeatureStoreBadInput {
  func expectError(_ path: String, containing text: String) {
    do {
      _ = try FeatureStore(path: path)
      Issue.record("\(path) opened")
    } catch {
      let message = String(describing: error)
      #expect(message.contains(path), "message does not name the file: \(message)")
      #expect(message.contains(text), "message '\(message)' lacks '\(text)'")
    }
  }

  @Test func missingFile() {
    let dir = TemporaryDirectory()
    expectError(dir.path("nope.h5"), containing: "no such file")
  }

  @Test func notHDF5() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("text.h5")
    try "hello, not HDF5\n".write(toFile: path, atomically: true, encoding: .utf8)
    expectError(path, containing: "not an HDF5 file")
  }

  @Test func truncatedStore() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("t.h5")
    let writer = try FeatureStoreWriter.create(path: path, metadata: sampleMetadata(), rows: sampleRows(40), dtype: .float32)
    try sampleValues(rows: 40, dimension: 12).withUnsafeBufferPointer {
      try writer.commit(count: 40, values: $0, skipped: [Bool](repeating: false, count: 40))
    }
    try writer.finish(skipReasons: [:])
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
    expectError(path, containing: "t.h5")
  }

  @Test func otherFormatAndNewerVersionAndMissingDataset() throws {
    let dir = TemporaryDirectory()
    let other = dir.path("other.h5")
    do {
      let file = try H5File(path: other, mode: .truncate)
      try file.root().createDataset("data", values: [Float(1), 2, 3])
    }
    expectError(other, containing: "not a featx feature store")

    let newer = dir.path("newer.h5")
    let writer = try FeatureStoreWriter.create(path: newer, metadata: sampleMetadata(), rows: sampleRows(2), dtype: .float32)
    try sampleValues(rows: 2, dimension: 12).withUnsafeBufferPointer {
      try writer.commit(count: 2, values: $0, skipped: [false, false])
    }
    try writer.finish(skipReasons: [:])
    do {
      let file = try H5File(path: newer, mode: .readWrite)
      try file.root().attributes.set("format_version", .int64(2))
    }
    expectError(newer, containing: "newer featx")

    let damaged = dir.path("damaged.h5")
    do {
      _ = try FeatureStoreWriter.create(path: damaged, metadata: sampleMetadata(), rows: sampleRows(2), dtype: .float32)
    }
    do {
      let file = try H5File(path: damaged, mode: .readWrite)
      try file.root().remove("labels")
    }
    expectError(damaged, containing: "'/labels' is missing")
  }
}
