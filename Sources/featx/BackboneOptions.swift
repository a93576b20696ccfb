import ArgumentParser
import DNNL
import Backbones
import FeatureStore
import Foundation
import Weights

extension Pooling: ExpressibleByArgument {}

/// Options choosing and loading a backbone, shared by `extract` and `bench`.
struct BackboneOptions: ParsableArguments {
  @Option(
    help: """
      Backbone architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")) (default: the one \
      config.json names for hf-hub: or folder weights, else densenet121).
      """)
  var arch: String?

  @Option(
    help: ArgumentHelp(
      "Weights: a .pth/.safetensors path, a torchvision file name, a tag (IMAGENET1K_V1, IMAGENET1K_V2), hf-hub:ORG/NAME[@REVISION], a folder with config.json, random[:SEED], or auto.",
      discussion: """
        Default: torchvision's IMAGENET1K_V1 file, looked up in $FEATX_WEIGHTS_DIR, then \
        $TORCH_HOME/hub/checkpoints (~/.cache/torch/hub/checkpoints), else downloaded with a sha256 check. \
        'auto' does the same but falls back to seeded random weights (loudly) when the file is unavailable. \
        hf-hub:ORG/NAME (timm's syntax, e.g. hf-hub:timm/resnet50.a1_in1k) reads config.json and \
        model.safetensors (or pytorch_model.bin) from the Hugging Face cache ($HF_HUB_CACHE, else \
        $HF_HOME/hub, else ~/.cache/huggingface/hub) as huggingface_hub lays it out, else downloads them \
        from $HF_ENDPOINT (https://huggingface.co) into it, sha256-checked (not with FEATX_OFFLINE or \
        HF_HUB_OFFLINE=1); config.json gives the architecture and timm's evaluation preprocessing.
        """))
  var weights: String?

  @Option(
    help: """
      Layer to tap (`featx layers --arch A` lists them). DenseNet: features (default), denseblock1-4, transition1-3. \
      ResNet: avgpool (default), layer1-4. Inception v3: avgpool (default), Conv2d_4a_3x3, Mixed_5b-7c. \
      GoogLeNet: avgpool (default), maxpool2, inception3a-5b. RDNet: pre_logits (default), stem, dense_stages.0-N. \
      EfficientNet: avgpool or pre_logits (default), stem, features.N or blocks.N, head. Transformers: pre_logits \
      (default), patch_embed, blocks.0-N, norm, last4_avg (DINOv2's n = 4 linear-evaluation input); CLIP also proj. ConvNeXt: pre_logits (default), stem, stages.0-3 \
      (torchvision files: features.0-7).
      """)
  var layer: String?

  @Option(
    help:
      "Pooling of the tapped layer: flatten (default; e.g. 1024x7x7 = 50176 values), avg or max (C values); for a transformer's token maps also token (the class token) and token+avg (class token and patch mean)."
  )
  var pool: Pooling = .flatten

  @Option(help: "Threads; 0 uses every CPU this process may use (taskset, cgroup quota).")
  var threads: Int = 0

  @Option(
    help: """
      Numbers of the backbone: f32 (torchvision's features), bf16 (weights and activations in bfloat16, sums in \
      float32; faster where the CPU multiplies bfloat16 natively: AVX512_BF16 or AMX), or auto (bf16 where native, else f32).
      """)
  var precision: String = "f32"

  func validate() throws {
    guard threads >= 0 else { throw ValidationError("--threads must be 0 (every CPU) or more, not \(threads)") }
    if let arch { do { _ = try Architecture.named(arch) } catch { throw ValidationError("--arch: \(error)") } }
    if let weights, HubRepo.isHubName(weights) {
      do { _ = try HubRepo(parsing: weights) } catch { throw ValidationError("--weights: \(error)") }
    }
    _ = try resolvedPrecision()
  }

  /// `--arch`, else the architecture of the known file `--weights` names (`efficientnet-lite0`), else
  /// densenet121: the architecture unless timm weights' config.json says otherwise.
  func namedArchitecture() throws -> Architecture { try WeightsResolver.namedArchitecture(arch: arch, weights: weights) }

  /// True when `--weights` names timm weights (`hf-hub:…` or a folder), whose config.json decides the
  /// architecture and the default preprocessing.
  var namesTimmModel: Bool { weights.map { $0 != "auto" && (try? TimmWeights.parse($0)) != nil } ?? false }

  /// timm weights' files, config.json and architecture (agreeing with `--arch`, if given), when `--weights`
  /// names them: found in the Hugging Face cache or a folder, else downloaded. nil for other weights.
  func timmModel(resolver: WeightsResolver = WeightsResolver()) throws -> TimmModel? {
    try resolver.timmModel(weights, arch: arch, willDownload: Terminal.warn)
  }

  /// `--precision` on this CPU; a refusal names the option.
  func resolvedPrecision() throws -> Precision { try Precision.option(precision) }

  /// With `--precision auto`: which precision it chose and why (the bfloat16 measurement); else nil.
  func precisionChoice() throws -> String? {
    guard precision == "auto" else { return nil }
    return "--precision auto chose \(try resolvedPrecision().rawValue): \(BFloat16Speed.current.reason)"
  }

  /// The torchvision weights `--weights` names, if it names known ones (by tag or file name), without
  /// reading any file: what `validate()` needs to know the weights' preprocessing.
  func knownWeights() -> KnownWeights? {
    guard let architecture = try? namedArchitecture() else { return nil }
    guard let weights, weights != "auto" else { return KnownWeights.defaultFor(architecture) }
    switch try? WeightsSource.parse(weights, arch: architecture) {
    case .known(let known)?: return known
    case .file(let path)?: return KnownWeights.named((path as NSString).lastPathComponent)
    default: return nil
    }
  }

  /// Resolves and loads the weights (`timm`: timm weights already located; `WeightsResolver.resolve`), then
  /// builds the backbone. Says loudly when weights are random.
  func load(timm: TimmModel? = nil) throws -> (backbone: Backbone, weightsName: String, known: KnownWeights?) {
    let resolved = try WeightsResolver().resolve(weights, arch: arch, timm: timm)
    if let warning = resolved.randomWarning { Terminal.warn(warning) }
    let backbone = try Backbone(
      arch: resolved.architecture, weights: resolved.stateDict, layer: layer, pooling: pool, threads: threads,
      precision: try resolvedPrecision())
    return (backbone, resolved.name, resolved.known)
  }
}

extension Precision {
  /// A `--precision` value on this CPU (`extract`, `bench`, `predict`); a refusal names the option.
  static func option(_ text: String) throws -> Precision {
    do { return try resolve(text) } catch { throw ValidationError("--precision: \(error)") }
  }
}

/// Messages on stderr.
enum Terminal {
  static let isTTY = isatty(STDERR_FILENO) != 0

  static func warn(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }

  /// Rewrites the current stderr line on a terminal.
  static func status(_ text: String) {
    FileHandle.standardError.write(Data(("\r\u{1b}[K" + text).utf8))
  }

  /// The warning of probe, evaluate and knn when the store at `path` holds features of seeded random weights.
  static func warnIfRandomWeights(_ metadata: StoreMetadata, path: String) {
    guard metadata.usesRandomWeights else { return }
    warn(
      "WARNING: \(path) holds features of SEEDED RANDOM WEIGHTS (\(metadata.weightsFile)); accuracies say nothing about ImageNet features."
    )
  }
}
