import ArgumentParser
import Backbones
import Foundation

extension Pooling: ExpressibleByArgument {}

/// Options choosing and loading a backbone, shared by `extract` and `bench`.
struct BackboneOptions: ParsableArguments {
  @Option(help: "Backbone architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
  var arch: String = "densenet121"

  @Option(
    help: ArgumentHelp(
      "Weights: a .pth/.safetensors path, a torchvision file name, a tag (IMAGENET1K_V1, IMAGENET1K_V2), random[:SEED], or auto.",
      discussion: """
        Default: torchvision's IMAGENET1K_V1 file, looked up in $FEATX_WEIGHTS_DIR, then \
        $TORCH_HOME/hub/checkpoints (~/.cache/torch/hub/checkpoints), else downloaded with a sha256 check. \
        'auto' does the same but falls back to seeded random weights (loudly) when the file is unavailable.
        """))
  var weights: String?

  @Option(help: "Layer to tap. DenseNet: features (default), denseblock1-4, transition1-3. ResNet: avgpool (default), layer1-4.")
  var layer: String?

  @Option(help: "Pooling of the tapped layer: flatten (default; e.g. 1024x7x7 = 50176 values), avg or max (C values).")
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
    do { _ = try Architecture.named(arch) } catch { throw ValidationError("--arch: \(error)") }
    _ = try resolvedPrecision()
  }

  /// `--precision` on this CPU; a refusal names the option.
  func resolvedPrecision() throws -> Precision { try Precision.option(precision) }

  /// The torchvision weights `--weights` names, if it names known ones (by tag or file name), without
  /// reading any file: what `validate()` needs to know the weights' preprocessing.
  func knownWeights() -> KnownWeights? {
    guard let architecture = try? Architecture.named(arch) else { return nil }
    guard let weights, weights != "auto" else { return KnownWeights.defaultFor(architecture) }
    switch try? WeightsSource.parse(weights, arch: architecture) {
    case .known(let known)?: return known
    case .file(let path)?: return KnownWeights.all.first { $0.fileName == (path as NSString).lastPathComponent }
    default: return nil
    }
  }

  /// Resolves and loads the weights, then builds the backbone. Says loudly when weights are random.
  func load(quiet: Bool = false) throws -> (backbone: Backbone, weightsName: String, known: KnownWeights?) {
    let architecture = try Architecture.named(arch)
    let resolver = WeightsResolver()
    var source: WeightsSource
    if weights == "auto" {
      source = KnownWeights.defaultFor(architecture).map(WeightsSource.known) ?? .random(seed: 0)
      if case .known(let known) = source {
        var offline = resolver
        offline.allowDownload = ProcessInfo.processInfo.environment["FEATX_OFFLINE"] == nil
        if (try? offline.locate(known)) == nil { source = .random(seed: 0) }
      }
    } else {
      source = try WeightsSource.parse(weights, arch: architecture)
    }
    let dict = try resolver.load(source, arch: architecture.config)
    let name: String
    var known: KnownWeights?
    switch source {
    case .random(let seed):
      name = "random:\(seed)"
      Terminal.warn(
        "WARNING: SEEDED RANDOM WEIGHTS (\(name)) for \(arch): the features carry no ImageNet knowledge. "
          + (KnownWeights.defaultFor(architecture).map { "Put \($0.fileName) in \(resolver.hubDirectory) or pass" } ?? "Pass")
          + " --weights PATH for real work."
      )
    case .file(let path):
      name = (path as NSString).lastPathComponent
      known = KnownWeights.all.first { $0.fileName == name }
    case .known(let k):
      name = k.fileName
      known = k
    }
    let backbone = try Backbone(
      arch: architecture, weights: dict, layer: layer, pooling: pool, threads: threads, precision: try resolvedPrecision())
    return (backbone, name, known)
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
}
