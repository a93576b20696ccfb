// Exact nearest neighbours by cosine similarity, at any store size: the stored rows are read once, in
// blocks, for all queries at the same time; each block meets the queries in one GEMM on oneDNN, and a
// streaming top-k (CKernels) keeps each query's k best. Memory is the queries, one block of stored rows,
// one block of similarities and the k best per query, never a queries × rows matrix.

import CKernels
import DNNL
import Dispatch
import Foundation
import Probe

/// The k nearest stored rows of each query, best first.
public struct Neighbors: Sendable {
  public let queries: Int
  public let k: Int
  /// `queries × k` indices into the searched rows.
  public var indices: [Int]
  /// `queries × k` cosine similarities, matching `indices`.
  public var similarities: [Float]

  /// The neighbours of query `q`: (row, similarity), best first.
  public func of(_ q: Int) -> [(row: Int, similarity: Float)] {
    (0..<k).map { (indices[q * k + $0], similarities[q * k + $0]) }
  }
}

/// Brute-force cosine search over the rows of a `FeatureMatrix` (in memory or streamed from a store).
public enum CosineSearch {
  /// Rows are L2-normalised as torch's `F.normalize` does: `x / max(|x|, 1e-12)`. A zero row stays zero,
  /// so its cosine similarity with anything is 0.
  public static func normalize(_ rows: UnsafeMutableBufferPointer<Float>, dimension: Int) {
    let n = rows.count / dimension
    for r in 0..<n {
      let row = UnsafeMutableBufferPointer(rebasing: rows[(r * dimension)..<((r + 1) * dimension)])
      var sum = 0.0
      for x in row { sum += Double(x) * Double(x) }
      let scale = Float(1 / max(sum.squareRoot(), 1e-12))
      for i in row.indices { row[i] *= scale }
    }
  }

  /// The `k` most similar rows of `base` for each of the `count` rows of `queries` (row-major, `base.dimension`
  /// wide, not yet normalised). Similarities are float32 dot products of normalised rows (their last bits
  /// depend on the GEMM's block shape, as any BLAS's do); equal similarities are ordered by row, the
  /// earlier first.
  ///
  /// - Parameters:
  ///   - blockRows: stored rows per GEMM; 4096 × 768 floats is 12 MB.
  ///   - progress: called after each block with the rows searched so far.
  /// - Throws: `SearchError.tooFewRows` when `k` exceeds the rows of `base`; whatever reading `base` throws
  ///   (non-finite features name their row).
  public static func nearest(
    queries: [Float], count: Int, in base: FeatureMatrix, k: Int, blockRows: Int = 4096,
    progress: (Int) -> Void = { _ in }
  ) throws -> Neighbors {
    let d = base.dimension
    precondition(queries.count == count * d, "CosineSearch: \(queries.count) values for \(count) queries of \(d)")
    guard k >= 1, k <= base.rows else { throw SearchError.tooFewRows(k: k, rows: base.rows) }
    var normalized = queries
    normalized.withUnsafeMutableBufferPointer { normalize($0, dimension: d) }
    var heapScores = [Float](repeating: 0, count: count * k)
    var heapIndex = [Int64](repeating: 0, count: count * k)
    var heapSize = [Int](repeating: 0, count: count)
    let queryBlock = min(count, 1024)
    var block = [Float]()
    var similarities = [Float](repeating: 0, count: queryBlock * min(blockRows, base.rows))
    let workers = max(1, min(CPU.available, 16))
    try base.forEachChunk(maxRows: blockRows) { range, chunk in
      block.removeAll(keepingCapacity: true)
      block.append(contentsOf: chunk)
      block.withUnsafeMutableBufferPointer { normalize($0, dimension: d) }
      var q0 = 0
      while q0 < count {
        let q1 = min(count, q0 + queryBlock)
        try normalized.withUnsafeBufferPointer { qs in
          try block.withUnsafeBufferPointer { b in
            try similarities.withUnsafeMutableBufferPointer { s in
              try GEMM.multiply(
                qs.baseAddress! + q0 * d, b.baseAddress!, transposeB: true, into: s.baseAddress!, m: q1 - q0,
                n: range.count, k: d)
            }
          }
        }
        similarities.withUnsafeBufferPointer { s in
          heapScores.withUnsafeMutableBufferPointer { hs in
            heapIndex.withUnsafeMutableBufferPointer { hi in
              heapSize.withUnsafeMutableBufferPointer { sizes in
                // Each worker owns the heaps of its own queries.
                nonisolated(unsafe) let (sp, hsp, hip, szp) = (
                  s.baseAddress!, hs.baseAddress!, hi.baseAddress!, sizes.baseAddress!
                )
                let (first, end, parts) = (q0, q1, min(workers, q1 - q0))
                DispatchQueue.concurrentPerform(iterations: parts) { w in
                  for q in stride(from: first + w, to: end, by: parts) {
                    featx_topk_offer(
                      sp + (q - first) * range.count, range.count, Int64(range.lowerBound), hsp + q * k, hip + q * k, k,
                      szp + q)
                  }
                }
              }
            }
          }
        }
        q0 = q1
      }
      progress(range.upperBound)
    }
    heapScores.withUnsafeMutableBufferPointer { hs in
      heapIndex.withUnsafeMutableBufferPointer { hi in
        for q in 0..<count { featx_topk_sort(hs.baseAddress! + q * k, hi.baseAddress! + q * k, k) }
      }
    }
    return Neighbors(queries: count, k: k, indices: heapIndex.map { Int($0) }, similarities: heapScores)
  }
}

/// What a search cannot do with its input.
public enum SearchError: Error, CustomStringConvertible, Equatable {
  case tooFewRows(k: Int, rows: Int)
  /// A k-NN evaluation without rows to classify.
  case noTestRows(path: String)

  public var description: String {
    switch self {
    case .tooFewRows(let k, let rows):
      "k = \(k) needs at least \(k) stored rows to search, and there are \(rows); ask for k ≤ \(rows)"
    case .noTestRows(let path):
      "\(path) has no test rows to classify: every labelled row is in its train part"
    }
  }
}
