import ArgumentParser
import Backbones
import DNNL
import Extract
import FeatureStore
import Images
import Predict
import Foundation
import Probe
import Support

/// `featx predict head.h5 IMAGE…`: classify images with a head and the backbone it was trained for.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Classify images (or every image of a folder) with a trained head, or with a network's own ImageNet classifier.",
    discussion: """
      Without a head (`featx predict --weights W [--arch A] IMAGE…`), the weights' own ImageNet classifier \
      (fc, classifier, head.fc, _fc) names each image's ImageNet classes, with the weights' evaluation \
      preprocessing: the quickest proof that a weights file is genuine.


      The head names the backbone, weights, layer, pooling and preprocessing its features came from; \
      predict uses exactly those, and refuses a weights file whose sha256 differs. A folder of class folders \
      (or of split folders, as extract reads them) is labelled: after the per-image output predict prints \
      its accuracy, per class and confusion summary like evaluate (on stderr with --format json or csv); \
      class folders are matched to the head's classes by name. The weights are looked \
      for at the path recorded at extraction, then in $FEATX_WEIGHTS_DIR and the torch hub cache, then at \
      --weights (then, for torchvision files, downloaded; for hf-hub:ORG/NAME@COMMIT weights, found in the \
      Hugging Face cache at that commit or downloaded); each is checked against the head's sha256.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, csv }

  @Argument(help: "Head file written by `featx probe` (left out with --arch or --weights and no head: ImageNet classes).")
  var head: String

  @Argument(help: "Images, or folders of images.")
  var images: [String] = []

  @Option(help: "Architecture whose own ImageNet classifier classifies, when no head is given (default: the weights').")
  var arch: String?

  @Option(help: "Classes to show per image, most probable first; 0 for all.")
  var topK: Int = 5

  @Option(help: "Output format: text (default), json or csv (one row per image).")
  var format: Format = .text

  @Option(
    help:
      "Weights file, hf-hub:ORG/NAME[@REVISION] or timm folder, when the one extraction used is neither at the path the head records nor in the caches (must have the same sha256)."
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
    if let precision { _ = try Precision.option(precision) }
    guard !images.isEmpty || ownClassifier else { throw ValidationError("give at least one image or folder") }
  }

  /// No head: `--arch`, or `--weights` with a first argument that is not an HDF5 file.
  var ownClassifier: Bool {
    arch != nil || (weights != nil && FileSignature.describe(head).map { !$0.hasPrefix("an HDF5") } ?? true)
  }

  func run() throws {
    if ownClassifier { return try runOwnClassifier() }
    let loaded = try HDF5Guard.read(head, as: .head) { try Head.read(path: head) }
    let predictor = try Predictor(
      head: loaded, headPath: head, weights: weights, threads: threads, precision: try backbonePrecision(for: loaded))
    for rejected in predictor.rejectedWeights {
      let origin =
        rejected.origin == .recorded ? "the weights file recorded in \(head) at extraction" : "a cached file of that name"
      let problem = rejected.sha256.map { "has sha256 \($0)" } ?? "cannot be read (\(rejected.error ?? ""))"
      Terminal.warn(
        "warning: \(rejected.path) (\(origin)) \(problem), but \(head)'s features came from weights with sha256 "
          + "\(loaded.extraction.weightsSHA256); using \(predictor.weightsSource) instead")
    }
    if predictor.backbone.weights.isRandom {
      Terminal.warn(
        "WARNING: \(head) was trained on features of SEEDED RANDOM WEIGHTS; its predictions mean nothing for real images.")
    }
    let started = Date()
    let inputs = try LabelledInputs(images, head: loaded, headPath: head)
    for note in inputs.notes { Terminal.warn(note) }
    let predictions = try predictor.classify(inputs.paths, batch: batch)
    let truth = inputs.labels.map { $0.map { loaded.classes[$0] } }
    print(
      PredictionText.render(predictions, classes: loaded.classes, topK: topK, format: format, truth: truth), terminator: "")
    if !inputs.trees.isEmpty {
      let report = inputs.report(predictions, head: loaded, seconds: Date().timeIntervalSince(started))
      let text = EvaluateText.renderImages(report, head: head, trees: inputs.trees)
      if format == .text { print("\n" + text, terminator: "") } else { FileHandle.standardError.write(Data(text.utf8)) }
    }
    let failed = predictions.filter { $0.error != nil }
    for p in failed { Terminal.warn("\(p.path): \(p.error ?? "")") }
    if !failed.isEmpty { throw ExitCode(1) }
  }
}

extension PredictCommand {
  /// Classifies `head` and `images` (all images here) with the weights' own ImageNet classifier.
  func runOwnClassifier() throws {
    let given = [("--arch", arch), ("--weights", weights), ("--precision", precision), ("--threads", String(threads))]
    let options = try BackboneOptions.parse(given.flatMap { name, value in value.map { [name, $0] } ?? [] })
    let timm = try options.timmModel()
    let (backbone, _, known) = try options.load(timm: timm)
    let architecture = try timm?.architecture ?? options.namedArchitecture()
    let preprocessing = try Preprocessing.evaluation(arch: architecture, known: known, timm: timm?.config.featxData)
    let predictor = try Predictor(
      ownClassifierOf: architecture, weights: backbone.weights, preprocessing: preprocessing, threads: threads)
    let paths = try LabelledInputs.imagePaths([head] + images)
    let predictions = try predictor.classify(paths, batch: batch)
    print(
      PredictionText.render(
        predictions, classes: predictor.classes, topK: topK, format: format, truth: predictions.map { _ in nil }), terminator: "")
    let failed = predictions.filter { $0.error != nil }
    for p in failed { Terminal.warn("\(p.path): \(p.error ?? "")") }
    if !failed.isEmpty { throw ExitCode(1) }
  }

  /// `--precision`, else the head's; a precision other than the head's features' is allowed with a warning,
  /// and a bf16 head on a CPU without native bfloat16 runs in f32 (warned).
  func backbonePrecision(for loaded: Head) throws -> Precision {
    let trained = Precision(rawValue: loaded.extraction.precision) ?? .float32
    let chosen: Precision
    if let precision {
      chosen = try Precision.option(precision)
    } else {
      chosen = trained == .bfloat16 && !CPU.nativeBFloat16 ? .float32 : trained
    }
    if chosen != trained {
      Terminal.warn(
        "warning: \(head) was trained on \(trained.rawValue) features; predicting in \(chosen.rawValue) gives slightly different features"
      )
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
  /// The class of the image's folder, for images of a labelled folder tree (omitted otherwise).
  var trueClass: String?
  /// Why the image could not be classified (omitted when it was).
  var error: String?
  var predictions: [Ranked]
}

/// What `featx predict` was given, walked: every image path, and for images of labelled folder trees
/// (a folder of class folders, or of split folders) the head's index of their class and their part.
struct LabelledInputs {
  var paths: [String] = []
  /// The head's class of each image; nil for single images, unlabelled folders and unknown classes.
  var labels: [Int?] = []
  var parts: [SplitPart] = []
  /// The labelled folder trees among the inputs.
  var trees: [String] = []
  /// What the walk found that the user should know (left-out split folders, folders that are no class).
  var notes: [String] = []

  /// Every image of `items`: files as given, folders walked (without labels).
  static func imagePaths(_ items: [String]) throws -> [String] {
    try items.flatMap { item -> [String] in
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: item, isDirectory: &isFolder), isFolder.boolValue else { return [item] }
      return try DatasetWalk.folder(item).items.map { item + "/" + $0.relativePath }
    }
  }

  init(_ items: [String], head: Head, headPath: String) throws {
    for item in items {
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: item, isDirectory: &isFolder), isFolder.boolValue else {
        paths.append(item)
        labels.append(nil)
        parts.append(.test)
        continue
      }
      let walk = try DatasetWalk.folder(item)
      var index = walk.classFolders.indices.map { head.classIndex(folder: walk.classFolders[$0], name: walk.classes[$0]) }
      if walk.isLabelled {
        let used = Set(walk.items.map { Int($0.label) })
        let unknown = walk.classFolders.indices.filter { index[$0] == nil && used.contains($0) }.map { walk.classFolders[$0] }
        if unknown.count == used.count {
          notes.append(
            "note: \(item): none of its folders (\(Self.names(unknown))) is a class of \(headPath), so its images are "
              + "classified without accuracy")
          index = index.map { _ in nil }
        } else {
          trees.append(item)
          if !unknown.isEmpty {
            notes.append(
              "note: \(item): the folders \(Self.names(unknown)) are not classes of \(headPath): their images are "
                + "classified but not scored")
          }
        }
      }
      for left in walk.splitFolders?.leftOut ?? [] {
        notes.append(
          "note: \(item)/\(left.name)/ left out (\(left.images) images): \(walk.splitFolders?.test?.name ?? "")/ is the test part"
        )
      }
      for image in walk.items {
        paths.append(item + "/" + image.relativePath)
        labels.append(image.label >= 0 ? index[Int(image.label)] : nil)
        parts.append(image.part ?? .test)
      }
    }
  }

  static func names(_ folders: [String]) -> String {
    folders.prefix(5).joined(separator: ", ") + (folders.count > 5 ? ", … (\(folders.count) in all)" : "")
  }

  /// Probe's report on the labelled images that could be read: split folders' train images as train, every
  /// other labelled image as test.
  func report(_ predictions: [Prediction], head: Head, seconds: Double) -> ProbeReport {
    var train = ScoredRows(logits: [], labels: [])
    var test = ScoredRows(logits: [], labels: [])
    for (i, p) in predictions.enumerated() {
      guard let label = labels[i], let logits = p.logits else { continue }
      if parts[i] == .train {
        train.logits += logits
        train.labels.append(label)
      } else {
        test.logits += logits
        test.labels.append(label)
      }
    }
    return ProbeReport(
      scored: train.labels.isEmpty ? nil : train, test: test.labels.isEmpty ? nil : test, classes: head.classes,
      dimension: head.model.dimension, seconds: seconds)
  }
}

/// Output of `featx predict`.
enum PredictionText {
  static func render(
    _ predictions: [Prediction], classes: [String], topK: Int, format: PredictCommand.Format, truth: [String?] = []
  ) -> String {
    switch format {
    case .text:
      var out = ""
      for p in predictions {
        out += p.path + (p.error.map { ": ERROR \($0)" } ?? "") + "\n"
        for (index, probability) in p.top(topK) { out += String(format: "  %.4f  %@\n", probability, classes[index]) }
      }
      return out
    case .json:
      let rows = predictions.enumerated().map { i, p in
        JSONPrediction(
          path: p.path, trueClass: i < truth.count ? truth[i] : nil, error: p.error,
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
