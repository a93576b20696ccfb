// timm weights, which come with a config.json naming their architecture and preprocessing: a model on the
// Hugging Face hub (`--weights hf-hub:ORG/NAME[@REVISION]`, timm's syntax), found in the Hugging Face cache
// or downloaded into it, or a local folder holding config.json and the weights (timm's `local-dir:`).

import Foundation
import Support
import Weights

/// Where timm weights are.
public enum TimmWeights: Equatable, Sendable {
  case hub(HubRepo)
  /// A folder holding config.json and model.safetensors, pytorch_model.bin, pytorch_model.pth or model.pth.
  case folder(String)

  /// The weight files a local folder may hold, in timm's order of preference (`load_state_dict_from_path`'s
  /// `_PREFERRED_FILES`, the CNN ones).
  public static let folderWeightFiles = ["model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth"]

  /// A `--weights` value naming timm weights (`hf-hub:…` or an existing folder), else nil.
  /// - Throws: `BackboneError.unknown` for a malformed `hf-hub:` name.
  public static func parse(_ text: String) throws -> TimmWeights? {
    if HubRepo.isHubName(text) { return .hub(try HubRepo(parsing: text)) }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: text, isDirectory: &isFolder), isFolder.boolValue { return .folder(text) }
    return nil
  }
}

extension WeightsResolver {
  /// config.json and the weights of a timm model: a folder's files; a hub model's from the Hugging Face
  /// cache, else downloaded into it (unless downloads are off).
  ///
  /// - Throws: `BackboneError.timmFolderIncomplete` or `.hubUnavailable`, saying what to put where.
  public func locate(_ timm: TimmWeights, progress: (@Sendable (Int64, Int64) -> Void)? = nil) throws -> TimmFiles {
    switch timm {
    case .folder(let folder):
      let config = folder + "/config.json"
      guard fileExists(config) else { throw BackboneError.timmFolderIncomplete(path: folder, missing: "config.json") }
      guard let weights = TimmWeights.folderWeightFiles.map({ folder + "/" + $0 }).first(where: fileExists) else {
        let names = TimmWeights.folderWeightFiles
        throw BackboneError.timmFolderIncomplete(
          path: folder,
          missing: "a weights file (\(names.dropLast().joined(separator: ", ")) or \(names.last!)) beside config.json")
      }
      return TimmFiles(config: config, weights: weights, hub: nil)
    case .hub(let repo):
      let missing: String
      let needs: String
      switch hfHub.lookup(repo) {
      case .found(let files): return files
      case .missing(let what, let needed): (missing, needs) = (what, needed)
      }
      if let reason = hfHub.offlineReason ?? (allowDownload ? nil : "downloads are disabled") {
        throw hfHub.unavailable(repo, missing: missing, needs: needs, download: "downloads are off (\(reason))")
      }
      do {
        return try HubDownload(cache: hfHub).fetch(repo, progress: progress)
      } catch {
        throw hfHub.unavailable(repo, missing: missing, needs: needs, download: "cannot download it: \(error)")
      }
    }
  }

  /// Reads the weights of located timm files (timm's key filter for the architecture is applied when the
  /// backbone checks them, `WeightCheck`). A snapshot file that links to a blob named by a sha256 (LFS
  /// files) must hash to that name.
  public func loadTimm(_ files: TimmFiles) throws -> StateDict {
    let dict = try Self.loadVerified(files.weights)
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: files.weights) {
      let blob = (target as NSString).lastPathComponent
      if blob.utf8.count == 64, blob.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }), dict.sha256 != blob {
        throw BackboneError.hashMismatch(path: files.weights, expectedPrefix: blob, actual: dict.sha256)
      }
    }
    return dict
  }
}
