// What a weights request resolves to, decided here rather than in the CLI so that a Swift user gets the same
// policy as `featx extract --weights`: `auto` is the architecture's default file when it can be had, else
// seeded random weights with a warning; with no architecture named, a known file's or the one whose keys a
// file holds; timm weights bring their config.json, which names the architecture and the preprocessing.

import Foundation
import Support
import Weights

/// timm weights located, with their config.json and the architecture it names.
public struct TimmModel: Sendable {
  public var files: TimmFiles
  public var config: TimmConfig
  public var architecture: Architecture
}

/// Weights resolved and loaded: what a backbone is built from and what a store records about them.
public struct ResolvedWeights {
  public var architecture: Architecture
  public var stateDict: StateDict
  /// The name a store records: the file name, `random:SEED`, or the timm model's.
  public var name: String
  /// The torchvision file, known by name or by the sha256 featx pins: its evaluation transform is the
  /// default preprocessing.
  public var known: KnownWeights?
  /// timm weights' files and config.json.
  public var timm: TimmModel?
  /// Set when seeded random weights stand in for real ones: the warning a caller should show.
  public var randomWarning: String?
}

extension WeightsResolver {
  /// The architecture of a request before any file is read: `arch`, else the architecture of the known
  /// file `weights` names (`efficientnet-lite0…pth`), else densenet121.
  public static func namedArchitecture(arch: String?, weights: String?) throws -> Architecture {
    if arch == nil, let weights, let known = KnownWeights.named((weights as NSString).lastPathComponent) { return known.arch }
    return try Architecture.named(arch ?? "densenet121")
  }

  /// timm weights' files, config.json and architecture (which must agree with `arch`, if given), when
  /// `weights` names them (`hf-hub:…` or a folder): found in the Hugging Face cache or the folder, else
  /// downloaded, after `willDownload(message)`. nil for other weights.
  public func timmModel(_ weights: String?, arch: String?, willDownload: (String) -> Void = { _ in }) throws -> TimmModel? {
    guard let weights, weights != "auto", let timm = try TimmWeights.parse(weights) else { return nil }
    if case .hub(let repo) = timm, case .missing = hfHub.lookup(repo), hfHub.offlineReason == nil, allowDownload {
      willDownload("downloading \(repo) from \(hfHub.endpoint) into \(hfHub.folder(of: repo))")
    }
    let files = try locate(timm)
    let config = try TimmConfig.read(files.config)
    return TimmModel(files: files, config: config, architecture: try config.architecture(requested: arch))
  }

  /// Resolves and loads `weights` (a `--weights` value; `auto`: the default file if it can be had, else
  /// `random:0`) for `arch` (nil: see `namedArchitecture`, or the architecture whose keys and shapes an
  /// unknown file holds). `timm` is timm weights already located by `timmModel`.
  public func resolve(_ weights: String?, arch: String?, timm: TimmModel? = nil) throws -> ResolvedWeights {
    if let timm = try timm ?? timmModel(weights, arch: arch) {
      return ResolvedWeights(
        architecture: timm.architecture, stateDict: try loadTimm(timm.files), name: timm.files.recordedName, known: nil,
        timm: timm, randomWarning: nil)
    }
    var architecture = try Self.namedArchitecture(arch: arch, weights: weights)
    var source: WeightsSource
    if weights == "auto" {
      source = KnownWeights.defaultFor(architecture).map(WeightsSource.known) ?? .random(seed: 0)
      if case .known(let known) = source {
        var quiet = self
        quiet.allowDownload = allowDownload && autoDownloads
        if (try? quiet.locate(known)) == nil { source = .random(seed: 0) }
      }
    } else {
      source = try WeightsSource.parse(weights, arch: architecture)
    }
    let dict = try load(source, arch: architecture.config)
    // No architecture named and a file featx does not know by name: the architecture the file holds.
    if arch == nil, case .file = source, let found = WeightCheck.architecture(holding: dict), found != architecture {
      architecture = found
    }
    var resolved = ResolvedWeights(
      architecture: architecture, stateDict: dict, name: "", known: nil, timm: nil, randomWarning: nil)
    switch source {
    case .random(let seed):
      resolved.name = "random:\(seed)"
      resolved.randomWarning =
        "WARNING: SEEDED RANDOM WEIGHTS (\(resolved.name)) for \(architecture.rawValue): the features carry no ImageNet knowledge. "
        + (KnownWeights.defaultFor(architecture).map { "Put \($0.fileName) in \(hubDirectory) or pass" } ?? "Pass")
        + " --weights PATH for real work."
    case .file(let path):
      resolved.name = (path as NSString).lastPathComponent
      // Known by name, or by the sha256 featx pins (a genuine file under another name).
      resolved.known =
        KnownWeights.named(resolved.name) ?? KnownWeights.all.first { $0.sha256 != nil && $0.sha256 == dict.sha256 }
    case .known(let known):
      resolved.name = known.fileName
      resolved.known = known
    case .timm(let weights):
      // Only reached when `timmModel` found nothing to parse, which cannot happen for a `.timm` source.
      throw WeightsError.badWeightsFile(path: "\(weights)", reason: "timm weights must be located with their config.json")
    }
    return resolved
  }
}
