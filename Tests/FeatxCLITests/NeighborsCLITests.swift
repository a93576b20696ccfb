// `featx neighbors`: stored-row queries list what a brute-force search in double precision lists, with or
// without labels; an image query runs through the store's own backbone and finds its own stored row first;
// a query that cannot be read is named in one line while the others are answered.

import FeatureStore
import Foundation
import Images
import Testing
import TestSupport

@Suite struct NeighborsCLITests {
  /// The `k` nearest rows of `row` among all other rows, by cosine in double; ties by row.
  func bruteForce(_ c: KNNCase, row: Int, k: Int) -> [Int] {
    let d = c.dimension
    func unit(_ r: Int) -> [Double] {
      let x = c.features[(r * d)..<((r + 1) * d)].map { Double($0) }
      let norm = max(x.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
      return x.map { $0 / norm }
    }
    let q = unit(row)
    let scored = (0..<c.labels.count).filter { $0 != row }.map { r in (r, zip(q, unit(r)).reduce(0) { $0 + $1.0 * $1.1 }) }
    return scored.sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }.prefix(k).map(\.0)
  }

  @Test(arguments: [true, false])
  func storedRowsListTheBruteForceNeighbours(labelled: Bool) throws {
    let reference = KNNCase.document.cases[1]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir, labelled: labelled)
    let path = "c\(reference.labels[17])/17.jpg"
    let result = try runFeatx(["neighbors", store, "--row", "40", "--path", path, "-k", "12", "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    let answers = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    #expect(answers.map { $0["row"] as? Int } == [40, 17])
    for answer in answers {
      let row = try #require(answer["row"] as? Int)
      let neighbors = try #require(answer["neighbors"] as? [[String: Any]])
      #expect(neighbors.map { $0["row"] as? Int } == bruteForce(reference, row: row, k: 12), "row \(row)")
      #expect(
        neighbors.map { $0["path"] as? String }
          == bruteForce(reference, row: row, k: 12).map { "c\(reference.labels[$0])/\($0).jpg" })
      #expect(
        neighbors.map { $0["class"] as? String }
          == bruteForce(reference, row: row, k: 12).map { labelled ? "class \(reference.labels[$0])" : nil })
    }
    let csv = try runFeatx(["neighbors", store, "--row", "40", "-k", "3", "--format", "csv"])
    let lines = csv.stdout.split(separator: "\n")
    #expect(lines.first == "query,rank,row,path,class,similarity")
    #expect(lines.count == 4)
    #expect(lines.dropFirst().map { Int($0.split(separator: ",")[2]) } == bruteForce(reference, row: 40, k: 3))
  }

  @Test func badQueriesAreRefusedInOneLine() throws {
    let reference = KNNCase.document.cases[1]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir)
    let rows = reference.labels.count
    for (arguments, message) in [
      (["--row", "\(rows)"], "--row \(rows): \(store) has rows 0 to \(rows - 1)"),
      (["--path", "nope.jpg"], "--path nope.jpg: no row of \(store) has that path"),
      (["--row", "1", "-k", "\(rows)"], "-k \(rows) is more than the \(rows - 1) rows of \(store)"),
      ([], "give a query: an image file, --row N or --path P"),
    ] {
      let result = try runFeatx(["neighbors", store] + arguments)
      #expect(result.status != 0)
      #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
    }
  }

  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("flower_photos_small").path),
      "the shared datasets are not available"))
  func anImageFindsItsOwnStoredRowFirst() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("all", 3)], classes: ["daisy", "roses"])
    let tree = root + "/all"
    let store = dir.path("flowers.h5")
    let extract = try runFeatx([
      "extract", tree, "-o", store, "--arch", "resnet18", "--weights", "random:0", "--pool", "avg", "--quiet",
    ])
    #expect(extract.status == 0, "\(extract.stderr)")
    let image = try #require(try FileManager.default.contentsOfDirectory(atPath: tree + "/roses").sorted().first)
    let sheet = dir.path("sheet.png")
    let result = try runFeatx([
      "neighbors", store, tree + "/roses/" + image, dir.path("missing.jpg"), "-k", "3", "--format", "json", "--sheet", sheet,
    ])
    #expect(result.status == 1, "a query that cannot be read makes the exit status 1")
    #expect(result.stderr.contains("\(dir.path("missing.jpg")): unreadable"), "\(result.stderr)")
    let answers = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    #expect(answers.count == 2)
    let first = try #require((answers[0]["neighbors"] as? [[String: Any]])?.first)
    #expect(first["path"] as? String == "roses/" + image)
    #expect(((first["similarity"] as? Double) ?? 0) > 0.99999)
    #expect((answers[1]["neighbors"] as? [Any])?.isEmpty == true)
    let picture = try ImageDecoder().decode(path: sheet)
    #expect(picture.width == 16 * 2 + 4 * 160 + 3 * 12)
  }
}
