// timm's config.json against timm itself (Tests/Fixtures/timm, tools/make_timm_fixtures.py): the data config
// resolved and the evaluation transform built as timm builds them, every refusal naming the file; timm's
// checkpoint filter for rdnet; a timm-saved pytorch_model.bin through the restricted unpickler.

import Backbones
import Foundation
import Images
import Support
import Testing
import TestSupport
import Weights

/// The featx preprocessing for a config, as the CLI builds it (no overrides).
private func featxTransform(_ config: TimmConfig) throws -> Preprocessing {
  let d = config.data
  return try Preprocessing.timmEval(
    height: d.height, width: d.width, cropPct: d.cropPct, cropMode: d.cropMode, interpolation: d.interpolation, mean: d.mean,
    std: d.std)
}

@Suite struct TimmConfigTests {
  struct Fixture: Decodable {
    struct Case: Decodable {
      var name: String
      var config_file: String?
      var data_config: DataConfig?
      var transform: [[String: Step]]?
    }
    struct DataConfig: Decodable {
      var input_size: [Int]
      var interpolation: String
      var crop_pct: Double
      var crop_mode: String
      var mean: [Double]
      var std: [Double]
    }
    /// One transform step's argument: a size (int or [h, w]), a Resize, a Normalize, or other text.
    struct Step: Decodable {
      var sizes: [Int]?
      var size: [Int]?
      var interpolation: String?
      var mean: [Double]?
      var std: [Double]?
      var text: String?
      enum Keys: String, CodingKey { case size, interpolation, mean, std }
      init(from decoder: Decoder) throws {
        if let sizes = try? decoder.singleValueContainer().decode([Int].self) {
          self.sizes = sizes
        } else if let text = try? decoder.singleValueContainer().decode(String.self) {
          self.text = text
        } else {
          let c = try decoder.container(keyedBy: Keys.self)
          if let one = try? c.decode(Int.self, forKey: .size) {
            size = [one]
          } else {
            size = try c.decodeIfPresent([Int].self, forKey: .size)
          }
          interpolation = try c.decodeIfPresent(String.self, forKey: .interpolation)
          mean = try c.decodeIfPresent([Double].self, forKey: .mean)
          std = try c.decodeIfPresent([Double].self, forKey: .std)
        }
      }
    }
    var timm: String
    var cases: [Case]
  }

  static let directory = TestPaths.fixture("timm")

  static func fixture() throws -> Fixture {
    try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: directory.appendingPathComponent("transforms.json")))
  }

  /// The config of a fixture case: its file, or the hand-written config embedded in transforms.json.
  static func config(_ c: Fixture.Case, in dir: TemporaryDirectory) throws -> String {
    if let file = c.config_file { return directory.appendingPathComponent(file).path }
    let all = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("transforms.json")))
    let cases = (all as! [String: Any])["cases"] as! [[String: Any]]
    let object = cases.first { $0["name"] as? String == c.name }!["config"]!
    let path = dir.path(c.name + ".json")
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Every case: the data config timm resolves, and Resize + CenterCrop + ToTensor + Normalize step by
  /// step; what timm does with other steps (ResizeKeepRatio, CenterCropOrPad) or filters (lanczos),
  /// featx refuses on one line naming the file.
  @Test func dataConfigsAndTransformsAreTimms() throws {
    let fixture = try Self.fixture()
    #expect(fixture.timm == "1.0.31")
    let dir = TemporaryDirectory()
    var matched: [String] = []
    var refused: [String: String] = [:]
    for c in fixture.cases {
      let path = try Self.config(c, in: dir)
      let timm = try #require(c.data_config, "\(c.name): timm refused it")
      let steps = try #require(c.transform)
      let config = try? TimmConfig.read(path)
      if let config {
        // resolve_data_config
        let d = config.data
        #expect([3, d.height, d.width] == timm.input_size, "\(c.name)")
        #expect(d.interpolation == timm.interpolation, "\(c.name)")
        #expect(d.cropPct == timm.crop_pct, "\(c.name)")
        #expect(d.cropMode == timm.crop_mode, "\(c.name)")
        #expect(d.mean == timm.mean && d.std == timm.std, "\(c.name)")
      }
      let names = steps.map { $0.keys.first! }
      guard let config, names == ["Resize", "CenterCrop", "ToTensor", "Normalize"], steps[0]["Resize"]!.interpolation != "lanczos"
      else {
        let text = failure {
          let config = try TimmConfig.read(path)
          do { return try featxTransform(config) } catch let error as PreprocessingError {
            throw BackboneError.badTimmConfig(path: path, reason: error.reason)
          }
        }
        #expect(text.hasPrefix("\(path): not a usable timm config.json: "), "\(c.name): \(text)")
        refused[c.name] = String(text.dropFirst("\(path): not a usable timm config.json: ".count))
        continue
      }
      let p = try featxTransform(config)
      let resize = steps[0]["Resize"]!
      switch (p.resize, resize.size) {
      case (.shorter(let s)?, let size?): #expect([s] == size, "\(c.name)")
      case (.exact(let h, let w)?, let size?): #expect([h, w] == size, "\(c.name)")
      default: Issue.record("\(c.name): resize \(String(describing: p.resize)) vs \(String(describing: resize.size))")
      }
      #expect(p.interpolation == resize.interpolation, "\(c.name)")
      #expect(p.crop == steps[1]["CenterCrop"]!.sizes, "\(c.name)")
      // timm's Normalize tensors are float32, as featx's values.
      #expect(p.mean.map { $0.map(Double.init) } == steps[3]["Normalize"]!.mean, "\(c.name)")
      #expect(p.std.map { $0.map(Double.init) } == steps[3]["Normalize"]!.std, "\(c.name)")
      matched.append(c.name)
    }
    #expect(matched.count == 16, "\(matched)")
    #expect(
      refused == [
        "border":
          "crop_mode border (timm's ResizeKeepRatio + CenterCropOrPad) is not reproduced by featx (center and squash are)",
        "center_non_square":
          "crop_mode center with the non-square input_size 192x256 resizes with timm's ResizeKeepRatio, which featx does not "
          + "reproduce (squash does)",
        "lanczos": "'lanczos' is not supported; use bilinear or bicubic",
      ])
  }

  /// resnet18.a1_in1k as the hub has it: Resize(235) bicubic, CenterCrop(224), ImageNet's mean and std.
  @Test func resnet18A1() throws {
    let config = try TimmConfig.read(TestPaths.fixture("hub/timm--resnet18.a1_in1k/config.json").path)
    #expect(config.architecture == "resnet18" && config.numClasses == 1000)
    #expect(try config.architecture() == .resnet18)
    #expect(try config.architecture(requested: "ResNet18") == .resnet18)
    #expect(
      try featxTransform(config).json
        == #"{"antialias":true,"crop":[224,224],"interpolation":"bicubic","mean":[0.485,0.456,0.406],"resize":{"mode":"shorter","size":[235]},"std":[0.229,0.224,0.225]}"#
    )
  }

  /// One line naming the file for each way a config.json can be unusable.
  @Test func unusableConfigsAreNamed() throws {
    let dir = TemporaryDirectory()
    func message(_ text: String) throws -> String {
      let path = dir.path("config.json")
      try writeFileAtomically(path, Array(text.utf8))
      let reason = failure { try TimmConfig.read(path) }
      #expect(reason.hasPrefix("\(path): not a usable timm config.json: "), "\(reason)")
      return String(reason.dropFirst("\(path): not a usable timm config.json: ".count))
    }
    #expect(try message("{\"architecture\": \"resnet18\",").hasPrefix("not valid JSON ("))
    #expect(try message("").hasPrefix("not valid JSON ("))
    #expect(try message("[1, 2]") == "the top level is not a JSON object")
    #expect(try message(#"{"pretrained_cfg": {}}"#) == #"it names no architecture (the "architecture" entry)"#)
    #expect(try message(#"{"architecture": 7, "pretrained_cfg": {}}"#) == #"it names no architecture (the "architecture" entry)"#)
    #expect(try message(#"{"architecture": "resnet18", "pretrained_cfg": [1]}"#) == "pretrained_cfg is not a JSON object")
    #expect(try message(#"{"architecture": "resnet18", "num_classes": 2.5}"#) == "num_classes is 2.5, not a whole number")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"input_size": [224, 224]}}"#)
        == "input_size is [224, 224], not [channels, height, width] in pixels")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"input_size": [1, 224, 224]}}"#)
        == "input_size has 1 channels; featx feeds RGB images (3)")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"interpolation": 3}}"#) == "interpolation is 3, not a name")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"crop_pct": -0.5}}"#)
        == "crop_pct is -0.5, not a positive fraction")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"crop_mode": "border"}}"#)
        == "crop_mode border (timm's ResizeKeepRatio + CenterCropOrPad) is not reproduced by featx (center and squash are)")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"crop_mode": "zoom"}}"#)
        == "crop_mode 'zoom' is not one of timm's (center, squash, border)")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"mean": [0.5, 0.5]}}"#)
        == "mean is [0.5, 0.5], not three numbers (R, G, B)")
    #expect(
      try message(#"{"architecture": "resnet18", "pretrained_cfg": {"std": [1, "x", 1]}}"#)
        == #"std is [1, "x", 1], not three numbers (R, G, B)"#)
    let missing = dir.path("absent/config.json")
    #expect(failure { try TimmConfig.read(missing) }.hasPrefix("\(missing): not a usable timm config.json: "))
  }

  /// An architecture featx does not build, and an `--arch` that contradicts the file, each named.
  @Test func architectureMustBeKnownAndAgree() throws {
    let vit = TestPaths.fixture("timm/configs/vit_tiny_patch16_224.augreg_in21k_ft_in1k.json").path
    let choices = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
    #expect(
      failure { try TimmConfig.read(vit).architecture() }
        == "\(vit): not a usable timm config.json: its architecture vit_tiny_patch16_224 is not one featx builds (\(choices))")
    let resnet = TestPaths.fixture("hub/timm--resnet50.a1_in1k/config.json").path
    #expect(
      failure { try TimmConfig.read(resnet).architecture(requested: "densenet121") }
        == "architecture densenet121 contradicts \(resnet), which is the config of resnet50 weights")
    // rdnet_* map through Architecture(rawValue:); timm's inception_v3 (no transform_input in the network,
    // mean = std = 0.5 in its config) is preprocessed with ImageNet's mean/std instead, which featx's
    // torchvision Inception v3 turns into (x - 0.5) / 0.5 with its transform_input.
    let rdnet = try TimmConfig.read(TestPaths.fixture("hub/naver-ai--rdnet_tiny.nv_in1k/config.json").path)
    #expect(try rdnet.architecture() == .rdnet_tiny)
    #expect(rdnet.featxData == rdnet.data)
    let inception = try TimmConfig.read(TestPaths.fixture("hub/timm--inception_v3.tv_in1k/config.json").path)
    #expect(try inception.architecture() == .inception_v3)
    #expect(inception.data.mean == [0.5, 0.5, 0.5] && inception.data.std == [0.5, 0.5, 0.5])
    var expected = inception.data
    (expected.mean, expected.std) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    #expect(inception.featxData == expected)
  }

  /// rdnet's filter as timm's `checkpoint_filter_fn` gives it (fixture), after Checkpoint unwrapped the
  /// `model` entry of a NAVER-style file; no other architecture is touched.
  @Test func rdnetStemKeysAreRenamedLikeTimm() throws {
    let dict = try Checkpoint.load(path: TestPaths.fixture("timm/rdnet_naver_style.pth").path)
    #expect(dict.keys.first == "stem.stem.0.weight")
    struct Expected: Decodable { var checkpoint_filter_fn_keys: [String] }
    let expected = try JSONDecoder().decode(
      Expected.self, from: Data(try readFile(TestPaths.fixture("timm/rdnet_naver_style.json").path)))
    let filtered = TimmConfig.filterKeys(dict, architecture: "rdnet_tiny")
    #expect(filtered.keys == expected.checkpoint_filter_fn_keys)
    #expect(filtered.tensors["stem.0.weight"]?.values == dict.tensors["stem.stem.0.weight"]?.values)
    #expect(Set(filtered.tensors.keys) == Set(filtered.keys))
    #expect(TimmConfig.filterKeys(dict, architecture: "resnet50").keys == dict.keys)
    // A timm-named rdnet file (stem.0.weight present) is left as it is.
    var timmNamed = dict
    timmNamed.keys.append("stem.0.weight")
    timmNamed.tensors["stem.0.weight"] = dict.tensors["stem.stem.0.weight"]
    #expect(TimmConfig.filterKeys(timmNamed, architecture: "rdnet_base").keys == timmNamed.keys)
  }

  /// NAVER's layout of the tiny RDNet (`{"model": …}`, `stem.stem.*`; tools/make_rdnet_tiny.py) is, once
  /// checked for an rdnet, exactly timm's state_dict: the same keys in the same order, the same values.
  @Test func naverRDNetFileConformsToTimmsKeys() throws {
    let naver = try Checkpoint.load(path: TestPaths.fixture("backbones/tiny/rdnet.nv.bin").path)
    let timm = try Checkpoint.load(path: TestPaths.fixture("backbones/tiny/rdnet.bin").path)
    #expect(naver.keys.contains("stem.stem.0.weight") && !naver.keys.contains("stem.0.weight"))
    let conformed = try WeightCheck.conform(naver, to: TinyRDNetTests.config, name: "rdnet_tiny")
    #expect(conformed.keys == timm.keys)
    #expect(conformed.keys.allSatisfy { conformed.tensors[$0]?.values == timm.tensors[$0]?.values })
    #expect(throws: BackboneError.self) { try WeightCheck.conform(naver, to: TinyRDNetTests.config, name: "tiny") }
  }

  /// A state_dict timm saved (`torch.save(model.state_dict())`, what pytorch_model.bin holds) calls only the
  /// globals torchvision's files call, so the restricted unpickler reads every tensor exactly.
  @Test func timmSavedBinReadsThroughTheRestrictedUnpickler() throws {
    struct Info: Decodable {
      struct Tensor: Decodable {
        var key: String
        var shape: [Int]
        var dtype: String
        var sha256: String
      }
      var pickle_globals: [String]
      var tensors: [Tensor]
    }
    let info = try JSONDecoder().decode(
      Info.self, from: Data(try readFile(TestPaths.fixture("timm/tiny_resnet.timm.json").path)))
    #expect(
      info.pickle_globals == [
        "collections OrderedDict", "torch FloatStorage", "torch LongStorage", "torch._utils _rebuild_tensor_v2",
      ])
    let dict = try Checkpoint.load(path: TestPaths.fixture("timm/tiny_resnet.timm.bin").path)
    #expect(dict.keys == info.tensors.map(\.key))
    for t in info.tensors {
      let tensor = try #require(dict.tensors[t.key])
      #expect(tensor.shape == t.shape, "\(t.key)")
      let digest: String
      if t.dtype == "float32" {
        digest = try tensor.values.withUnsafeBytes { try SHA256.hex($0) }
      } else {
        digest = try tensor.integers.withUnsafeBytes { try SHA256.hex($0) }
      }
      #expect(digest == t.sha256, "\(t.key) (\(t.dtype))")
    }
  }
}
