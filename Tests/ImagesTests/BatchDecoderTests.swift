import Foundation
import Images
import Testing
import TestSupport

/// Batches decoded on several cores (issue #13): the same tensors and failures whatever the number of
/// workers, and a worker count that follows the measured decode and backbone times.
@Suite struct BatchDecoderTests {
  static func files() throws -> [String] {
    let folder = TestPaths.fixture("images/src")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
      .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }
    return names.map { folder.appendingPathComponent($0).path } + [TestPaths.fixture("images/manifest.json").path]
  }

  @Test func workersDoNotChangeTheTensorsOrTheFailures() throws {
    let paths = try Self.files()
    try #require(paths.count >= 8)
    let preprocessing = Preprocessing.imagenet
    func decode(workers: Int) -> (tensors: [Float], failures: [Int: ImageError.Kind]) {
      let decoder = BatchDecoder(
        paths: paths, preprocessing: preprocessing, size: (224, 224), maxPixels: ImageDecoder.defaultMaxPixels, maxWorkers: 4,
        workers: workers)
      #expect(decoder.workers == workers)
      var tensors: [Float] = []
      var failures: [Int: ImageError.Kind] = [:]
      // Two batches in flight at once, as extraction runs them.
      let first = decoder.start(0..<(paths.count / 2))
      let second = decoder.start((paths.count / 2)..<paths.count)
      for pending in [first, second] {
        let batch = pending.wait()
        tensors += batch.tensors
        for (row, error) in batch.failures { failures[row] = error.kind }
      }
      return (tensors, failures)
    }
    let one = decode(workers: 1)
    #expect(one.failures[paths.count - 1] == .unsupported)  // the JSON file
    #expect(one.tensors.contains { $0 != 0 })
    for workers in [2, 3] {
      let many = decode(workers: workers)
      #expect(many.tensors == one.tensors, "\(workers) workers")
      #expect(many.failures == one.failures, "\(workers) workers")
    }
  }

  @Test func theWorkerCountFollowsTheMeasuredTimes() throws {
    let paths = try Self.files()
    let decoder = BatchDecoder(
      paths: paths, preprocessing: .imagenet, size: (224, 224), maxPixels: ImageDecoder.defaultMaxPixels, maxWorkers: 3)
    #expect(decoder.workers == 3)  // the first batch has the cores to itself
    let batch = decoder.start(0..<4).wait()
    batch.decodeSeconds = 1.0
    decoder.backboneTook(0.4, for: batch)  // decoding needs 2.5 backbone-times: 3 workers
    #expect(decoder.workers == 3)
    decoder.backboneTook(0.6, for: batch)  // 1.67: 2 workers
    #expect(decoder.workers == 2)
    decoder.backboneTook(5, for: batch)  // the backbone is the bottleneck: 1 worker
    #expect(decoder.workers == 1)
    decoder.backboneTook(0.001, for: batch)  // never more than the limit
    #expect(decoder.workers == 3)
  }
}
