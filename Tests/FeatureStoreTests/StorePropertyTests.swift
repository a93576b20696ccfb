// Property tests of the store reader (issue #12): stores with random shapes, labels and splits, many of
// them outside the format's rules, are either accepted with exactly the counts computed here from what
// was written, or refused with one line naming the file and the first bad row. Never a crash: the reader
// runs in this process.

import FeatureStore
import Foundation
import Testing
import TestSupport

/// What a generated store holds, and what the reader must make of it.
struct GeneratedStore {
  var rows: Int
  var featureShape: [Int]
  var classes: [String]
  var labels: [Int64]
  var split: [UInt8]

  init(seed: UInt64) {
    var rng = SplitMix64(state: seed)
    rows = Int.random(in: 0...40, using: &rng)
    featureShape = Bool.random(using: &rng) ? [Int.random(in: 1...16, using: &rng)] : [Int.random(in: 1...4, using: &rng), 2, 2]
    classes = (0..<Int.random(in: 0...5, using: &rng)).map { "class \($0)" }
    let c = Int64(classes.count)
    let unlabelled = c == 0 || Int.random(in: 0..<6, using: &rng) == 0
    labels = (0..<rows).map { _ in unlabelled ? -1 : Int64.random(in: 0..<c, using: &rng) }
    split = (0..<rows).map { _ in UInt8.random(in: 0...1, using: &rng) }
    // Break a rule in about half of the stores, at a random row.
    if rows > 0, Bool.random(using: &rng) {
      let row = Int.random(in: 0..<rows, using: &rng)
      switch Int.random(in: 0..<5, using: &rng) {
      case 0: labels[row] = c + Int64.random(in: 0...100_000_000, using: &rng)
      case 1: labels[row] = -Int64.random(in: 2...1000, using: &rng)
      case 2: labels[row] = unlabelled ? max(0, c - 1) : -1
      case 3: split[row] = UInt8.random(in: 2...255, using: &rng)
      default: break
      }
    }
  }

  /// The first rule broken, as (dataset, row), or nil for a valid store.
  var firstViolation: (dataset: String, row: Int)? {
    let unlabelled = labels.first == -1
    let badLabel = labels.indices.first { i in
      unlabelled ? labels[i] != -1 : (labels[i] < 0 || labels[i] >= Int64(classes.count))
    }
    if let badLabel { return ("labels", badLabel) }
    if let badSplit = split.firstIndex(where: { $0 > 1 }) { return ("split", badSplit) }
    return nil
  }

  func write(to path: String) throws {
    let d = featureShape.reduce(1, *)
    let metadata = StoreMetadata(
      featxVersion: "property", arch: "resnet18", weightsFile: "random:0", weightsSHA256: "random:0", layer: "avgpool",
      pooling: "flatten", preprocess: "{}", splitMode: .random, splitSeed: 0, splitRatio: 0.8, created: "", source: "",
      featureShape: featureShape, datasetRows: rows)
    let storeRows = StoreRows(
      classes: classes, classFolders: classes, paths: (0..<rows).map { "img\($0).jpg" }, labels: labels, split: split)
    try FeatureStoreWriter.writeComplete(path: path, metadata: metadata, rows: storeRows, dtype: .float32, skipped: []) {
      range, buffer in
      for i in buffer.indices { buffer[i] = Float(range.lowerBound * d + i) }
    }
  }
}

@Suite struct StorePropertyTests {
  @Test(arguments: 0..<300 as Range<UInt64>)
  func generatedStoresAreReadExactlyOrRefusedWithTheFirstBadRow(seed: UInt64) throws {
    let generated = GeneratedStore(seed: seed)
    let dir = TemporaryDirectory()
    let path = dir.path("store-\(seed).h5")
    try generated.write(to: path)
    let store = try FeatureStore(path: path)
    #expect(store.rows == generated.rows)
    #expect(store.dimension == generated.featureShape.reduce(1, *))
    if let violation = generated.firstViolation {
      #expect {
        _ = try StoreSummary(store)
      } throws: { error in
        let text = "\(error)"
        return !text.contains("\n") && text.contains(path) && text.contains("/\(violation.dataset) row \(violation.row) ")
      }
    } else {
      let summary = try StoreSummary(store)
      let unlabelled = generated.labels.first == -1
      #expect(summary.unlabelled == (unlabelled ? generated.rows : 0))
      #expect(summary.train == generated.split.filter { $0 == 0 }.count)
      #expect(summary.test == generated.split.filter { $0 == 1 }.count)
      for (label, count) in summary.classes.enumerated() {
        let rows = generated.labels.indices.filter { generated.labels[$0] == Int64(label) }
        #expect(count.rows == rows.count)
        #expect(count.train == rows.filter { generated.split[$0] == 0 }.count)
      }
      // Features come back as written.
      if generated.rows > 0 {
        let d = store.dimension
        let last = try store.row(generated.rows - 1)
        #expect(last == (0..<d).map { Float((generated.rows - 1) * d + $0) })
      }
    }
  }
}

extension StorePropertyTests {
  /// The generator covers every case: valid labelled and unlabelled stores, and each broken rule.
  @Test func theGeneratedStoresCoverEveryRule() {
    let stores = (0..<300 as Range<UInt64>).map(GeneratedStore.init(seed:))
    let valid = stores.filter { $0.firstViolation == nil }
    #expect(valid.filter { $0.labels.first == -1 }.count >= 10)
    #expect(valid.filter { $0.labels.first ?? -1 >= 0 }.count >= 50)
    #expect(stores.filter { $0.firstViolation?.dataset == "labels" }.count >= 50)
    #expect(stores.filter { $0.firstViolation?.dataset == "split" }.count >= 10)
  }
}
