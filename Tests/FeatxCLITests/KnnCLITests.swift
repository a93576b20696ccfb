// `featx knn`: the command reports what the library computes (the NumPy reference's accuracies and
// neighbours), and refuses what it cannot do with one line that names the number or the store.

import CHDF5
import FeatureStore
import Foundation
import HDF5
import Images
import Testing
import TestSupport

@Suite struct KnnCLITests {
  @Test func reportAndNeighboursAreTheReferences() throws {
    let document = KNNCase.document
    let reference = document.cases[1]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir)
    let lists = dir.path("neighbours.h5")
    let result = try runFeatx(["knn", store, "--k", "1,3,10,20", "--json", "--neighbors", lists, "--quiet"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let results = try #require(json["results"] as? [[String: Any]])
    #expect(results.map { $0["k"] as? Int } == [1, 3, 10, 20])
    let truth = reference.testRows.map { reference.labels[$0] }
    for entry in results {
      let k = try #require(entry["k"] as? Int)
      let expected = try #require(reference.k[String(k)])
      let top1 = Double(zip(expected.predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
      let test = try #require((entry["report"] as? [String: Any])?["test"] as? [String: Any])
      // JSON's decimal text of a double reads back within an ulp.
      #expect(abs((test["top1"] as? Double ?? -1) - top1) < 1e-12, "k = \(k)")
    }
    let file = try H5File(path: lists, mode: .readOnly)
    let root = try file.root()
    #expect(try root.dataset("indices").shape() == [reference.testRows.count, 20])
    #expect(try root.dataset("indices").read(Int64.self).map { Int($0) } == reference.neighbors.flatMap { $0 })
    #expect(try root.dataset("query_rows").read(Int64.self).map { Int($0) } == reference.testRows)
    let similarities = try root.dataset("similarities").read(Float.self)
    #expect(zip(similarities, reference.similarities.flatMap { $0 }).allSatisfy { abs(Double($0) - $1) <= 1e-6 })
  }

  /// `--plot` writes the confusion matrix and mistakes.png: the report's most confidently wrong rows are
  /// the reference's, and images that are not on disk (this store's paths are made up) are grey tiles.
  @Test func mistakesAreTheMostConfidentlyWrongRows() throws {
    let reference = KNNCase.document.cases[0]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir)
    let plots = dir.path("plots")
    let result = try runFeatx(["knn", store, "--k", "20", "--json", "--plot", plots, "--quiet"])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let report = try #require((json["results"] as? [[String: Any]])?.first?["report"] as? [String: Any])
    let mistakes = try #require(report["mistakes"] as? [[String: Any]])
    let expected = try #require(reference.k["20"])
    var wrong: [(row: Int, truth: Int, predicted: Int, p: Double)] = []
    for (q, row) in reference.testRows.enumerated() where expected.predicted[q] != reference.labels[row] {
      wrong.append((row, reference.labels[row], expected.predicted[q], expected.probability[q]))
    }
    wrong.sort { ($0.p, -$0.row) > ($1.p, -$1.row) }
    #expect(mistakes.count == min(24, wrong.count))
    #expect(mistakes.map { $0["store_row"] as? Int } == wrong.prefix(24).map(\.row))
    #expect(mistakes.map { $0["predicted"] as? Int } == wrong.prefix(24).map(\.predicted))
    for (m, w) in zip(mistakes, wrong) { #expect(abs(((m["probability"] as? Double) ?? -1) - w.p) < 1e-5) }
    for name in ["confusion.png", "confusion.svg", "confusion.pdf", "mistakes.png"] {
      #expect(FileManager.default.fileExists(atPath: plots + "/" + name), "\(name) missing")
    }
    let picture = try ImageDecoder().decode(path: plots + "/mistakes.png")
    let grey: [UInt8] = [0xc8, 0xc8, 0xc8]
    // The first tile's top-left corner (margin 16, title band 40).
    let offset = ((16 + 40 + 3) * picture.width + 16 + 3) * 3
    #expect(Array(picture.pixels[offset..<(offset + 3)]) == grey)
  }

  @Test func badRequestsAreRefusedInOneLine() throws {
    let reference = KNNCase.document.cases[1]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir)
    let trainRows = reference.split.filter { $0 == 0 }.count
    func refusal(_ arguments: [String]) throws -> String {
      let result = try runFeatx(["knn"] + arguments + ["--quiet"])
      #expect(result.status != 0)
      #expect(result.stdout.isEmpty)
      return result.stderr
    }
    #expect(try refusal([store, "--k", "10,500"]).contains("--k 500 is more than the \(trainRows) train rows of \(store)"))
    #expect(try refusal([store, "--k", "0"]).contains("--k takes positive whole numbers"))
    #expect(try refusal([store, "--temperature", "0"]).contains("--temperature must be positive"))
    let unlabelled = TemporaryDirectory()
    let noLabels = try reference.store(in: unlabelled, labelled: false)
    #expect(try refusal([noLabels]).contains("the store has no labels"))
    var allTrain = reference
    allTrain.split = [UInt8](repeating: 0, count: reference.split.count)
    let trainOnly = TemporaryDirectory()
    let noTest = try allTrain.store(in: trainOnly)
    #expect(
      try refusal([noTest, "--k", "5"]).contains(
        "\(noTest) has no test rows to classify (every labelled row is train); give --test OTHER.h5"))
  }
}
