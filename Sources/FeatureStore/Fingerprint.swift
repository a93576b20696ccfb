// The extraction fingerprint: the settings that make two stores' features comparable, in one place.
// Resume (`StoreComparison`), merge, `evaluate`, `probe --test` and `predict` all compare through it, so a
// setting added here is compared everywhere.

extension StoreMetadata {
  /// One setting of the fingerprint with its value, as messages print it.
  public struct Setting: Sendable, Equatable {
    public var name: String
    public var value: String
  }

  /// How the features were made: arch, weights sha256, layer, pooling, preprocessing, precision, feature
  /// shape. Features with the same values are interchangeable (a head trained on one scores the other).
  public var featureFingerprint: [Setting] {
    [
      Setting(name: "arch", value: arch), Setting(name: "weights sha256", value: weightsSHA256),
      Setting(name: "layer", value: layer), Setting(name: "pooling", value: pooling),
      Setting(name: "preprocessing", value: preprocess), Setting(name: "precision", value: precision),
      Setting(name: "feature shape", value: "\(featureShape)"),
    ]
  }

  /// The features' fingerprint and how the rows were chosen: split mode, seed, ratio and folders, and the
  /// dataset's size. Stores of one extraction (its shards, or a resumed run) agree on all of it.
  public var extractionFingerprint: [Setting] {
    featureFingerprint + [
      Setting(name: "split", value: splitMode.rawValue), Setting(name: "split seed", value: "\(splitSeed)"),
      Setting(name: "split ratio", value: "\(splitRatio)"),
      Setting(name: "split folders", value: splitFolders?.summary ?? "none"),
      Setting(name: "dataset size", value: "\(datasetRows)"),
    ]
  }

  /// A setting in which two fingerprints differ.
  public struct Difference: Sendable, Equatable, CustomStringConvertible {
    public var setting: String
    /// This store's (or head's) value, and the other one's.
    public var expected: String
    public var found: String
    public var description: String { "\(setting) was \(expected), now \(found)" }
  }

  /// The settings of `fingerprint` (`\.featureFingerprint` or `\.extractionFingerprint`) in which `other`
  /// differs from this, in order.
  public func differences(from other: StoreMetadata, in fingerprint: KeyPath<StoreMetadata, [Setting]>) -> [Difference] {
    zip(self[keyPath: fingerprint], other[keyPath: fingerprint]).compactMap { mine, theirs in
      mine.value == theirs.value ? nil : Difference(setting: mine.name, expected: mine.value, found: theirs.value)
    }
  }
}
