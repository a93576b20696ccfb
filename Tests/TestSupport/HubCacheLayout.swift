// A Hugging Face cache folder laid out by hand exactly as huggingface_hub lays it out (file_download.py),
// for the hf-hub tests: tools/make_timm_fixtures.py checks that timm loads weights offline from this layout.

import Foundation
import Support
import Weights

/// `<root>/models--ORG--NAME/{refs,snapshots,blobs}` written file by file.
public struct HubCacheLayout: Sendable {
  public let root: String

  public init(root: String) { self.root = root }

  /// `<root>/models--ORG--NAME` for `repo` = `ORG/NAME`.
  public func folder(_ repo: String) -> String { root + "/models--" + repo.replacingOccurrences(of: "/", with: "--") }

  /// The blob name huggingface_hub uses: the sha256 for LFS files (weights), else the file's git blob id
  /// (a sha1; here the first 40 hex digits of the sha256 stand in for it: resolution never reads the name).
  public static func etag(_ file: String, _ bytes: [UInt8]) throws -> String {
    let sha = try SHA256.hex(bytes)
    return file.hasSuffix(".safetensors") || file.hasSuffix(".bin") ? sha : String(sha.prefix(40))
  }

  /// Stores `bytes` as `blobs/<etag>` and links `snapshots/<commit>/<file>` to `../../blobs/<etag>`;
  /// returns the link's path.
  @discardableResult
  public func put(_ file: String, _ bytes: [UInt8], repo: String, commit: String) throws -> String {
    let fm = FileManager.default
    let etag = try Self.etag(file, bytes)
    let snapshot = folder(repo) + "/snapshots/" + commit
    try fm.createDirectory(atPath: folder(repo) + "/blobs", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
    try writeFileAtomically(folder(repo) + "/blobs/" + etag, bytes)
    let link = snapshot + "/" + file
    try? fm.removeItem(atPath: link)
    try fm.createSymbolicLink(atPath: link, withDestinationPath: "../../blobs/" + etag)
    return link
  }

  /// Copies the file at `path` in as `file` (see `put`).
  @discardableResult
  public func put(_ file: String, copyOf path: String, repo: String, commit: String) throws -> String {
    try put(file, try readFile(path), repo: repo, commit: commit)
  }

  /// `refs/<ref>` holding `commit` (no newline, as huggingface_hub writes it).
  public func setRef(_ ref: String = "main", repo: String, commit: String) throws {
    let path = folder(repo) + "/refs/" + ref
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try writeFileAtomically(path, Array(commit.utf8))
  }

  /// Every file and symlink under the cache, relative to `root`, sorted (folders left out).
  public func files() -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    var out: [String] = []
    while let relative = walker.nextObject() as? String {
      var isFolder: ObjCBool = false
      let path = root + "/" + relative
      let isLink = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
      if isLink || (FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue) {
        out.append(relative)
      }
    }
    return out.sorted()
  }
}
