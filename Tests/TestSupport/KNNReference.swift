// The weighted k-NN reference (Tests/Fixtures/knn/reference.json, written by tools/make_knn_fixtures.py
// with NumPy), shared by the library and CLI tests.

import FeatureStore
import Foundation

/// One case of Tests/Fixtures/knn/reference.json (tools/make_knn_fixtures.py: NumPy's weighted k-NN).
public struct KNNCase: Decodable, Sendable {
  public struct PerK: Decodable, Sendable {
    public var predicted: [Int]
    public var top5: [[Int]]
    public var probability: [Double]
  }
  public var name: String
  public var classes: Int
  public var dimension: Int
  public var features: [Float]
  public var labels: [Int]
  public var split: [UInt8]
  public var testRows: [Int]
  public var neighbors: [[Int]]
  public var similarities: [[Double]]
  public var k: [String: PerK]

  public struct Document: Decodable, Sendable {
    public var ks: [Int]
    public var temperature: Double
    public var cases: [KNNCase]
  }

  /// The fixture, read once; a missing or unreadable file stops the tests loudly, naming it.
  public static let document: Document = {
    let file = TestPaths.fixture("knn/reference.json")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do { return try decoder.decode(Document.self, from: try Data(contentsOf: file)) } catch {
      fatalError("\(file.path): \(error); regenerate it with tools/make_knn_fixtures.py")
    }
  }()

  /// The case's rows as a labelled feature store in `dir`.
  public func store(in dir: TemporaryDirectory, features: [Float]? = nil, labelled: Bool = true) throws -> String {
    let path = dir.path("\(name).h5")
    let n = labels.count
    let metadata = StoreMetadata(
      featxVersion: "test", arch: "random", weightsFile: "random:0", weightsSHA256: "random:0", layer: "features",
      pooling: "avg", preprocess: #"{"resize":[8,8]}"#, splitMode: .random, splitSeed: 0, splitRatio: 0.8,
      created: "2026-12-04T00:00:00Z", source: "/data/knn", featureShape: [dimension], datasetRows: n)
    let rows = StoreRows(
      classes: (0..<classes).map { "class \($0)" }, classFolders: (0..<classes).map { "c\($0)" },
      paths: (0..<n).map { "c\(labels[$0])/\($0).jpg" }, labels: labels.map { labelled ? Int64($0) : -1 }, split: split)
    let writer = try FeatureStoreWriter.create(path: path, metadata: metadata, rows: rows, dtype: .float32)
    try (features ?? self.features).withUnsafeBufferPointer {
      try writer.commit(count: n, values: $0, skipped: [Bool](repeating: false, count: n))
    }
    try writer.finish(skipReasons: [:])
    return path
  }
}
