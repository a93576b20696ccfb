import FeatureStore
import Support

/// How rows are split into train and test.
public struct SplitConfig: Sendable, Equatable {
  public var mode: SplitMode
  /// Fraction of rows (or of each class's rows) that are train.
  public var ratio: Double
  public var seed: UInt32

  public init(mode: SplitMode, ratio: Double = 0.8, seed: UInt32 = 2021) {
    self.mode = mode
    self.ratio = ratio
    self.seed = seed
  }

  /// `SplitPart` raw values for the items of `dataset`, in row order: the parts of its split folders
  /// (mode `folders`), else `assign(labels:)`.
  ///
  /// - Throws: `ExtractError.splitOverSplitFolders` when the dataset has split folders and the mode is
  ///   another (their parts are never recomputed), `ExtractError.noSplitFolders` for mode `folders` on a
  ///   dataset without them.
  public func assign(_ dataset: Dataset, source: String) throws -> [UInt8] {
    if let folders = dataset.splitFolders {
      guard mode == .folders else {
        let names = [folders.train?.name, folders.test?.name].compactMap { $0 } + folders.leftOut.map(\.name)
        throw ExtractError.splitOverSplitFolders(root: source, folders: names, mode: mode)
      }
      return dataset.items.map { ($0.part ?? .train).rawValue }
    }
    guard mode != .folders else { throw ExtractError.noSplitFolders(root: source) }
    return assign(labels: dataset.items.map(\.label))
  }

  /// `SplitPart` raw values for rows with these labels, in row order.
  ///
  /// `random` reproduces the bird workflow exactly: `np.random.seed(seed)`,
  /// `perm = np.random.permutation(N)`, the first `int(N * ratio)` of `perm` are train.
  /// `stratified` does the same inside each class, classes in label order, drawing every class's
  /// permutation from one generator seeded once (unlabelled rows form one group after the classes).
  /// `folders` needs the walk's parts (`assign(_:source:)`): from labels alone it is a programming error.
  public func assign(labels: [Int64]) -> [UInt8] {
    let train = SplitPart.train.rawValue
    let test = SplitPart.test.rawValue
    switch mode {
    case .none:
      return [UInt8](repeating: train, count: labels.count)
    case .random:
      let perm = SeededShuffle.permutation(count: labels.count, seed: seed)
      let trainCount = Int(Double(labels.count) * ratio)
      var parts = [UInt8](repeating: test, count: labels.count)
      for row in perm.prefix(trainCount) { parts[row] = train }
      return parts
    case .stratified:
      var parts = [UInt8](repeating: test, count: labels.count)
      for rows in SeededShuffle.byClass(labels: labels.map { Int($0) }, seed: seed) {
        for row in rows.prefix(Int(Double(rows.count) * ratio)) { parts[row] = train }
      }
      return parts
    case .folders:
      preconditionFailure("SplitConfig.assign(labels:): the folders split comes from the walk; call assign(_:source:)")
    }
  }
}
