// DINOv2's weighted k-NN classifier (dinov2/eval/knn.py, DINO's eval_knn.py before it): the standard
// second number beside a linear probe, needing no training. The k nearest train rows by cosine
// similarity vote for their class with weight exp(similarity / T); the class with the most weight wins.
//
// Tie rules (knn.py leaves them to torch.topk and argmax): neighbours with equal similarity are ordered by
// train row, the earlier first; class weights are summed in double in neighbour order; equal class
// weights are ranked by class index, the lower first (as `Metrics` ranks equal logits).

import DNNL
import Foundation
import Probe

/// The k-NN protocol's numbers.
public struct KNNSettings: Sendable {
  /// Neighbour counts to report (DINOv2's defaults).
  public var ks = [10, 20, 100, 200]
  /// Softmax temperature of the votes (DINOv2's default).
  public var temperature = 0.07
  /// Threads for the GEMMs (0 = every core).
  public var threads = 0

  public init() {}
}

/// One k of a k-NN evaluation.
public struct KNNResult: Sendable {
  public var k: Int
  /// `queries × classes` vote shares: each class's summed weight over the summed weight of the k
  /// neighbours (knn.py's probabilities up to one factor per query, which changes no ranking).
  public var shares: [Float]
  public var report: ProbeReport
}

/// A k-NN evaluation: the neighbours of every test row, and the report for each k.
public struct KNNEvaluation: Sendable {
  public var neighbors: Neighbors
  public var results: [KNNResult]
  /// Seconds spent searching (reading and multiplying), and in all.
  public var searchSeconds: Double
  public var seconds: Double

  /// The result whose test top-1 is highest (the smaller k on ties).
  public var best: KNNResult {
    results.max { ($0.report.test?.top1 ?? 0, -$0.k) < ($1.report.test?.top1 ?? 0, -$1.k) }!
  }
}

public enum WeightedKNN {
  /// Class weights for the first `k` of each query's neighbours (labels of the searched rows in
  /// `labels`), as vote shares.
  public static func shares(_ neighbors: Neighbors, labels: [Int], classes: Int, k: Int, temperature: Double) -> [Float] {
    var out = [Float](repeating: 0, count: neighbors.queries * classes)
    var score = [Double](repeating: 0, count: classes)
    for q in 0..<neighbors.queries {
      for c in 0..<classes { score[c] = 0 }
      let base = q * neighbors.k
      let top = Double(neighbors.similarities[base])
      var total = 0.0
      for i in 0..<k {
        // exp((s - s_max) / T): the same ratios as exp(s / T), without overflow at small T.
        let w = exp((Double(neighbors.similarities[base + i]) - top) / temperature)
        score[labels[neighbors.indices[base + i]]] += w
        total += w
      }
      for c in 0..<classes { out[q * classes + c] = Float(score[c] / total) }
    }
    return out
  }

  /// Evaluates `data`'s test rows against its train rows for every k of `settings`.
  ///
  /// - Throws: `SearchError.tooFewRows` when the largest k exceeds the train rows; `SearchError.noTestRows`
  ///   when there are no test rows; whatever reading the rows throws (non-finite features name their row).
  public static func evaluate(
    _ data: ProbeDataset, settings: KNNSettings, progress: (Int) -> Void = { _ in }
  ) throws -> KNNEvaluation {
    let started = Date()
    guard let test = data.test, test.rows > 0 else { throw SearchError.noTestRows(path: data.store?.path ?? "the rows given") }
    let maxK = settings.ks.max() ?? 1
    let queries = try test.values()
    let neighbors = try GEMM.withThreads(settings.threads) {
      try CosineSearch.nearest(queries: queries, count: test.rows, in: data.train, k: maxK, progress: progress)
    }
    let searchSeconds = Date().timeIntervalSince(started)
    let c = data.classes.count
    let results = settings.ks.map { k in
      let shares = shares(neighbors, labels: data.train.labels, classes: c, k: k, temperature: settings.temperature)
      let report = ProbeReport(
        classifier: "knn", scores: shares, labels: test.labels, storeRows: test.storeRows, classes: data.classes,
        dimension: data.train.dimension, seconds: Date().timeIntervalSince(started))
      return KNNResult(k: k, shares: shares, report: report)
    }
    return KNNEvaluation(
      neighbors: neighbors, results: results, searchSeconds: searchSeconds, seconds: Date().timeIntervalSince(started))
  }
}
