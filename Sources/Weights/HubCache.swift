// The Hugging Face hub cache, laid out and resolved exactly as huggingface_hub 2.x does
// (`file_download.py`: `hf_hub_download`, `try_to_load_from_cache`, `repo_folder_name`; `constants.py`), so
// that featx and timm/huggingface_hub share one cache and either fills it for the other:
//
//   <cache>/models--ORG--NAME/refs/<revision>            the commit hash the branch or tag pointed to
//   <cache>/models--ORG--NAME/snapshots/<commit>/FILE    symlinks ../../blobs/<etag>
//   <cache>/models--ORG--NAME/blobs/<etag>               the bytes (etag: sha256 for LFS files, else the git blob id)
//
// <cache> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (a leading ~ expanded; huggingface_hub
// also expands $VARS, which featx does not).

import Foundation
import Support

/// A model repository on the Hugging Face hub, as timm names it: `hf-hub:ORG/NAME[@REVISION]`.
public struct HubRepo: Equatable, Sendable, CustomStringConvertible {
  /// `ORG/NAME`.
  public var id: String
  /// A branch, tag or commit hash; nil means `main`.
  public var revision: String?

  public static let prefix = "hf-hub:"

  /// Parses `hf-hub:ORG/NAME[@REVISION]` (the `hf-hub:` prefix is optional here).
  /// - Throws: `WeightsError.badHubName` saying what a repository name may hold.
  public init(parsing text: String) throws {
    let body = text.hasPrefix(Self.prefix) ? String(text.dropFirst(Self.prefix.count)) : text
    let parts = body.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let names = parts[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    func refuse() -> WeightsError { .badHubName(text) }
    // huggingface_hub's validate_repo_id: [\w\-.] per part, no '--' or '..', not starting or ending with
    // '-' or '.', at most 96 characters; timm's ids always have an ORG.
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    guard names.count == 2, parts[0].count <= 96,
      names.allSatisfy({ name in
        !name.isEmpty && name.allSatisfy(allowed.contains) && !name.contains("--") && !name.contains("..")
          && !"-.".contains(name.first!) && !"-.".contains(name.last!)
      })
    else { throw refuse() }
    id = parts[0]
    if parts.count == 2 {
      // A branch may hold '/' (refs/pr/1): it becomes a nested file under refs/, so no '..' and no empty part.
      let revision = parts[1]
      let pieces = revision.split(separator: "/", omittingEmptySubsequences: false)
      guard !revision.isEmpty, revision.allSatisfy(allowed.union(["/"]).contains),
        pieces.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
      else { throw refuse() }
      self.revision = revision
    }
  }

  /// True for a `--weights` value that names a hub model.
  public static func isHubName(_ text: String) -> Bool { text.hasPrefix(prefix) }

  /// The revision asked for: the given one, else `main`.
  public var effectiveRevision: String { revision ?? "main" }

  /// `hf-hub:ORG/NAME`, with `@REVISION` when one was given.
  public var description: String { Self.prefix + id + (revision.map { "@" + $0 } ?? "") }

  /// The same model pinned to `commit`: what stores record, so that the same files are found again.
  public func pinned(to commit: String) -> HubRepo {
    var pinned = self
    pinned.revision = commit
    return pinned
  }

  /// huggingface_hub's `repo_folder_name`: `models--ORG--NAME`.
  public var folderName: String { "models--" + id.split(separator: "/").joined(separator: "--") }

  /// The command that fills the cache with this model.
  public var downloadCommand: String {
    "huggingface-cli download \(id)" + (revision.map { " --revision \($0)" } ?? "")
  }

  /// A 40-digit lowercase hex commit hash (huggingface_hub's REGEX_COMMIT_HASH).
  public static func isCommitHash(_ text: String) -> Bool {
    text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }
}

/// The files of one timm model: its `config.json` and its weights.
public struct TimmFiles: Equatable, Sendable {
  public var config: String
  public var weights: String
  /// The hub model pinned to the snapshot's commit; nil for a local folder.
  public var hub: HubRepo?

  public init(config: String, weights: String, hub: HubRepo?) {
    self.config = config
    self.weights = weights
    self.hub = hub
  }

  /// The name stores record as `weights_file`: `hf-hub:ORG/NAME@COMMIT`, or the weights file's name.
  public var recordedName: String { hub?.description ?? (weights as NSString).lastPathComponent }
}

/// The Hugging Face cache folder and what featx may do with the network.
public struct HubCache: Sendable {
  /// The cache folder (`$HF_HUB_CACHE`, …; see the top of this file).
  public var root: String
  /// `$HF_ENDPOINT` without a trailing `/`, default `https://huggingface.co`.
  public var endpoint: String
  /// Why downloads are off (`FEATX_OFFLINE`, `HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1`), or nil.
  public var offlineReason: String?
  /// True when `root` is the default `~/.cache/huggingface/hub` (messages then need no `HF_HUB_CACHE=`).
  public var isDefaultRoot: Bool

  /// Weight files of a hub model, in timm's order of preference (`load_state_dict_from_hf`: the
  /// safetensors file when the repository has one).
  public static let weightFiles = ["model.safetensors", "pytorch_model.bin"]

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
    let home = value("HOME") ?? NSHomeDirectory()
    func expanded(_ path: String) -> String {
      path == "~" ? home : path.hasPrefix("~/") ? home + path.dropFirst(1) : path
    }
    let hfHome = value("HF_HOME") ?? ((value("XDG_CACHE_HOME") ?? home + "/.cache") + "/huggingface")
    root = expanded(value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") ?? expanded(hfHome) + "/hub")
    isDefaultRoot = root == home + "/.cache/huggingface/hub"
    var endpoint = value("HF_ENDPOINT") ?? "https://huggingface.co"
    while endpoint.hasSuffix("/") { endpoint.removeLast() }
    self.endpoint = endpoint
    // huggingface_hub's _is_true: 1, ON, YES, TRUE in any case.
    func isTrue(_ key: String) -> Bool { ["1", "ON", "YES", "TRUE"].contains(value(key)?.uppercased() ?? "") }
    offlineReason =
      environment["FEATX_OFFLINE"] != nil
      ? "FEATX_OFFLINE is set"
      : isTrue("HF_HUB_OFFLINE")
        ? "HF_HUB_OFFLINE=\(value("HF_HUB_OFFLINE")!)"
        : isTrue("TRANSFORMERS_OFFLINE") ? "TRANSFORMERS_OFFLINE=\(value("TRANSFORMERS_OFFLINE")!)" : nil
  }

  /// `<cache>/models--ORG--NAME`.
  public func folder(of repo: HubRepo) -> String { root + "/" + repo.folderName }

  /// What a lookup found: the files, or why not and what is missing where.
  public enum Lookup: Equatable, Sendable {
    case found(TimmFiles)
    /// `missing` says what is absent; `needs` which files must go in which folder.
    case missing(missing: String, needs: String)
  }

  /// The model's files in the cache, without any network (huggingface_hub's offline path): the commit
  /// from `refs/<revision>` (or the revision itself when it is a commit hash), then `config.json` and
  /// `model.safetensors`, else `pytorch_model.bin`, in `snapshots/<commit>/`.
  public func lookup(_ repo: HubRepo) -> Lookup {
    let folder = folder(of: repo)
    let weights = "\(Self.weightFiles[0]) (or \(Self.weightFiles[1]))"
    let revision = repo.effectiveRevision
    let commit: String
    if HubRepo.isCommitHash(revision) {
      commit = revision
    } else {
      let ref = folder + "/refs/" + revision
      guard let text = try? String(contentsOfFile: ref, encoding: .utf8) else {
        return .missing(
          missing: "no \(ref)",
          needs: "config.json and \(weights) in \(folder)/snapshots/COMMIT/ and the COMMIT hash in \(ref)")
      }
      commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
      guard HubRepo.isCommitHash(commit) else {
        return .missing(
          missing: "\(ref) holds no commit hash",
          needs: "config.json and \(weights) in \(folder)/snapshots/COMMIT/ and the COMMIT hash in \(ref)")
      }
    }
    let snapshot = folder + "/snapshots/" + commit
    let config = snapshot + "/config.json"
    let found = Self.weightFiles.map { snapshot + "/" + $0 }.first(where: fileExists)
    switch (fileExists(config), found) {
    case (true, let weights?):
      return .found(TimmFiles(config: config, weights: weights, hub: repo.pinned(to: commit)))
    case (false, nil):
      return .missing(
        missing: "\(snapshot)/ has neither config.json nor weights", needs: "config.json and \(weights) in \(snapshot)/")
    case (false, _):
      return .missing(missing: "no \(config)", needs: "config.json in \(snapshot)/")
    case (true, nil):
      return .missing(missing: "\(snapshot)/ has no weights", needs: "\(weights) in \(snapshot)/")
    }
  }

  /// The error for a model that is not cached: `missing` and `needs` from `lookup`, `download` why it
  /// could not be downloaded.
  public func unavailable(_ repo: HubRepo, missing: String, needs: String, download: String) -> WeightsError {
    .hubUnavailable(
      repo: repo.description, cache: root, missing: missing, download: download, needs: needs,
      command: (isDefaultRoot ? "" : "HF_HUB_CACHE=\(root) ") + repo.downloadCommand)
  }

  // MARK: - Writing the layout (downloads)

  /// Stores `bytes` as `blobs/<etag>` and points `snapshots/<commit>/<file>` at it with a relative
  /// symlink, both atomically (a temporary name renamed into place), as huggingface_hub does.
  func store(_ bytes: [UInt8], repo: HubRepo, commit: String, file: String, etag: String) throws {
    let folder = folder(of: repo)
    let blob = folder + "/blobs/" + etag
    let snapshot = folder + "/snapshots/" + commit
    for dir in [folder + "/blobs", snapshot] {
      do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        throw FileError(path: dir, reason: "cannot create it: \(error.localizedDescription)")
      }
    }
    if !fileExists(blob) { try writeFileAtomically(blob, bytes) }
    let link = snapshot + "/" + file
    try replaceAtomically(link) { temporary in
      guard symlink("../../blobs/" + etag, temporary) == 0 else { throw FileError.errno(temporary, "create the symlink") }
    }
  }

  /// Records that `revision` (a branch or tag) pointed at `commit`: `refs/<revision>`, written atomically.
  func storeReference(_ repo: HubRepo, commit: String) throws {
    let revision = repo.effectiveRevision
    guard revision != commit else { return }
    let ref = folder(of: repo) + "/refs/" + revision
    let dir = (ref as NSString).deletingLastPathComponent
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw FileError(path: dir, reason: "cannot create it: \(error.localizedDescription)")
    }
    try writeFileAtomically(ref, Array(commit.utf8))
  }
}
