import Images

/// Extraction could not proceed. The description says what and what to do.
public enum ExtractError: Error, CustomStringConvertible, Equatable {
  /// Images per forward pass must be at least 1.
  case invalidBatchSize(Int)
  case dataset(path: String, reason: String)
  case output(path: String, reason: String)
  case badImage(ImageError)
  /// Every one of `count` images failed; `first` is the first of them, with its reason.
  case noReadableImage(root: String, count: Int, first: String, reason: String)
  case interrupted(path: String, rowsComplete: Int, rows: Int, signal: Int32)

  public var description: String {
    switch self {
    case .invalidBatchSize(let n): "the batch size must be at least 1 image, not \(n)"
    case .dataset(let path, let reason): "\(path): \(reason)"
    case .output(let path, let reason): "\(path): \(reason)"
    case .badImage(let error): "\(error.description) (run without --strict to skip unreadable images)"
    case .noReadableImage(let root, let count, let first, let reason):
      "\(root): none of the \(count) images could be read, so no store was written; the first, \(first), is \(reason)"
    case .interrupted(let path, let done, let rows, _):
      "interrupted: \(path) holds \(done) of \(rows) rows; run the same command again to resume"
    }
  }
}
