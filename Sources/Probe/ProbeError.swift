/// Training or prediction could not proceed. The description names the file and says what to do.
public enum ProbeError: Error, CustomStringConvertible, Equatable {
  case noTrainRows(path: String)
  /// The store holds no labels (label -1 on every row).
  case unlabelled(path: String)
  case tooFewClasses(path: String, found: Int)
  case nonFinite(path: String, row: Int, image: String)
  /// A training setting that cannot work (the CLI names its option).
  case invalidSetting(ProbeSetting, reason: String)
  case notAHead(path: String, reason: String)
  case dimensionMismatch(head: String, expected: Int, got: Int)
  case weightsMismatch(head: String, expected: String, got: String, file: String)
  /// The store's features were made otherwise than `reference`'s (a head or a training store): the first
  /// differing setting of the extraction fingerprint, with both values.
  case fingerprintMismatch(reference: String, store: String, setting: String, expected: String, found: String)
  /// A store to score holds no labelled row.
  case nothingToScore(path: String)
  /// Rows of a store to score belong to classes `reference` (with `known` classes) does not have.
  case unknownClasses(store: String, reference: String, classes: [String], known: Int)
  /// The discriminant's covariance is singular even after shrinkage (a constant or duplicated feature).
  case notPositiveDefinite(column: Int)

  public var description: String {
    switch self {
    case .noTrainRows(let path):
      "\(path): no labelled rows with split = train"
    case .unlabelled(let path):
      "\(path): the store has no labels (label -1 on every row: its images were not in class folders). "
        + "Train on a store extracted from a folder of class folders, or from a list with labels."
    case .tooFewClasses(let path, let found):
      "\(path): the train rows hold \(found) class(es); a classifier needs at least 2."
    case .nonFinite(let path, let row, let image):
      "\(path): row \(row) (\(image)) holds NaN or infinite values; re-extract that image or remove the row."
    case .invalidSetting(let setting, let reason):
      "invalid probe setting \(setting.rawValue): \(reason)"
    case .notAHead(let path, let reason):
      "\(path): not a featx head (\(reason)). Pass a file written by `featx probe`."
    case .dimensionMismatch(let head, let expected, let got):
      "\(head) expects \(expected) features per image, but the backbone produced \(got): the head was trained on another layer or pooling."
    case .weightsMismatch(let head, let expected, let got, let file):
      "\(file) has sha256 \(got), but \(head) was trained on features of weights with sha256 \(expected)"
    case .fingerprintMismatch(let reference, let store, let setting, let expected, let found):
      "\(store): its features were extracted with \(setting) \(found), but \(reference)'s with \(setting) \(expected), "
        + "so scores on it would mean nothing; extract its images again the way \(reference)'s were "
        + "(`featx info` shows arch, weights, layer, pooling, preprocessing and precision)"
    case .nothingToScore(let path):
      "\(path): the store has no labels (label -1 on every row: its images were not in class folders), so there is "
        + "nothing to score against; classify its images with `featx predict`, or extract a folder of class folders"
    case .unknownClasses(let store, let reference, let classes, let known):
      "\(store): rows of the class(es) \(classes.prefix(5).joined(separator: ", "))\(classes.count > 5 ? ", …" : "") "
        + "are not among the \(known) classes of \(reference), so they cannot be scored; score them with a head "
        + "trained on those classes, or extract the store without them"
    case .notPositiveDefinite(let column):
      "the features' covariance is singular at feature \(column) even after shrinkage (constant or duplicated "
        + "features); use --recipe lbfgs"
    }
  }
}

/// The settings of `ProbeSettings` that `ProbeError.invalidSetting` can name.
public enum ProbeSetting: String, Sendable {
  case threads
  case lambdas = "L2 strengths"
  case maxIterations = "maximum iterations"
  case sweepIterations = "iterations per L2 value of the sweep"
  case validationFraction = "validation fraction"
  case gramPrecision = "Gram precision"
  case epochs
  case batchSize = "batch size"
  case learningRate = "learning rate"
  case weightDecay = "weight decay"
  case shrinkage
  case covarianceRows = "covariance rows"
  case pooling
}
