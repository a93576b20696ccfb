/// The seeded shuffles behind every split featx makes (the store's train/test split at extraction, the
/// probe's validation hold-out and folds), drawn from NumPy's legacy generator so that they equal the
/// bird workflow's `np.random.seed(seed); np.random.permutation(n)`.
public enum SeededShuffle {
  /// `np.random.seed(seed); np.random.permutation(count)`.
  public static func permutation(count: Int, seed: UInt32) -> [Int] {
    var rng = NumpyRandomState(seed: seed)
    return rng.permutation(count)
  }

  /// The indices of `labels`, grouped by label and shuffled inside each group.
  ///
  /// Groups come in increasing label order, negative labels (unlabelled rows) last as one group; each
  /// group lists its indices in the order of a NumPy permutation of the group's rows (taken in index
  /// order), every group's permutation drawn in turn from one `RandomState(seed)`.
  public static func byClass(labels: [Int], seed: UInt32) -> [[Int]] {
    var rng = NumpyRandomState(seed: seed)
    let groups = Dictionary(grouping: labels.indices, by: { labels[$0] < 0 ? -1 : labels[$0] })
    let order = groups.keys.sorted { ($0 < 0 ? Int.max : $0) < ($1 < 0 ? Int.max : $1) }
    return order.map { label in
      let members = groups[label] ?? []
      return rng.permutation(members.count).map { members[$0] }
    }
  }
}
