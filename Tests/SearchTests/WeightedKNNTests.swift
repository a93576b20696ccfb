import FeatureStore
import Foundation
import Probe
import Search
import Testing
import TestSupport

@Suite struct WeightedKNNTests {
  /// featx's neighbours, votes, predictions and top-5 are NumPy's, ties included (the "ties" case has many
  /// exactly equal similarities and class weights; both cases have a zero train row and a zero test row).
  @Test(arguments: KNNCase.document.cases.map(\.name))
  func matchesTheNumPyReference(name: String) throws {
    let document = KNNCase.document
    let reference = try #require(document.cases.first { $0.name == name })
    let dir = TemporaryDirectory()
    let data = try ProbeDataset.load(path: try reference.store(in: dir))
    var settings = KNNSettings()
    settings.ks = document.ks
    settings.temperature = document.temperature
    let evaluation = try WeightedKNN.evaluate(data, settings: settings)
    let test = try #require(data.test)
    #expect(test.storeRows == reference.testRows)
    let found = evaluation.neighbors
    for q in 0..<test.rows {
      let mine = found.of(q)
      #expect(
        mine.map { data.train.storeRows[$0.row] } == reference.neighbors[q],
        "\(name): neighbours of store row \(test.storeRows[q])")
      for (a, b) in zip(mine.map(\.similarity), reference.similarities[q]) {
        #expect(abs(Double(a) - b) <= 1e-6, "\(name) query \(q): similarity \(a) vs \(b)")
      }
    }
    for result in evaluation.results {
      let expected = try #require(reference.k[String(result.k)])
      let c = reference.classes
      let predicted = Metrics.argmax(result.shares, classes: c)
      #expect(predicted == expected.predicted, "\(name) k = \(result.k)")
      for q in 0..<test.rows {
        let top5 = (0..<c).sorted { (-result.shares[q * c + $0], $0) < (-result.shares[q * c + $1], $1) }.prefix(5)
        #expect(Array(top5) == expected.top5[q], "\(name) k = \(result.k) query \(q): top-5")
        #expect(abs(Double(result.shares[q * c + predicted[q]]) - expected.probability[q]) < 1e-5)
      }
      let truth = reference.testRows.map { reference.labels[$0] }
      let top1 = Double(zip(expected.predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
      let top5 = Double(zip(expected.top5, truth).filter { $0.contains($1) }.count) / Double(truth.count)
      #expect(result.report.test?.top1 == top1)
      #expect(result.report.test?.top5 == top5)
    }
  }

  /// The zero test row is 0-similar to everything: its neighbours are the first train rows, in store order.
  @Test func aZeroVectorHasSimilarityZero() throws {
    let reference = try #require(KNNCase.document.cases.first { $0.name == "gaussian" })
    let zeroQuery = try #require(reference.testRows.firstIndex(of: 9))
    let dir = TemporaryDirectory()
    let data = try ProbeDataset.load(path: try reference.store(in: dir))
    let queries = try data.test!.values()
    let d = reference.dimension
    let found = try CosineSearch.nearest(
      queries: Array(queries[(zeroQuery * d)..<((zeroQuery + 1) * d)]), count: 1, in: data.train, k: 5)
    #expect(found.similarities == [0, 0, 0, 0, 0])
    #expect(found.indices == [0, 1, 2, 3, 4])
  }

  /// Blocks of 7 stored rows give the very neighbours one block gives (the similarities agree to float32
  /// rounding: a GEMM's last bits depend on its shape).
  @Test func blocksDoNotChangeTheAnswer() throws {
    for reference in KNNCase.document.cases {
      let dir = TemporaryDirectory()
      let data = try ProbeDataset.load(path: try reference.store(in: dir))
      let queries = try data.test!.values()
      let one = try CosineSearch.nearest(queries: queries, count: data.test!.rows, in: data.train, k: 20)
      let small = try CosineSearch.nearest(queries: queries, count: data.test!.rows, in: data.train, k: 20, blockRows: 7)
      #expect(one.indices == small.indices, "\(reference.name)")
      #expect(zip(one.similarities, small.similarities).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(reference.name)")
    }
  }

  @Test func kLargerThanTheTrainRowsIsRefused() throws {
    let reference = KNNCase.document.cases[1]
    let dir = TemporaryDirectory()
    let data = try ProbeDataset.load(path: try reference.store(in: dir))
    var settings = KNNSettings()
    settings.ks = [10, 500]
    #expect(throws: SearchError.tooFewRows(k: 500, rows: data.train.rows)) { try WeightedKNN.evaluate(data, settings: settings) }
    #expect(
      "\(SearchError.tooFewRows(k: 500, rows: 84))".contains("k = 500 needs at least 500 stored rows to search, and there are 84")
    )
  }

  @Test func nonFiniteFeaturesAreRefusedNamingTheRow() throws {
    let reference = KNNCase.document.cases[0]
    var features = reference.features
    let row = reference.testRows[3]
    features[row * reference.dimension + 2] = .nan
    let dir = TemporaryDirectory()
    let path = try reference.store(in: dir, features: features)
    do {
      _ = try WeightedKNN.evaluate(try ProbeDataset.load(path: path), settings: KNNSettings())
      Issue.record("NaN features were accepted")
    } catch ProbeError.nonFinite(_, let found, let image) {
      #expect(found == row)
      #expect(image == "c\(reference.labels[row])/\(row).jpg")
    }
  }
}
