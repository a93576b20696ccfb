import DNNL

/// A backbone could not be built, loaded or run. The description says what failed, on what, and what to do.
public enum BackboneError: Error, CustomStringConvertible, Equatable {
  /// The file parses but does not hold the architecture's parameters.
  case weightsMismatch(path: String, arch: String, problems: [String], looksLike: String?)
  /// The sha256 of a file does not start with the prefix in its torchvision name.
  case hashMismatch(path: String, expectedPrefix: String, actual: String)
  /// The weights could not be found locally nor downloaded.
  case weightsUnavailable(name: String, url: String, searched: [String], reason: String)
  /// A file featx knows by name has another sha256 than the one featx pins for it.
  case pinnedHashMismatch(path: String, expected: String, actual: String)
  /// The weights carry no ImageNet classifier of the architecture (a feature-only checkpoint).
  case noClassifier(path: String, problem: String)
  /// An unknown architecture, layer or pooling name.
  case unknown(kind: String, value: String, choices: [String])
  /// bfloat16 was asked for on a CPU that does not multiply it natively.
  case unsupportedPrecision(String)
  /// A pooling the tapped layer cannot be reduced with (`max` over tokens, `token` without a class token).
  case unsupportedPooling(pooling: String, layer: String, choices: [String])
  /// An input whose side is not a multiple of the transformer's patch.
  case inputNotPatchMultiple(arch: String, height: Int, width: Int, patch: Int)
  /// The memory for a network's weights or activations could not be allocated.
  case outOfMemory(bytes: Int)
  /// The input image is too small for the architecture.
  case inputTooSmall(arch: String, height: Int, width: Int)
  /// A timm `config.json` that cannot be used: broken JSON, no or an unknown architecture, preprocessing
  /// featx does not reproduce.
  case badTimmConfig(path: String, reason: String)
  /// The architecture asked for is not the one a timm `config.json` names.
  case architectureConflict(requested: String, path: String, found: String)
  /// A local timm model folder lacks config.json or a weights file.
  case timmFolderIncomplete(path: String, missing: String)
  /// The architecture has no torchvision file to default to (RDNet's weights are on the Hugging Face hub).
  case noDefaultWeights(arch: Architecture)

  public var description: String {
    switch self {
    case .weightsMismatch(let path, let arch, let problems, let looksLike):
      var text = "\(path): does not hold \(arch) weights"
      if let looksLike { text += " (this looks like \(looksLike) weights, not \(arch))" }
      let shown = problems.prefix(8).joined(separator: "; ")
      let more = problems.count > 8 ? "; … and \(problems.count - 8) more" : ""
      return text + ": \(shown)\(more)"
    case .pinnedHashMismatch(let path, let expected, let actual):
      return "\(path): sha256 \(actual), but featx pins \(expected) for this file: it is corrupt or not the genuine "
        + "one. Delete it and fetch it again (scripts/genuine-weights)."
    case .hashMismatch(let path, let expectedPrefix, let actual):
      return "\(path): sha256 \(actual) does not start with \(expectedPrefix) as its name promises: the file is corrupt "
        + "or not the official one. Delete it and download it again."
    case .noClassifier(let path, let problem):
      return "\(path): \(problem): without a head, featx predict classifies with the weights' own ImageNet "
        + "classifier. Train a head (featx probe) and give it first, or use weights that have their classifier."
    case .weightsUnavailable(let name, let url, let searched, let reason):
      return "cannot find weights \(name) (looked in \(searched.joined(separator: ", "))) and cannot download \(url): "
        + "\(reason). Download it elsewhere and put it at \(searched.last ?? name)"
    case .unknown(let kind, let value, let choices):
      return "unknown \(kind) '\(value)'; choose one of: \(choices.joined(separator: ", "))"
    case .unsupportedPrecision(let choice):
      return
        "precision \(choice) needs a CPU with AVX512_BF16 or AMX, which this one lacks (oneDNN sees \(CPU.isaName)); use f32 or auto"
    case .unsupportedPooling(let pooling, let layer, let choices):
      return "pooling \(pooling) does not apply to layer \(layer); choose one of: \(choices.joined(separator: ", "))"
    case .inputNotPatchMultiple(let arch, let height, let width, let patch):
      func near(_ n: Int) -> String {
        let below = max(patch, n / patch * patch)
        return below == n ? "\(n)" : "\(below) or \(below + patch)"
      }
      return "input \(height)x\(width) is not a multiple of \(arch)'s \(patch)-pixel patch: use a crop of "
        + "\(near(height)) x \(near(width)) (--crop)"
    case .outOfMemory(let bytes):
      return "cannot allocate \(bytes >> 20) MiB for the network: use a smaller batch or free memory"
    case .inputTooSmall(let arch, let height, let width):
      return "input \(height)x\(width) is too small for \(arch): use images of at least 32x32 after preprocessing"
    case .badTimmConfig(let path, let reason):
      return "\(path): not a usable timm config.json: \(reason)"
    case .architectureConflict(let requested, let path, let found):
      return "architecture \(requested) contradicts \(path), which is the config of \(found) weights"
    case .timmFolderIncomplete(let path, let missing):
      return "\(path): a timm model folder needs \(missing) (as timm's save_pretrained or huggingface_hub writes it)"
    case .noDefaultWeights(let arch):
      return "\(arch.rawValue) has no torchvision weights file: name its weights"
        + (arch.hubRepository.map { " (hf-hub:\($0) on the Hugging Face hub)" } ?? "") + ", a file, or random"
    }
  }
}
