// timm's `config.json` (what `push_to_hf_hub` / `save_for_hf` write beside the weights): the architecture
// and the data config timm evaluates the weights with, resolved as timm 1.0 does it
// (`_hub._parse_model_cfg`, then `data.config.resolve_data_config({}, model=model)`: `input_size`, else
// (3, 224, 224); `interpolation`, else bicubic; `crop_pct`, else 0.875; `crop_mode`, else center; `mean` and
// `std`, else ImageNet's; a missing, null, empty or zero value takes the default), and timm's
// checkpoint filters that featx's loader does not already apply.

import Foundation
import Support
import Weights

/// A timm `config.json`, parsed and resolved.
public struct TimmConfig: Equatable, Sendable {
  /// The file it was read from (named in every error).
  public var path: String
  /// timm's model name without the pretrained tag, e.g. `resnet50`, `rdnet_tiny`.
  public var architecture: String
  /// Classes of the weights' classifier (featx ignores the classifier), when the file says.
  public var numClasses: Int?
  public var data: DataConfig

  /// What timm's `resolve_data_config` returns for the weights (defaults filled in).
  public struct DataConfig: Equatable, Sendable {
    /// Input height and width (timm's `input_size[1:]`).
    public var height: Int
    public var width: Int
    /// `bilinear`, `bicubic`, … (timm's names, which are torchvision's and PIL's).
    public var interpolation: String
    /// Crop size over resize size: the resize is `floor(size / crop_pct)`.
    public var cropPct: Double
    /// `center`, `squash` or `border`.
    public var cropMode: String
    public var mean: [Double]
    public var std: [Double]
  }

  /// timm's defaults (`timm.data.constants`: DEFAULT_CROP_PCT, DEFAULT_CROP_MODE, IMAGENET_DEFAULT_MEAN/STD).
  public static let defaultData = DataConfig(
    height: 224, width: 224, interpolation: "bicubic", cropPct: 0.875, cropMode: "center", mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225])

  /// The data config of an architecture whose published weights are timm's, for its weights given without
  /// a config.json (a file, random weights): the `pretrained_cfg` of the tag `hubRepository` names, bicubic
  /// throughout (RDNet and timm's ViT and DeiT tags: crop_pct 0.9; DINOv2: 518 px, crop_pct 1; CLIP: OpenAI's
  /// mean and std; AugReg and SigLIP: mean = std = 0.5).
  public static func publishedData(_ arch: Architecture) -> DataConfig? {
    guard let repository = arch.hubRepository else { return nil }
    var data = defaultData
    data.cropPct = 0.9
    if repository.hasSuffix(".lvd142m") { (data.height, data.width, data.cropPct) = (518, 518, 1) }
    if repository.contains(".augreg") || repository.hasSuffix(".webli") {
      (data.mean, data.std) = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    }
    if repository.hasSuffix(".openai") {
      data.mean = [0.48145466, 0.4578275, 0.40821073]
      data.std = [0.26862954, 0.26130258, 0.27577711]
    }
    return data
  }

  /// Largest config.json read (real ones are 1-3 KB).
  public static let maxFileBytes = 1 << 20

  /// Reads and resolves `path`.
  /// - Throws: `BackboneError.badTimmConfig` naming the file: unreadable, not JSON, no architecture, values
  ///   of the wrong type or out of range, a crop mode featx does not reproduce.
  public static func read(_ path: String) throws -> TimmConfig {
    let bytes: [UInt8]
    do { bytes = try readFile(path, limit: maxFileBytes) } catch let error as FileError {
      throw BackboneError.badTimmConfig(path: path, reason: error.reason)
    }
    return try parse(bytes, path: path)
  }

  /// Resolves the bytes of a config.json; `path` is used in messages.
  public static func parse(_ bytes: [UInt8], path: String) throws -> TimmConfig {
    func bad(_ reason: String) -> BackboneError { .badTimmConfig(path: path, reason: reason) }
    let json: JSON
    do { json = try JSONDecoder().decode(JSON.self, from: Data(bytes)) } catch {
      throw bad("not valid JSON (\(Self.describe(error)))")
    }
    guard case .object(var top) = json else { throw bad("the top level is not a JSON object") }
    // The legacy single-dict form keeps the pretrained config at the top level.
    var pretrained: [String: JSON]
    if let inner = top["pretrained_cfg"] {
      guard case .object(let object) = inner else { throw bad("pretrained_cfg is not a JSON object") }
      pretrained = object
    } else {
      pretrained = top
      top = ["architecture": top["architecture"] ?? .null, "num_classes": top["num_classes"] ?? .null]
    }
    guard case .string(let architecture)? = top["architecture"], !architecture.isEmpty else {
      throw bad("it names no architecture (the \"architecture\" entry)")
    }
    var numClasses: Int?
    if let value = top["num_classes"] ?? pretrained["num_classes"], value != .null {
      guard let n = value.wholeNumber, n >= 0 else { throw bad("num_classes is \(value), not a whole number") }
      numClasses = n
    }

    var data = defaultData
    if let value = pretrained["input_size"], value != .null {
      guard case .array(let items) = value, items.count == 3, let sizes = Optional(items.compactMap(\.wholeNumber)),
        sizes.count == 3, sizes.allSatisfy({ $0 > 0 && $0 <= 1 << 16 })
      else { throw bad("input_size is \(value), not [channels, height, width] in pixels") }
      guard sizes[0] == 3 else { throw bad("input_size has \(sizes[0]) channels; featx feeds RGB images (3)") }
      data.height = sizes[1]
      data.width = sizes[2]
    }
    if let value = pretrained["interpolation"], value.isTruthy {
      guard case .string(let name) = value else { throw bad("interpolation is \(value), not a name") }
      data.interpolation = name
    }
    if let value = pretrained["crop_pct"], value.isTruthy {
      guard case .number(let pct) = value, pct.isFinite, pct > 0 else {
        throw bad("crop_pct is \(value), not a positive fraction")
      }
      data.cropPct = pct
    }
    if let value = pretrained["crop_mode"], value.isTruthy {
      guard case .string(let mode) = value else { throw bad("crop_mode is \(value), not a name") }
      data.cropMode = mode
    }
    for (key, keyPath) in [("mean", \DataConfig.mean), ("std", \DataConfig.std)] {
      guard let value = pretrained[key], value.isTruthy else { continue }
      guard case .array(let items) = value, items.count == 3, let numbers = Optional(items.compactMap(\.number)),
        numbers.count == 3, numbers.allSatisfy(\.isFinite)
      else { throw bad("\(key) is \(value), not three numbers (R, G, B)") }
      data[keyPath: keyPath] = numbers
    }
    switch data.cropMode {
    case "center", "squash": break
    case "border":
      throw bad("crop_mode border (timm's ResizeKeepRatio + CenterCropOrPad) is not reproduced by featx (center and squash are)")
    default: throw bad("crop_mode '\(data.cropMode)' is not one of timm's (center, squash, border)")
    }
    return TimmConfig(path: path, architecture: architecture, numClasses: numClasses, data: data)
  }

  /// The featx architecture of these weights; `requested` (an `--arch`) must agree with it.
  /// - Throws: `BackboneError.badTimmConfig` for an architecture featx does not build,
  ///   `BackboneError.architectureConflict` when `requested` names another.
  public func architecture(requested: String? = nil) throws -> Architecture {
    guard let arch = Architecture(rawValue: architecture) else {
      throw BackboneError.badTimmConfig(
        path: path,
        reason:
          "its architecture \(architecture) is not one featx builds (\(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))"
      )
    }
    if let requested, requested.lowercased() != arch.rawValue {
      throw BackboneError.architectureConflict(requested: requested, path: path, found: arch.rawValue)
    }
    if Self.torchvisionInput.contains(arch), data.mean != Self.halves || data.std != Self.halves {
      throw BackboneError.badTimmConfig(
        path: path,
        reason: "timm's \(arch.rawValue) normalises with mean \(data.mean) and std \(data.std), but featx's "
          + "\(arch.rawValue) is torchvision's, whose transform_input expects timm's mean = std = 0.5")
    }
    return arch
  }

  /// Architectures featx builds as torchvision does, with `transform_input` inside the network: timm's
  /// versions have none, and their config.json normalises with mean = std = 0.5 instead.
  static let torchvisionInput: Set<Architecture> = [.inception_v3, .googlenet]
  static let halves: [Double] = [0.5, 0.5, 0.5]

  /// The data config featx preprocesses with: timm's, except that for Inception v3 timm's (x - 0.5) / 0.5
  /// becomes ImageNet's normalisation, which featx's transform_input maps to (x - 0.5) / 0.5 (equal in real
  /// arithmetic, within 2e-7 in float32), so the network sees what timm's does.
  public var featxData: DataConfig {
    guard let arch = Architecture(rawValue: architecture), Self.torchvisionInput.contains(arch) else { return data }
    var d = data
    (d.mean, d.std) = (TimmConfig.defaultData.mean, TimmConfig.defaultData.std)
    return d
  }

  /// timm's checkpoint filter for `architecture`, where featx's loader does not already do its work
  /// (the `model`/`state_dict` wrapper is unwrapped by `Checkpoint`, DenseNet's old key names by
  /// `WeightCheck`): rdnet's NAVER checkpoints name the stem `stem.stem.*` where timm has `stem.*`
  /// (`rdnet.checkpoint_filter_fn`: skipped when `stem.0.weight` exists; `str.replace` of every occurrence,
  /// a later duplicate key overwriting an earlier one's value in place).
  public static func filterKeys(_ dict: StateDict, architecture: String) -> StateDict {
    if architecture.hasPrefix("vit_") { return TransformerCheckpoints.timmLayout(dict, architecture: architecture) }
    guard architecture.hasPrefix("rdnet"), dict.tensors["stem.0.weight"] == nil else { return dict }
    var out = dict
    out.keys = []
    out.tensors = [:]
    for key in dict.keys {
      let renamed = key.replacingOccurrences(of: "stem.stem.", with: "stem.")
      if out.tensors[renamed] == nil { out.keys.append(renamed) }
      out.tensors[renamed] = dict.tensors[key]
    }
    return out
  }

  /// A decoding error in a few words (JSONDecoder's own text is a paragraph).
  static func describe(_ error: Error) -> String {
    guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
    let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
    return underlying ?? context.debugDescription
  }
}

/// Any JSON value (config.json holds more than featx reads).
enum JSON: Decodable, Equatable, CustomStringConvertible {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSON])
  case object([String: JSON])

  init(from decoder: Decoder) throws {
    if var array = try? decoder.unkeyedContainer() {
      var items: [JSON] = []
      while !array.isAtEnd { items.append(try array.decode(JSON.self)) }
      self = .array(items)
      return
    }
    if let object = try? decoder.container(keyedBy: Key.self) {
      var items: [String: JSON] = [:]
      for key in object.allKeys { items[key.stringValue] = try object.decode(JSON.self, forKey: key) }
      self = .object(items)
      return
    }
    let value = try decoder.singleValueContainer()
    if value.decodeNil() {
      self = .null
    } else if let bool = try? value.decode(Bool.self) {
      self = .bool(bool)
    } else if let number = try? value.decode(Double.self) {
      self = .number(number)
    } else {
      self = .string(try value.decode(String.self))
    }
  }

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  var number: Double? { if case .number(let n) = self { n } else { nil } }

  /// An integral number, as Python's int.
  var wholeNumber: Int? {
    guard case .number(let n) = self, n == n.rounded(), abs(n) < 1e15 else { return nil }
    return Int(n)
  }

  /// Python's truthiness, which timm's `pretrained_cfg.get(key)` tests: null, false, 0, "" and empty
  /// containers take the default.
  var isTruthy: Bool {
    switch self {
    case .null: false
    case .bool(let b): b
    case .number(let n): n != 0
    case .string(let s): !s.isEmpty
    case .array(let a): !a.isEmpty
    case .object(let o): !o.isEmpty
    }
  }

  var description: String {
    switch self {
    case .null: "null"
    case .bool(let b): "\(b)"
    case .number(let n): n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
    case .string(let s): "\"\(s)\""
    case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
    case .object: "{…}"
    }
  }
}
