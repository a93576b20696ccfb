// The neighbour lists of a search as an HDF5 file, for tools that want them (faiss comparisons, dedup,
// label cleaning): `indices` and `similarities` (queries × k, best first) and `query_rows`.

import HDF5
import Support

extension Neighbors {
  /// Writes the lists to `path` atomically: `indices` (int64, rows of the searched store), `similarities`
  /// (float32) and `query_rows` (int64, the store rows of the queries), with attributes `k`, `store` and
  /// `queries` naming the stores.
  public func write(to path: String, searchedRows: [Int], queryRows: [Int], store: String, queries queryStore: String) throws {
    precondition(queryRows.count == queries, "Neighbors.write: \(queryRows.count) query rows for \(queries) queries")
    try replaceAtomically(path) { temporary in
      let file = try H5File(path: temporary, mode: .createExclusive)
      let root = try file.root()
      try root.attributes.set("k", .int64(Int64(k)))
      try root.attributes.set("store", .string(store))
      try root.attributes.set("queries", .string(queryStore))
      let ids = try root.createDataset("indices", type: .int64, shape: [queries, k])
      try indices.map { Int64(searchedRows[$0]) }.withUnsafeBufferPointer { try ids.write($0, rows: 0..<queries) }
      let sims = try root.createDataset("similarities", type: .float32, shape: [queries, k])
      try similarities.withUnsafeBufferPointer { try sims.write($0, rows: 0..<queries) }
      try root.createDataset("query_rows", values: queryRows.map { Int64($0) })
    }
  }
}
