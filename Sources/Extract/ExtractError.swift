import FeatureStore
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
  /// Some top-level folders are named like splits (`train`, `val`, …) and others are not.
  case mixedSplitFolders(root: String, splitFolders: [String], others: [String])
  /// Two folders claim the same part (`val` and `validation`, or `train` and `Train`).
  case duplicateSplitFolders(root: String, folders: [String])
  /// A split folder holds no class folders (`images` images lie directly in it).
  case splitFolderWithoutClasses(folder: String, images: Int)
  /// Images lie in a split folder beside its class folders: they have no class.
  case looseImages(folder: String, count: Int, first: String)
  /// A split folder holds a folder named like a split (`train/train`): nested one level too deep, or mislabelled.
  case nestedSplitFolder(path: String, parent: String)
  /// The test part was asked to come from a split folder that does not exist.
  case missingSplitFolder(root: String, wanted: String, found: [String])
  /// The dataset has split folders, so a computed split (random, stratified, none) would relabel their parts.
  case splitOverSplitFolders(root: String, folders: [String], mode: SplitMode)
  /// The split was asked to come from split folders, but the dataset has none.
  case noSplitFolders(root: String)

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
    case .mixedSplitFolders(let root, let splits, let others):
      "\(root): the folders \(Self.list(splits)) are named like splits but \(Self.list(others)) are not, so it is neither one "
        + "folder per class nor split folders; put every class folder inside a split folder (train/<class>/…), or rename the "
        + "split-named folders if they are classes"
    case .duplicateSplitFolders(let root, let folders):
      "\(root): the folders \(Self.list(folders)) name the same part of the split; keep one of them"
    case .splitFolderWithoutClasses(let folder, let images):
      "\(folder): a split folder must hold one folder per class (\(folder)/<class>/<image>), but it holds none"
        + (images > 0 ? " (\(images) image(s) lie directly in it)" : "")
        + "; put its images into class folders, or extract the folder itself as unlabelled images"
    case .looseImages(let folder, let count, let first):
      "\(folder): \(count) image(s) (\(first)\(count > 1 ? ", …" : "")) lie beside its class folders, so they have no class; "
        + "move them into a class folder or out of the dataset"
    case .nestedSplitFolder(let path, let parent):
      "\(path): a folder named like a split inside the split folder \(parent), so it cannot be a class; if \(parent) is "
        + "itself the dataset (its own train/, val/ …), pass \(parent) instead, else rename the folder"
    case .missingSplitFolder(let root, let wanted, let found):
      "\(root): no \(wanted) folder to take the test part from (split folders: \(Self.list(found)))"
    case .splitOverSplitFolders(let root, let folders, let mode):
      "\(root): holds the split folders \(Self.list(folders)), which already say which images are train and which test; "
        + "a \(mode.rawValue) split over them is refused so that no image changes part"
    case .noSplitFolders(let root):
      "\(root): no split folders (train/, val/, valid/, validation/ or test/, each holding class folders) to take the split from"
    }
  }

  private static func list(_ names: [String]) -> String { names.map { $0 + "/" }.joined(separator: ", ") }
}
