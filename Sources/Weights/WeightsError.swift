/// A weights file could not be read, or a hub model could not be had. The description names the file (or
/// model) and what to do.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
  /// A weights file could not be parsed (corrupt, truncated, unsupported, or hostile).
  case badWeightsFile(path: String, reason: String)
  /// A weights file's pickle names code featx will not run.
  case forbiddenGlobal(path: String, global: String)
  /// A Hugging Face model name that is not `ORG/NAME[@REVISION]`.
  case badHubName(String)
  /// A hub model is not in the Hugging Face cache and could not be downloaded.
  case hubUnavailable(repo: String, cache: String, missing: String, download: String, needs: String, command: String)

  public var description: String {
    switch self {
    case .badWeightsFile(let path, let reason):
      "\(path): not a usable weights file: \(reason). Pass a torchvision checkpoint (.pth) or .safetensors file."
    case .forbiddenGlobal(let path, let global):
      "\(path): refused: the checkpoint's pickle calls `\(global)`, which a weights file never needs. "
        + "featx does not run code from weight files; re-save the state_dict with torch.save(model.state_dict(), path)."
    case .badHubName(let text):
      "unknown Hugging Face model '\(text)'; choose one of: "
        + "hf-hub:ORG/NAME or hf-hub:ORG/NAME@REVISION (letters, digits, '-', '_', '.'; no '--' or '..')"
    case .hubUnavailable(let repo, let cache, let missing, let download, let needs, let command):
      "\(repo) is not in the Hugging Face cache \(cache) (\(missing)) and \(download): put \(needs) "
        + "(`\(command)` does exactly that)"
    }
  }
}
