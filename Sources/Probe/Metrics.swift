/// Classification metrics as free functions over scores and labels, easy to check by hand.
public enum Metrics {
  /// Index of the largest value of each row of `scores` (`rows` x `classes`).
  public static func argmax(_ scores: [Float], classes: Int) -> [Int] {
    precondition(classes > 0 && scores.count % classes == 0, "Metrics.argmax: \(scores.count) scores for \(classes) classes")
    return (0..<(scores.count / classes)).map { r in
      var best = 0
      for c in 1..<classes where scores[r * classes + c] > scores[r * classes + best] { best = c }
      return best
    }
  }

  /// Fraction of rows whose label is among the `k` highest scores.
  public static func topK(_ scores: [Float], labels: [Int], classes: Int, k: Int) -> Double {
    guard !labels.isEmpty else { return .nan }
    var hits = 0
    for (r, label) in labels.enumerated() {
      let mine = scores[r * classes + label]
      var higher = 0
      for c in 0..<classes where scores[r * classes + c] > mine || (scores[r * classes + c] == mine && c < label) { higher += 1 }
      if higher < k { hits += 1 }
    }
    return Double(hits) / Double(labels.count)
  }

  /// Fraction of correct predictions.
  public static func accuracy(predicted: [Int], labels: [Int]) -> Double {
    guard !labels.isEmpty else { return .nan }
    return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
  }

  /// `matrix[true][predicted]` counts.
  public static func confusionMatrix(predicted: [Int], labels: [Int], classes: Int) -> [[Int]] {
    var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (p, t) in zip(predicted, labels) { m[t][p] += 1 }
    return m
  }

  /// Per-class recall (correct / rows of that class); nan for classes without rows.
  public static func perClassAccuracy(_ confusion: [[Int]]) -> [Double] {
    confusion.enumerated().map { c, row in
      let total = row.reduce(0, +)
      return total == 0 ? .nan : Double(row[c]) / Double(total)
    }
  }
}
