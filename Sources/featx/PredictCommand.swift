import ArgumentParser
import Backbones
import DNNL
import Extract
import Images
import Predict
import Foundation
import Probe

/// `featx predict head.h5 IMAGE…`: classify images with a head and the backbone it was trained for.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Classify images (or every image of a folder) with a trained head.",
    discussion: """
      The head names the backbone, weights, layer, pooling and preprocessing its features came from; \
      predict uses exactly those, and refuses a weights file whose sha256 differs. The weights are looked \
      for at the path recorded at extraction, then in $FEATX_WEIGHTS_DIR and the torch hub cache, then at \
      --weights (then, for torchvision files, downloaded); each is checked against the head's sha256.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, csv }

  @Argument(help: "Head file written by `featx probe`.")
  var head: String

  @Argument(help: "Images, or folders of images.")
  var images: [String]

  @Option(help: "Classes to show per image, most probable first; 0 for all.")
  var topK: Int = 5

  @Option(help: "Output format: text (default), json or csv (one row per image).")
  var format: Format = .text

  @Option(
    help:
      "Weights file, when the one extraction used is neither at the path the head records nor in $FEATX_WEIGHTS_DIR or the torch hub cache (must have the same sha256)."
  )
  var weights: String?

  @Option(help: "Images per batch.")
  var batch: Int = 32

  @Option(help: "Threads; 0 uses every CPU this process may use.")
  var threads: Int = 0

  @Option(help: "Numbers of the backbone: f32, bf16 or auto (default: the precision the head's features were extracted in).")
  var precision: String?

  func validate() throws {
    guard topK >= 0 else { throw ValidationError("--top-k must be 0 (all) or more, not \(topK)") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1 image, not \(batch)") }
    guard threads >= 0 else { throw ValidationError("--threads must be 0 (every CPU) or more, not \(threads)") }
    if let precision {
      do { _ = try Precision.resolve(precision) } catch { throw ValidationError("--precision: \(error)") }
    }
    guard !images.isEmpty else { throw ValidationError("give at least one image or folder") }
  }

  func run() throws {
    let loaded = try HDF5Guard.read(head, as: .head) { try Head.read(path: head) }
    let predictor = try Predictor(
      head: loaded, headPath: head, weights: weights, threads: threads, precision: try backbonePrecision(for: loaded))
    for rejected in predictor.rejectedWeights {
      let origin = rejected.origin == .recorded ? "the weights file recorded in \(head) at extraction" : "a cached file of that name"
      let problem = rejected.sha256.map { "has sha256 \($0)" } ?? "cannot be read (\(rejected.error ?? ""))"
      Terminal.warn(
        "warning: \(rejected.path) (\(origin)) \(problem), but \(head)'s features came from weights with sha256 "
          + "\(loaded.extraction.weightsSHA256); using \(predictor.weightsSource) instead")
    }
    if predictor.backbone.weights.isRandom {
      Terminal.warn(
        "WARNING: \(head) was trained on features of SEEDED RANDOM WEIGHTS; its predictions mean nothing for real images.")
    }
    var paths: [String] = []
    for item in images {
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: item, isDirectory: &isFolder), isFolder.boolValue {
        paths += try DatasetWalk.folder(item).items.map { item + "/" + $0.relativePath }
      } else {
        paths.append(item)
      }
    }
    let predictions = try predictor.classify(paths, batch: batch)
    print(PredictionText.render(predictions, classes: loaded.classes, topK: topK, format: format), terminator: "")
    let failed = predictions.filter { $0.error != nil }
    for p in failed { Terminal.warn("\(p.path): \(p.error ?? "")") }
    if !failed.isEmpty { throw ExitCode(1) }
  }
}

extension PredictCommand {
  /// `--precision`, else the head's; a precision other than the head's features' is allowed with a warning,
  /// and a bf16 head on a CPU without native bfloat16 runs in f32 (warned).
  func backbonePrecision(for loaded: Head) throws -> Precision {
    let trained = Precision(rawValue: loaded.extraction.precision) ?? .float32
    let chosen: Precision
    if let precision {
      do { chosen = try Precision.resolve(precision) } catch { throw ValidationError("--precision: \(error)") }
    } else {
      chosen = trained == .bfloat16 && !CPU.nativeBFloat16 ? .float32 : trained
    }
    if chosen != trained {
      Terminal.warn(
        "warning: \(head) was trained on \(trained.rawValue) features; predicting in \(chosen.rawValue) gives slightly different features")
    }
    return chosen
  }
}

/// One image in `featx predict --format json`.
struct JSONPrediction: Encodable {
  struct Ranked: Encodable {
    var `class`: String
    var label: Int
    var probability: Double
  }
  var path: String
  /// Why the image could not be classified (omitted when it was).
  var error: String?
  var predictions: [Ranked]
}

/// Output of `featx predict`.
enum PredictionText {
  static func render(_ predictions: [Prediction], classes: [String], topK: Int, format: PredictCommand.Format) -> String {
    switch format {
    case .text:
      var out = ""
      for p in predictions {
        out += p.path + (p.error.map { ": ERROR \($0)" } ?? "") + "\n"
        for (index, probability) in p.top(topK) { out += String(format: "  %.4f  %@\n", probability, classes[index]) }
      }
      return out
    case .json:
      let rows = predictions.map { p in
        JSONPrediction(
          path: p.path, error: p.error,
          predictions: p.top(topK).map { .init(class: classes[$0.index], label: $0.index, probability: Double($0.probability)) })
      }
      return ((try? JSONText.encode(rows)) ?? "[]") + "\n"
    case .csv:
      let k = topK > 0 ? min(topK, classes.count) : classes.count
      var header = ["path", "error"]
      for i in 1...k { header += ["class\(i)", "probability\(i)"] }
      var out = header.joined(separator: ",") + "\n"
      for p in predictions {
        var fields = [csv(p.path), csv(p.error ?? "")]
        for (index, probability) in p.top(k) { fields += [csv(classes[index]), String(format: "%.6f", probability)] }
        out += fields.joined(separator: ",") + "\n"
      }
      return out
    }
  }

  static func csv(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
