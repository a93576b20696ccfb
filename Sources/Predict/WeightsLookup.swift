// Finding the weights a head's features came from, each candidate checked against the sha256 the head
// records: the absolute path extraction recorded, then the caches ($FEATX_WEIGHTS_DIR, the torch hub
// cache) under the recorded file name, then the weights the caller names, then (torchvision files) a
// download, or (`hf-hub:ORG/NAME@COMMIT`) the Hugging Face cache's snapshot of that commit, else a download of
// it. A candidate that holds other bytes is passed over and reported, never used.

import Backbones
import FeatureStore
import Foundation
import Probe
import Support
import Weights

/// A weights file that was found but not used.
public struct RejectedWeights: Sendable, Equatable {
  /// Where the candidate came from.
  public enum Origin: String, Sendable {
    /// The absolute path recorded at extraction (`weights_path`).
    case recorded
    /// A cache folder, under the recorded file name.
    case cache
  }

  public var path: String
  public var origin: Origin
  /// Its sha256, when it could be read (it differs from the head's).
  public var sha256: String?
  /// Why it could not be read, when it could not.
  public var error: String?
}

/// The weights a head needs, and the candidates passed over on the way.
public struct WeightsLookup: Sendable {
  public var weights: StateDict
  public var rejected: [RejectedWeights]

  /// Finds the weights whose sha256 `extraction` records.
  ///
  /// - Parameters:
  ///   - given: weights the caller names (a path, a torchvision file name or tag, `random[:SEED]`), tried after
  ///     the recorded path and the caches; it must have the head's sha256.
  /// - Throws: `ProbeError.weightsMismatch` when the given weights (or, without them, the last candidate
  ///   found) hold other bytes; `BackboneError.weightsUnavailable` when none was found.
  public static func find(
    for extraction: StoreMetadata, headPath: String, given: String?, arch: Architecture, resolver: WeightsResolver
  ) throws -> WeightsLookup {
    let e = extraction
    let expected = e.weightsSHA256
    if expected.hasPrefix("random:"), given == nil {
      return WeightsLookup(
        weights: try resolver.load(try WeightsSource.parse(expected, arch: arch), arch: arch.config), rejected: [])
    }
    var rejected: [RejectedWeights] = []
    var tried = Set<String>()
    func attempt(_ path: String, _ origin: RejectedWeights.Origin) -> StateDict? {
      let key = URL(fileURLWithPath: path).standardized.path
      guard fileExists(path), tried.insert(key).inserted else { return nil }
      do {
        let dict = try WeightsResolver.loadVerified(path)
        if dict.sha256 == expected { return dict }
        rejected.append(RejectedWeights(path: path, origin: origin, sha256: dict.sha256, error: nil))
      } catch {
        rejected.append(RejectedWeights(path: path, origin: origin, sha256: nil, error: "\(error)"))
      }
      return nil
    }
    let recorded = e.weightsPath.flatMap { $0.isEmpty ? nil : $0 }
    let hub = HubRepo.isHubName(e.weightsFile) ? try? HubRepo(parsing: e.weightsFile) : nil
    let cached = expected.hasPrefix("random:") || hub != nil ? [] : resolver.searchPath.map { $0 + "/" + e.weightsFile }
    if !expected.hasPrefix("random:") {
      if let recorded, let dict = attempt(recorded, .recorded) { return WeightsLookup(weights: dict, rejected: rejected) }
      for path in cached {
        if let dict = attempt(path, .cache) { return WeightsLookup(weights: dict, rejected: rejected) }
      }
    }
    func checked(_ dict: StateDict) throws -> WeightsLookup {
      guard dict.sha256 == expected else {
        throw ProbeError.weightsMismatch(head: headPath, expected: expected, got: dict.sha256, file: dict.source)
      }
      return WeightsLookup(weights: dict, rejected: rejected)
    }
    if let given {
      return try checked(try resolver.load(try WeightsSource.parse(given, arch: arch), arch: arch.config))
    }
    if let known = KnownWeights.all.first(where: { $0.fileName == e.weightsFile }) {
      // The caches were searched above; this downloads (or explains why it cannot).
      return try checked(try resolver.load(.known(known), arch: arch.config))
    }
    if let hub {
      // The snapshot of the recorded commit in the Hugging Face cache, else downloaded (or why it cannot be).
      return try checked(try resolver.load(.timm(.hub(hub)), arch: arch.config))
    }
    if let last = rejected.last(where: { $0.sha256 != nil }), let sha256 = last.sha256 {
      throw ProbeError.weightsMismatch(head: headPath, expected: expected, got: sha256, file: last.path)
    }
    var reason = "\(headPath) was trained on features of this file"
    if let unreadable = rejected.last, let error = unreadable.error { reason += "; \(error)" }
    throw BackboneError.weightsUnavailable(
      name: e.weightsFile, url: "(not a torchvision file)", searched: (recorded.map { [$0] } ?? []) + cached, reason: reason)
  }
}
