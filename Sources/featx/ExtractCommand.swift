import ArgumentParser
import Backbones
import Dispatch
import Extract
import Images
import FeatureStore
import Foundation

extension FeatureDType: ExpressibleByArgument {}
extension ClassOrder: ExpressibleByArgument {}
extension TestSplitChoice: ExpressibleByArgument {}

/// `featx extract DATASET -o features.h5`: every image's feature vector into a feature store.
struct ExtractCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "extract",
    abstract: "Extract every image's features into an HDF5 feature store (resumable).",
    discussion: """
      DATASET is a folder with one subfolder per class (torchvision's ImageFolder layout, e.g. CUB-200's \
      001.Black_footed_Albatross/…jpg), a folder of split folders each holding class folders (train/<class>/… \
      beside val/<class>/… or test/<class>/…; names matched in any case, val also as valid or validation: \
      train is the train part, val or test the test part), a flat folder of images (no labels), or, with \
      --list, the root the list's paths are relative to. Rerunning an interrupted command resumes it.
      """)

  @Argument(help: "Dataset folder.")
  var dataset: String

  @Option(name: .shortAndLong, help: "Feature store to write (.h5).")
  var output: String

  @OptionGroup var backbone: BackboneOptions

  @Option(
    help: ArgumentHelp(
      "Preprocessing preset: imagenet (default: Resize(256), CenterCrop(224), Normalize) or seed (the bird workflow: Resize((224,224)), no Normalize).",
      discussion: """
        With hf-hub: or folder weights the default is timm's evaluation transform from their config.json \
        (Resize(floor(size / crop_pct)) with its interpolation, CenterCrop(size), Normalize(mean, std)); \
        --preset and the options below override it.
        """))
  var preset: String?

  @Option(help: "Override the resize: H,W for an exact size (Resize((H,W))) or S for the shorter side (Resize(S)).")
  var resize: String?

  @Option(help: "Override the center crop: S or H,W; 'none' for no crop.")
  var crop: String?

  @Option(help: "Override Normalize's mean (R,G,B); 'none' for no normalisation.")
  var mean: String?

  @Option(help: "Override Normalize's std (R,G,B).")
  var std: String?

  @Option(
    help:
      "Override the resize's interpolation: bilinear (torchvision's default) or bicubic (timm's usual), both as PIL does them.")
  var interpolation: String?

  @Option(
    help: ArgumentHelp(
      "Train/test split: a train ratio like 0.8 (random, numpy's permutation, the bird workflow; the default), stratified[:RATIO] (per class), none (all train), or folders.",
      discussion: """
        When DATASET holds split folders (train/, val/ or test/), the split comes from them (folders) and any \
        other --split is refused: no image changes part.
        """))
  var split: String?

  @Option(
    help:
      "With split folders val/ (or valid/, validation/) and test/ both present: which one is the test part (default: val); the other is left out."
  )
  var testSplit: TestSplitChoice?

  @Option(help: "Seed of the split permutation (numpy's np.random.seed).")
  var splitSeed: UInt32 = 2021

  @Option(
    help:
      "Class index order: folder (sorted folder names, torchvision's ImageFolder) or display (sorted names after 'NNN.', the bird workflow)."
  )
  var classOrder: ClassOrder = .folder

  @Option(help: "CSV file of path,label lines (paths relative to DATASET) instead of walking DATASET.")
  var list: String?

  @Option(help: "Images per batch.")
  var batch: Int = 32

  @Option(help: "Stored feature type: float32 (default) or float16 (half the size).")
  var dtype: FeatureDType = .float32

  @Option(help: "Extract only shard k of N (e.g. 0/4), into its own store; join with `featx merge`.")
  var shard: String?

  @Option(help: "Refuse images larger than this many pixels (decompression-bomb guard; the default is PIL's limit).")
  var maxPixels: Int = ImageDecoder.defaultMaxPixels

  @Flag(
    help:
      "Decode JPEGs at 1/2, 1/4 or 1/8 scale when the result stays at least the resize's size, as PIL's Image.draft does (much faster on large photos; PNGs are unaffected)."
  )
  var draft = false

  @Flag(help: "Fail on the first unreadable image instead of skipping it.")
  var strict = false

  @Flag(help: "Replace an existing output instead of resuming it or refusing.")
  var overwrite = false

  @Flag(
    help:
      "Print the plan and write nothing: files, classes, split, each shard's rows, the store's size and a time estimate from a short run of the backbone."
  )
  var dryRun = false

  @Flag(help: "No progress output.")
  var quiet = false

  func validate() throws {
    guard batch > 0 else { throw ValidationError("--batch must be at least 1 image, not \(batch)") }
    guard maxPixels > 0 else { throw ValidationError("--max-pixels must be at least 1, not \(maxPixels)") }
    guard preset.map({ Preprocessing.presets[$0] != nil }) ?? true else {
      throw ValidationError("--preset must be imagenet or seed")
    }
    _ = try splitConfig()
    if list == nil, let split, split != "folders" {
      let found = DatasetWalk.splitFolderNames(dataset)
      if !found.isEmpty {
        throw ValidationError(
          "--split \(split): \(dataset) holds the split folders \(found.map { $0 + "/" }.joined(separator: ", ")), "
            + "so the split comes from them; drop --split (or use --list to split the images another way)")
      }
    }
    if let testSplit, list != nil || DatasetWalk.splitFolderNames(dataset).isEmpty {
      throw ValidationError(
        "--test-split \(testSplit.rawValue): \(dataset) has no split folders (train/, val/, test/) to choose from")
    }
    _ = try shardValue()
    // Preprocessing that cannot work is refused before any weights or image are read (for timm weights,
    // whose config.json gives the base, the options alone here and the whole in run()).
    if backbone.namesTimmModel {
      _ = try overridden(.imagenet, check: false)
    } else {
      _ = try preprocessing(backbone.knownWeights())
    }
  }

  func run() throws {
    // Resuming reads the existing output.
    if !overwrite { try HDF5Guard.check(output, as: .store) }
    let timm = try backbone.timmModel()
    let loaded = try backbone.load(timm: timm)
    if !quiet, let choice = try backbone.precisionChoice() { Terminal.warn(choice) }
    // After loading: the file's content may have named the architecture and the weights (a pinned sha256).
    let preprocessing = try preprocessing(
      timm == nil ? loaded.known ?? backbone.knownWeights() : nil, timm: timm?.config,
      arch: Architecture(rawValue: loaded.backbone.name))
    var options = ExtractOptions(root: dataset, output: output, preprocessing: preprocessing, split: try splitConfig())
    options.listFile = list
    options.classOrder = classOrder
    options.testSplit = testSplit
    options.batchSize = batch
    options.dtype = dtype
    options.shard = try shardValue()
    options.strict = strict
    options.overwrite = overwrite
    options.maxPixels = maxPixels
    let extractor = try Extractor(options: options, backbone: loaded.backbone, weightsName: loaded.weightsName)
    if dryRun {
      let plan = try extractor.plan()
      let rate = try DryRun.imagesPerSecond(loaded.backbone, preprocessing: preprocessing, batch: batch)
      print(DryRun.render(plan, options: options, imagesPerSecond: rate, threads: loaded.backbone.threads), terminator: "")
      return
    }
    let signals = SignalWatcher()
    let display = ProgressDisplay(quiet: quiet)
    let summary: ExtractSummary
    do {
      summary = try extractor.run(progress: display.update, interruption: { signals.received })
    } catch ExtractError.interrupted(let path, let done, let rows, let signal) {
      display.finish()
      Terminal.warn("interrupted: \(path) holds \(done) of \(rows) rows; run the same command again to resume")
      throw ExitCode(128 + signal)
    }
    display.finish()
    print(ExtractReport.render(summary, randomWeights: loaded.backbone.weights.isRandom), terminator: "")
  }

  func splitConfig() throws -> SplitConfig {
    guard let split else {
      // The default: the dataset's split folders if it has them, else the bird workflow's 80/20.
      let folders = list == nil && !DatasetWalk.splitFolderNames(dataset).isEmpty
      return SplitConfig(mode: folders ? .folders : .random, ratio: 0.8, seed: splitSeed)
    }
    switch split {
    case "folders": return SplitConfig(mode: .folders, ratio: 0.8, seed: splitSeed)
    case "none": return SplitConfig(mode: .none, ratio: 1, seed: splitSeed)
    case "stratified": return SplitConfig(mode: .stratified, ratio: 0.8, seed: splitSeed)
    default:
      let stratified = split.hasPrefix("stratified:")
      let text = stratified ? String(split.dropFirst("stratified:".count)) : split
      guard let ratio = Double(text), ratio > 0, ratio <= 1 else {
        throw ValidationError("--split must be a ratio in (0, 1], stratified[:RATIO], none or folders, not '\(split)'")
      }
      return SplitConfig(mode: stratified ? .stratified : .random, ratio: ratio, seed: splitSeed)
    }
  }

  func shardValue() throws -> (index: Int, count: Int)? {
    guard let shard else { return nil }
    let parts = shard.split(separator: "/").compactMap { Int($0) }
    guard parts.count == 2, parts[1] > 0, parts[0] >= 0, parts[0] < parts[1] else {
      throw ValidationError("--shard must be k/N with 0 <= k < N, e.g. 0/4")
    }
    return (parts[0], parts[1])
  }

  /// The weights' evaluation preprocessing, then the options' overrides: timm's evaluation transform from
  /// `timm`'s config.json unless `--preset` is given, else the preset adjusted to torchvision weights'
  /// evaluation resize and crop (e.g. 232 for ResNet50 V2; for random or unknown weights, the architecture's
  /// default weights', e.g. 342 and 299 for Inception v3).
  func preprocessing(_ known: KnownWeights?, timm: TimmConfig? = nil, arch: Architecture? = nil) throws -> Preprocessing {
    let arch = arch ?? (try? backbone.namedArchitecture())
    guard let preset else {
      // The weights' own evaluation transform (`Preprocessing.evaluation`: timm's config, a known file's, the
      // architecture's default weights').
      let base: Preprocessing
      do {
        base = try Preprocessing.evaluation(arch: arch, known: known, timm: timm?.featxData, interpolation: interpolation)
      } catch let error as PreprocessingError {
        throw BackboneError.badTimmConfig(path: timm?.path ?? "the published configuration", reason: error.reason)
      }
      return try overridden(base)
    }
    var p = Preprocessing.presets[preset]!
    // timm weights with an explicit --preset take the preset as it is.
    if preset == "imagenet", timm == nil, let known = known ?? arch.flatMap(KnownWeights.defaultFor) { p.apply(known) }
    return try overridden(p)
  }

  /// `base` with --resize, --crop, --mean, --std, --interpolation and --draft applied, then (`check`)
  /// validated; a refusal names the option.
  func overridden(_ base: Preprocessing, check: Bool = true) throws -> Preprocessing {
    var p = base
    func ints(_ text: String) throws -> [Int] {
      let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
        Int($0.trimmingCharacters(in: .whitespaces))
      }
      guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("'\(text)' is not a size like 224 or 224,224 (positive whole pixels)")
      }
      return values.map { $0! }
    }
    func floats(_ text: String) throws -> [Float] {
      let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
        Float($0.trimmingCharacters(in: .whitespaces))
      }
      guard values.count == 3, values.allSatisfy({ $0?.isFinite == true }) else {
        throw ValidationError("'\(text)' is not three numbers R,G,B")
      }
      return values.map { $0! }
    }
    if let resize {
      let size = try ints(resize)
      guard size.count <= 2 else { throw ValidationError("--resize takes S or H,W") }
      p.resize = size.count == 2 ? .exact(height: size[0], width: size[1]) : .shorter(size[0])
    }
    if let crop {
      if crop == "none" {
        p.crop = nil
      } else {
        let size = try ints(crop)
        guard size.count <= 2 else { throw ValidationError("--crop takes S or H,W") }
        p.crop = size.count == 2 ? size : [size[0], size[0]]
      }
    }
    if mean == "none" {
      p.mean = nil
      p.std = nil
    } else {
      if let mean { p.mean = try floats(mean) }
      if let std { p.std = try floats(std) }
    }
    if let interpolation {
      guard PILFilter(rawValue: interpolation) != nil else {
        throw ValidationError(
          "--interpolation must be \(PILFilter.allCases.map(\.rawValue).joined(separator: " or ")), not '\(interpolation)'")
      }
      p.interpolation = interpolation
    }
    if draft {
      guard p.resize != nil else { throw ValidationError("--draft needs a resize (it decodes JPEGs down to the resize's size)") }
      p.draft = true
    }
    guard check else { return p }
    do { try p.validate() } catch let error as PreprocessingError {
      let option =
        switch error.parameter {
        case .resize: "--resize"
        case .crop: "--crop"
        case .normalization: "--mean/--std"
        case .interpolation: "--interpolation"
        }
      throw ValidationError("\(option): \(error.reason)")
    }
    return p
  }
}

/// Turns SIGINT/SIGTERM into a flag the extraction polls between batches.
final class SignalWatcher: @unchecked Sendable {
  // Sendable: `signal` is only accessed under `lock`.
  private let lock = NSLock()
  private var signal: Int32?
  private var sources: [DispatchSourceSignal] = []

  init() {
    sources = StopSignals.watch { [weak self] number in
      guard let self else { return }
      self.lock.lock()
      if self.signal == nil { self.signal = number }
      self.lock.unlock()
      Terminal.warn("\nstopping after the current batch (\(StopSignals.name(number))); press again to stop at once")
      Glibc.signal(number, SIG_DFL)
    }
  }

  var received: Int32? {
    lock.lock()
    defer { lock.unlock() }
    return signal
  }
}

/// Progress on stderr: redrawn in place on a terminal, a line every 10 s otherwise, nothing with --quiet.
final class ProgressDisplay: @unchecked Sendable {
  // Sendable: used from the extraction thread only.
  private let quiet: Bool
  private var lastLine = Date.distantPast
  private var drewStatus = false

  init(quiet: Bool) { self.quiet = quiet }

  func update(_ p: ExtractProgress) {
    guard !quiet else { return }
    let eta = p.remaining.map { Self.duration($0) } ?? "?"
    let percent = p.total > 0 ? 100 * Double(p.done) / Double(p.total) : 100
    let text = String(
      format: "%d/%d images (%.0f%%), %.1f img/s, ETA %@, %d skipped", p.done, p.total, percent, p.rate, eta, p.skipped)
    if Terminal.isTTY {
      Terminal.status(text)
      drewStatus = true
    } else if Date().timeIntervalSince(lastLine) >= 10 || p.done == p.total {
      Terminal.warn(text)
      lastLine = Date()
    }
  }

  func finish() {
    if drewStatus { Terminal.warn("") }
    drewStatus = false
  }

  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
  }
}

/// The summary printed after an extraction.
enum ExtractReport {
  static func render(_ s: ExtractSummary, randomWeights: Bool) -> String {
    var out = ""
    if s.alreadyComplete {
      out += "\(s.output) is already complete with this configuration: nothing to do (pass --overwrite to redo it).\n"
    }
    out += "wrote \(s.output): \(s.rows) rows (train \(s.train), test \(s.test)), feature shape \(s.featureShape)"
    out += randomWeights ? " [SEEDED RANDOM WEIGHTS]\n" : "\n"
    if let folders = s.splitFolders { out += splitFolderLines(folders) }
    if s.resumedFrom > 0 { out += "resumed after row \(s.resumedFrom)\n" }
    if s.processed > 0 {
      out += String(
        format: "%d images in %.1f s (%.1f img/s)\n", s.processed, s.seconds, Double(s.processed) / max(s.seconds, 1e-9))
    }
    if !s.skipped.isEmpty {
      out += "skipped \(s.skipped.count) unreadable image(s):\n"
      for (path, reason) in s.skipped { out += "  \(path): \(reason)\n" }
      if s.skipped.contains(where: { $0.reason.contains("decompression bomb guard") }) {
        out += "  (images above the pixel limit are refused as decompression bombs; raise it with --max-pixels)\n"
      }
    }
    if !s.ignored.isEmpty {
      out += "ignored \(s.ignored.count) other file(s):\n"
      for item in s.ignored.prefix(20) { out += "  \(item.path): \(item.reason)\n" }
      if s.ignored.count > 20 { out += "  … and \(s.ignored.count - 20) more\n" }
    }
    return out
  }

  /// What was detected in a dataset of split folders, and the classes found in only one part.
  static func splitFolderLines(_ f: SplitFolders) -> String {
    func counted(_ folder: SplitFolders.Folder) -> String {
      "\(folder.images) image\(folder.images == 1 ? "" : "s"), \(folder.classFolders.count) class\(folder.classFolders.count == 1 ? "" : "es")"
    }
    var parts: [String] = []
    if let train = f.train { parts.append("\(train.name)/ → train (\(counted(train)))") }
    if let test = f.test { parts.append("\(test.name)/ → test (\(counted(test)))") }
    var out = "split folders: " + parts.joined(separator: ", ") + "\n"
    for left in f.leftOut {
      let choice = SplitFolderKind(folderName: left.name) == .test ? "test" : "val"
      out +=
        "  \(left.name)/ left out (\(left.images) images): \(f.test?.name ?? "")/ is the test part; "
        + "--test-split \(choice) uses \(left.name)/ instead\n"
    }
    if f.train == nil { out += "  no train/ folder: every image is test (a store to evaluate a head on)\n" }
    if f.test == nil { out += "  no val/ or test/ folder: every image is train\n" }
    func names(_ folders: [String]) -> String {
      folders.prefix(10).joined(separator: ", ") + (folders.count > 10 ? ", … (\(folders.count) in all)" : "")
    }
    if let train = f.train, let test = f.test {
      if !f.onlyInTrain.isEmpty { out += "  classes only in \(train.name)/ (no test images): \(names(f.onlyInTrain))\n" }
      if !f.onlyInTest.isEmpty { out += "  classes only in \(test.name)/ (no train images): \(names(f.onlyInTest))\n" }
    }
    return out
  }
}
