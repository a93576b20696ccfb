import ArgumentParser
import Backbones
import DNNL
import Charts
import FeatureStore
import Foundation
import Predict
import Probe
import Search
import Support

/// `featx neighbors features.h5 photo.jpg`: the stored images most like a query image or a stored row.
struct NeighborsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "neighbors",
    abstract: "The stored images most like a query: an image file, or a row of the store.",
    discussion: """
      An image query runs through the store's own backbone, weights (found by sha256 as predict finds a \
      head's), layer, pooling and preprocessing. Similarity is the cosine of the feature vectors (exact \
      search; a zero vector is 0-similar to everything; equal similarities list the earlier row first). A \
      stored row (--row, --path) is not listed among its own neighbours. A query image that cannot be read \
      is reported in one line and the other queries are still answered. The store needs no labels.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, csv }

  @Argument(help: "Feature store written by `featx extract`.")
  var features: String

  @Argument(help: "Query images.")
  var images: [String] = []

  @Option(name: .customLong("row"), help: "A stored row to query with (0-based; repeatable).")
  var rows: [Int] = []

  @Option(name: .customLong("path"), help: "A stored image path to query with, as `featx info` lists it (repeatable).")
  var paths: [String] = []

  @Option(name: .short, help: "Neighbours per query.")
  var k: Int = 10

  @Option(help: "Output format: text (default), json or csv (one row per neighbour).")
  var format: Format = .text

  @Option(help: "Draw a contact sheet (PNG): each query, then its neighbours with class and similarity.")
  var sheet: String?

  @Option(
    help:
      "Weights file for image queries when the one extraction used is neither at its recorded path nor in the caches (same sha256)."
  )
  var weights: String?

  @Option(help: "Threads; 0 uses every CPU this process may use.")
  var threads: Int = 0

  func validate() throws {
    guard k >= 1 else { throw ValidationError("-k must be at least 1, not \(k)") }
    guard threads >= 0 else { throw ValidationError("--threads must be 0 (every CPU) or more, not \(threads)") }
    guard !(images.isEmpty && rows.isEmpty && paths.isEmpty) else {
      throw ValidationError("give a query: an image file, --row N or --path P")
    }
  }

  /// One query: its name, its feature row (nil if it could not be made) and the stored row it is, if any.
  struct Query {
    var name: String
    var file: String?
    var vector: [Float]?
    var storeRow: Int?
    var error: String?
  }

  /// What is printed per query.
  struct Answer: Encodable {
    struct Neighbor: Encodable {
      var rank: Int
      var row: Int
      var path: String
      var `class`: String?
      var similarity: Float
    }
    var query: String
    var row: Int?
    var error: String?
    var neighbors: [Neighbor]
  }

  func run() throws {
    let store = try HDF5Guard.read(features, as: .store) { try FeatureStore(path: features) }
    let matrix = try FeatureMatrix.allRows(of: store)
    let storedPaths = try store.paths()
    let labels = try store.labels()
    // A stored query is left out of its own list, so k may be at most rows - 1 for it.
    let most = rows.isEmpty && paths.isEmpty ? matrix.rows : matrix.rows - 1
    guard k <= most else {
      throw ValidationError(
        "-k \(k) is more than the \(most) rows of \(features) a query can have as neighbours; ask for -k \(most) or fewer")
    }
    var queries = try storedQueries(store: store, matrix: matrix, paths: storedPaths)
    if !images.isEmpty { queries += try imageQueries(store: store) }
    let vectors = queries.compactMap(\.vector)
    let wanted = min(matrix.rows, k + 1)
    let found = try GEMM.withThreads(threads) {
      try CosineSearch.nearest(
        queries: vectors.flatMap { $0 }, count: vectors.count, in: matrix, k: wanted)
    }
    var answers: [Answer] = []
    var slot = 0  // the search's index of the next answerable query
    for query in queries {
      var answer = Answer(query: query.name, row: query.storeRow, error: query.error, neighbors: [])
      if query.vector != nil {
        defer { slot += 1 }
        let list = found.of(slot).filter { $0.row != query.storeRow }.prefix(k)
        answer.neighbors = list.enumerated().map { rank, n in
          Answer.Neighbor(
            rank: rank + 1, row: n.row, path: storedPaths[n.row],
            class: labels[n.row] >= 0 ? store.classes[Int(labels[n.row])] : nil, similarity: n.similarity)
        }
      }
      answers.append(answer)
    }
    for answer in answers where answer.error != nil { Terminal.warn("\(answer.query): \(answer.error!)") }
    print(Self.render(answers, format: format), terminator: "")
    if let sheet { try writeSheet(answers, queries: queries, store: store, to: sheet) }
    if answers.contains(where: { $0.error != nil }) { throw ExitCode(1) }
  }

  /// `--row` and `--path` queries.
  func storedQueries(store: FeatureStore, matrix: FeatureMatrix, paths stored: [String]) throws -> [Query] {
    var out: [Query] = []
    var wanted = rows
    for path in paths {
      guard let row = stored.firstIndex(of: path) ?? stored.firstIndex(where: { $0.hasSuffix("/" + path) }) else {
        throw ValidationError("--path \(path): no row of \(features) has that path; `featx info \(features)` lists them")
      }
      wanted.append(row)
    }
    for row in wanted {
      guard row >= 0, row < matrix.rows else {
        throw ValidationError("--row \(row): \(features) has rows 0 to \(matrix.rows - 1)")
      }
      var vector = [Float](repeating: 0, count: matrix.dimension)
      try vector.withUnsafeMutableBufferPointer { try matrix.gather([row], into: $0) }
      out.append(Query(name: stored[row], file: Pictures.file(stored[row], in: store), vector: vector, storeRow: row))
    }
    return out
  }

  /// Image-file queries, through the store's own backbone.
  func imageQueries(store: FeatureStore) throws -> [Query] {
    let e = store.metadata
    let loaded = try ExtractionBackbone(
      extraction: e, pooling: e.pooling, owner: features, weights: weights, threads: threads, precision: nil,
      resolver: WeightsResolver(),
      invalid: { ValidationError("\(features): its extraction record cannot be replayed: \($0)") })
    guard loaded.dimension == store.dimension else {
      throw ValidationError(
        "\(features): its backbone now gives \(loaded.dimension) values per image, the store holds \(store.dimension)")
    }
    if loaded.backbone.weights.isRandom {
      Terminal.warn("WARNING: \(features) holds features of SEEDED RANDOM WEIGHTS; its neighbours mean nothing for real images.")
    }
    let rows = try loaded.features(of: images)
    return zip(images, rows).map { Query(name: $0, file: $0, vector: $1.row, storeRow: nil, error: $1.error) }
  }

  static func render(_ answers: [Answer], format: Format) -> String {
    switch format {
    case .json:
      return ((try? JSONText.encode(answers)) ?? "[]") + "\n"
    case .csv:
      var out = "query,rank,row,path,class,similarity\n"
      for a in answers {
        for n in a.neighbors {
          out +=
            [a.query, "\(n.rank)", "\(n.row)", n.path, n.class ?? "", String(format: "%.6f", n.similarity)].map(
              PredictionText.csv
            )
            .joined(separator: ",") + "\n"
        }
      }
      return out
    case .text:
      var out = ""
      for a in answers where a.error == nil {
        out += "\(a.query)\(a.row.map { " (row \($0))" } ?? ""):\n"
        for n in a.neighbors {
          out +=
            String(format: "%4d  %.4f  ", n.rank, n.similarity) + (n.class.map { $0 + "  " } ?? "") + n.path
            + "  (row \(n.row))\n"
        }
      }
      return out
    }
  }

  /// One grid row per query: the query (framed), then its neighbours.
  func writeSheet(_ answers: [Answer], queries: [Query], store: FeatureStore, to path: String) throws {
    var tiles: [GridTile] = []
    for (answer, query) in zip(answers, queries) where answer.error == nil {
      let name = (answer.query as NSString).lastPathComponent
      tiles.append(
        GridTile(
          image: query.file.flatMap(Pictures.thumbnail), name: name, caption: ["query", GridCaption(name)], highlighted: true))
      for n in answer.neighbors {
        let file = Pictures.file(n.path, in: store)
        tiles.append(
          GridTile(
            image: Pictures.thumbnail(file), name: (n.path as NSString).lastPathComponent,
            caption: [
              GridCaption(n.class ?? (n.path as NSString).lastPathComponent),
              GridCaption("cosine", suffix: String(format: " %.3f", n.similarity)),
            ]))
      }
      // Pad the row so every query starts a grid row.
      while tiles.count % (k + 1) != 0 { tiles.append(GridTile(image: nil, name: "", caption: [])) }
    }
    guard !tiles.isEmpty else { return }
    try Plot.imageGrid(
      tiles, columns: k + 1, title: "Nearest stored images (cosine similarity of \(features)'s features)", to: path)
  }
}
