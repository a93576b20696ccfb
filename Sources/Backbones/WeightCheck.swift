import Weights

/// Checks a state_dict against an architecture before any of it is used: every expected key present with
/// its shape, nothing unexpected; otherwise an error that lists the problems and, when it can, names the
/// architecture the file really holds.
public enum WeightCheck {
  /// Renames torchvision's pre-2018 DenseNet keys and, for `rdnet*`, NAVER's `stem.stem.` keys (timm's
  /// checkpoint filter, `TimmConfig.filterKeys`), then verifies names and shapes.
  ///
  /// - Returns: the state_dict with modern key names.
  /// - Throws: `BackboneError.weightsMismatch` listing missing, unexpected and misshapen tensors.
  public static func conform(_ dict: StateDict, to config: ArchitectureConfig, name: String) throws -> StateDict {
    let renamed = modernized(TimmConfig.filterKeys(dict, architecture: name))
    if case .visionTransformer = config, let problem = TransformerCheckpoints.textTowerOnly(dict) {
      throw BackboneError.weightsMismatch(path: dict.source, arch: name, problems: [problem], looksLike: nil)
    }
    let problems = self.problems(renamed, config.parameters)
    guard problems.isEmpty else {
      let keys = Set(renamed.keys)
      let guess = Architecture.allCases.first {
        $0.rawValue != name && self.problems(renamed, $0.config.adapted(toKeys: keys).parameters).isEmpty
      }
      throw BackboneError.weightsMismatch(path: dict.source, arch: name, problems: problems, looksLike: guess?.rawValue)
    }
    return renamed
  }

  /// The first architecture (in `Architecture.allCases` order, any of its key layouts) whose every key and
  /// shape `dict` holds: how a weights file is recognised by its content when no architecture is named.
  public static func architecture(holding dict: StateDict) -> Architecture? {
    let keys = Set(dict.keys)
    return Architecture.allCases.first { arch in
      let renamed = modernized(TimmConfig.filterKeys(dict, architecture: arch.rawValue))
      return problems(renamed, arch.config.adapted(toKeys: keys).parameters).isEmpty
    }
  }

  /// Applies `DenseNet.modernKey` to every key.
  static func modernized(_ dict: StateDict) -> StateDict {
    var out = dict
    out.keys = dict.keys.map(DenseNet.modernKey)
    out.tensors = Dictionary(dict.tensors.map { (DenseNet.modernKey($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
    return out
  }

  /// Human-readable problems of `dict` against `expected` (empty when it conforms).
  ///
  /// The classifier (`fc`, `classifier`) may be absent or have any number of classes, and
  /// `num_batches_tracked` may be absent (checkpoints older than PyTorch 0.4.1 lack it).
  static func problems(_ dict: StateDict, _ expected: [ParameterSpec]) -> [String] {
    var missing: [String] = []
    var misshapen: [String] = []
    var known = Set<String>()
    for spec in expected {
      known.insert(spec.name)
      guard let tensor = dict.tensors[spec.name] else {
        if spec.usedForFeatures { missing.append(spec.name) }
        continue
      }
      switch spec.kind {
      case .linearWeight:
        if tensor.shape.count != 2 || tensor.shape[1] != spec.shape[1] {
          misshapen.append("\(spec.name) has shape \(tensor.shape), expected [classes, \(spec.shape[1])]")
        }
      case .linearBias:
        if tensor.shape.count != 1 { misshapen.append("\(spec.name) has shape \(tensor.shape), expected [classes]") }
      case .bnBatchesTracked:
        break
      default:
        if tensor.shape != spec.shape {
          misshapen.append("\(spec.name) has shape \(tensor.shape), expected \(spec.shape)")
        } else if !tensor.isFloatingPoint {
          misshapen.append("\(spec.name) is an integer tensor")
        }
      }
    }
    let unexpected = dict.keys.filter { !known.contains($0) }
    var problems: [String] = []
    if !missing.isEmpty { problems.append("\(missing.count) missing tensor(s): \(missing.prefix(5).joined(separator: ", "))") }
    if !unexpected.isEmpty {
      problems.append("\(unexpected.count) unexpected tensor(s): \(unexpected.prefix(5).joined(separator: ", "))")
    }
    return problems + misshapen
  }
}
