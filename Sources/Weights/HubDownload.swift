// Downloading a timm model into the Hugging Face cache, the subset of huggingface_hub's `hf_hub_download`
// (file_download.py, `_hf_hub_download_to_cache_dir`) featx needs:
//
// 1. `HEAD $HF_ENDPOINT/ORG/NAME/resolve/REVISION/FILE` with `Accept-Encoding: identity`, following
//    redirects only while they stay on the hub's origin (a renamed repository); the hub answers an LFS file
//    with a redirect to its CDN and puts the metadata on that very answer: `X-Repo-Commit` (the commit the
//    revision points at), `X-Linked-Etag` (for LFS files the sha256 of the bytes; else `ETag`, the git blob
//    id), `X-Linked-Size` (else `Content-Length`). A 404 means the repository has no such file; a 401 or an
//    `X-Error-Code` of RepositoryNotFound or GatedRepo that there is no public repository (featx sends no token).
// 2. `GET` the redirect target (or the resolve URL), every redirect followed.
// 3. The bytes are checked before anything is written: the size the hub announced and, when the etag is a
//    sha256 (LFS files: the weights), that sha256. huggingface_hub names the blob after the etag but does
//    not hash the download; featx does, so a corrupted or substituted download is refused. config.json is a
//    plain git file, whose etag is the git blob id (sha1): checked for its size only, as huggingface_hub does.
// 4. `blobs/<etag>` and the `snapshots/<commit>/FILE` symlink are written atomically (temporary + rename),
//    then `refs/<revision>` (HubCache).
//
// config.json is fetched at the requested revision; the weights at the commit its answer named, so both
// files come from one snapshot even if the branch moves in between. model.safetensors is preferred to
// pytorch_model.bin, as timm's `load_state_dict_from_hf` does.

import Dispatch
import Foundation
import Support

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Fetches hub files into a `HubCache`.
public struct HubDownload {
  public var cache: HubCache

  public init(cache: HubCache) { self.cache = cache }

  /// Why a download failed, in words for `WeightsError.hubUnavailable`.
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// What the hub says about one file.
  struct Metadata {
    var commit: String
    var etag: String
    var size: Int?
    var location: URL
  }

  /// `$HF_ENDPOINT/ORG/NAME/resolve/REVISION/FILE` (the revision percent-encoded, '/' included, as
  /// huggingface_hub's `hf_hub_url` does).
  func url(_ repo: HubRepo, revision: String, file: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-_.~")
    let encoded = revision.addingPercentEncoding(withAllowedCharacters: allowed) ?? revision
    return "\(cache.endpoint)/\(repo.id)/resolve/\(encoded)/\(file)"
  }

  /// Downloads what the cache lacks of `repo` (config.json, then the weights) and returns the files.
  public func fetch(_ repo: HubRepo, progress: (@Sendable (Int64, Int64) -> Void)?) throws -> TimmFiles {
    let configURL = url(repo, revision: repo.effectiveRevision, file: "config.json")
    guard let config = try metadata(configURL) else {
      throw Failure(
        description: "\(configURL) does not exist (HTTP 404): the repository has no config.json, so it holds no timm model")
    }
    let pinned = repo.pinned(to: config.commit)
    let snapshot = cache.folder(of: repo) + "/snapshots/" + config.commit
    if !fileExists(snapshot + "/config.json") {
      try download(config, from: configURL, repo: repo, file: "config.json", progress: nil)
    }
    if !HubCache.weightFiles.contains(where: { fileExists(snapshot + "/" + $0) }) {
      var found: (file: String, url: String, metadata: Metadata)?
      for file in HubCache.weightFiles {
        let fileURL = url(repo, revision: config.commit, file: file)
        if let metadata = try metadata(fileURL) {
          found = (file, fileURL, metadata)
          break
        }
      }
      guard let found else {
        throw Failure(
          description: "the repository has neither \(HubCache.weightFiles.joined(separator: " nor ")) at commit \(config.commit)")
      }
      guard found.metadata.commit == config.commit else {
        throw Failure(description: "\(found.url) answered for commit \(found.metadata.commit), not \(config.commit)")
      }
      try download(found.metadata, from: found.url, repo: repo, file: found.file, progress: progress)
    }
    try cache.storeReference(repo, commit: config.commit)
    guard case .found(let files) = cache.lookup(pinned) else {
      throw Failure(description: "the downloaded files are not in \(snapshot)/")
    }
    return files
  }

  /// The hub's metadata of one file, or nil when it does not exist (404).
  func metadata(_ address: String) throws -> Metadata? {
    guard var url = URL(string: address) else { throw Failure(description: "bad URL \(address)") }
    for _ in 0..<10 {
      let answer = try HTTP.send(url, method: "HEAD", followRedirects: false)
      let code = answer.headers["x-error-code"]
      if code == "RepositoryNotFound" || code == "GatedRepo" || answer.status == 401 {
        throw Failure(
          description: "\(url.absoluteString) answered HTTP \(answer.status)\(Self.hubMessage(answer)): the hub has no public "
            + "repository there (private and gated ones need a token, which featx does not send)")
      }
      if answer.status == 404 { return nil }
      let location = answer.headers["location"].flatMap { URL(string: $0, relativeTo: url)?.absoluteURL }
      let redirect = (300..<400).contains(answer.status) && location != nil
      guard (200..<300).contains(answer.status) || redirect else {
        throw Failure(description: "\(url.absoluteString) answered HTTP \(answer.status)\(Self.hubMessage(answer))")
      }
      if redirect, let location, Self.origin(location) == Self.origin(url) {
        url = location  // a renamed repository: the answer carries no metadata
        continue
      }
      guard let commit = answer.headers["x-repo-commit"], HubRepo.isCommitHash(commit) else {
        throw Failure(description: "\(url.absoluteString) answered without a commit hash (X-Repo-Commit)")
      }
      // huggingface_hub's _normalize_etag: lstrip("W/"), then strip the quotes.
      let raw = answer.headers["x-linked-etag"] ?? answer.headers["etag"] ?? ""
      let etag = String(raw.drop(while: { $0 == "W" || $0 == "/" })).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
      guard (etag.utf8.count == 40 || etag.utf8.count == 64),
        etag.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
      else {
        throw Failure(description: "\(url.absoluteString) answered with the etag '\(raw)', neither a sha256 nor a git blob id")
      }
      let size = (answer.headers["x-linked-size"] ?? (redirect ? nil : answer.headers["content-length"])).flatMap { Int($0) }
      return Metadata(commit: commit, etag: etag, size: size, location: redirect ? location! : url)
    }
    throw Failure(description: "\(address): more than 10 redirects")
  }

  /// Downloads one file, checks it against `metadata` and stores it in the cache.
  func download(
    _ metadata: Metadata, from address: String, repo: HubRepo, file: String, progress: (@Sendable (Int64, Int64) -> Void)?
  ) throws {
    let answer = try HTTP.send(
      metadata.location, method: "GET", followRedirects: true, expected: metadata.size, progress: progress)
    guard answer.status == 200 else {
      throw Failure(description: "\(metadata.location.absoluteString) answered HTTP \(answer.status)\(Self.hubMessage(answer))")
    }
    let bytes = [UInt8](answer.body)
    if let size = metadata.size, bytes.count != size {
      throw Failure(description: "\(address) sent \(bytes.count) bytes, the hub announced \(size); nothing was saved")
    }
    if metadata.etag.utf8.count == 64 {
      let digest = try SHA256.hex(bytes)
      guard digest == metadata.etag else {
        throw Failure(
          description:
            "the download of \(address) has sha256 \(digest), not the hub's \(metadata.etag) (X-Linked-Etag); nothing was saved")
      }
    }
    do { try cache.store(bytes, repo: repo, commit: metadata.commit, file: file, etag: metadata.etag) } catch {
      throw Failure(description: "cannot save \(file) in \(cache.folder(of: repo)): \(error)")
    }
  }

  /// The hub's own explanation of an error (`X-Error-Message`), if it sent one.
  static func hubMessage(_ answer: HTTP.Answer) -> String {
    answer.headers["x-error-message"].map { " (\($0))" } ?? ""
  }

  /// Scheme, host and port (with the scheme's default), as huggingface_hub compares origins.
  static func origin(_ url: URL) -> String {
    let scheme = url.scheme?.lowercased() ?? ""
    let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
    return "\(scheme)://\((url.host ?? "").lowercased()):\(port)"
  }
}
