import Images

/// Extraction could not proceed. The description says what and what to do.
public enum ExtractError: Error, CustomStringConvertible, Equatable {
  /// Images per forward pass must be at least 1.
  case invalidBatchSize(Int)
  case dataset(path: String, reason: String)
  case output(path: String, reason: String)
  /// The output exists and cannot be resumed (`why`); replacing it is the caller's choice.
  case outputExists(path: String, why: String)
  /// Sorting classes by display name would merge these folders (same name after `NNN.`).
  case displayNameClash(root: String, folders: [String], name: String)
  case badImage(ImageError)
  /// Every one of `count` images failed; `first` is the first of them, with its reason.
  case noReadableImage(root: String, count: Int, first: String, reason: String)
  case interrupted(path: String, rowsComplete: Int, rows: Int, signal: Int32)

  public var description: String {
    switch self {
    case .invalidBatchSize(let n): "the batch size must be at least 1 image, not \(n)"
    case .dataset(let path, let reason): "\(path): \(reason)"
    case .output(let path, let reason): "\(path): \(reason)"
    case .outputExists(let path, let why): "\(path): exists and cannot be resumed: \(why)"
    case .displayNameClash(let root, let folders, let name):
      "\(root): folders \(folders.joined(separator: ", ")) share the display name \(name), so ordering classes by display name would merge them"
    case .badImage(let error): error.description
    case .noReadableImage(let root, let count, let first, let reason):
      "\(root): none of the \(count) images could be read, so no store was written; the first, \(first), is \(reason)"
    case .interrupted(let path, let done, let rows, _):
      "interrupted: \(path) holds \(done) of \(rows) rows; run the same command again to resume"
    }
  }
}
