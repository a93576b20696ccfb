// `featx extract --weights hf-hub:timm/resnet18.a1_in1k` end to end, offline, on a Hugging Face cache laid
// out as huggingface_hub lays it out, holding seeded random resnet18 weights and the model's real
// config.json: the architecture and timm's evaluation transform come from config.json, the features equal
// those of the same file given with the same preprocessing as flags, and predict finds the snapshot again.

import Backbones
import FeatureStore
import Foundation
import Probe
import Support
import Testing
import TestSupport
import Weights

private let repoID = "timm/resnet18.a1_in1k"
private let commit = "89abcdef0123456789abcdef0123456789abcdef"
private let flowers = TestPaths.datasets.appendingPathComponent("flower_photos_small")

/// Three photos each of two flower classes, linked into `dir/data`.
private func flowerDataset(_ dir: TemporaryDirectory) throws -> String {
  let root = dir.path("data")
  for name in ["daisy", "roses"] {
    try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
    let photos = try FileManager.default.contentsOfDirectory(atPath: flowers.path + "/" + name).sorted().prefix(3)
    for photo in photos {
      try FileManager.default.createSymbolicLink(
        atPath: "\(root)/\(name)/\(photo)", withDestinationPath: "\(flowers.path)/\(name)/\(photo)")
    }
  }
  return root
}

@Suite(
  .serialized,
  .enabled(
    if: FileManager.default.fileExists(atPath: flowers.path), "the shared datasets (flower_photos_small) are not available"))
struct HubCLITests {
  /// The cache (`dir/hub`, refs/main → snapshot with config.json and model.safetensors = resnet18 random:0)
  /// and the environment that sees only it, offline.
  static func cache(_ dir: TemporaryDirectory) throws -> (layout: HubCacheLayout, weights: String, env: [String: String]) {
    let weights = dir.path("resnet18-random0.safetensors")
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 0), to: weights)
    let layout = HubCacheLayout(root: dir.path("hub"))
    try layout.put(
      "config.json", copyOf: TestPaths.fixture("hub/timm--resnet18.a1_in1k/config.json").path, repo: repoID, commit: commit)
    try layout.put("model.safetensors", copyOf: weights, repo: repoID, commit: commit)
    try layout.setRef(repo: repoID, commit: commit)
    let env = [
      "HOME": dir.path("home"), "HF_HUB_CACHE": layout.root, "HF_HUB_OFFLINE": "1", "TORCH_HOME": dir.path("torch"),
      "FEATX_WEIGHTS_DIR": dir.path("no-cache"), "FEATX_WEIGHTS_URL": "http://127.0.0.1:9/",
    ]
    return (layout, weights, env)
  }

  /// No --arch, no preprocessing flags: resnet18 and timm's Resize(235, bicubic) + CenterCrop(224) from
  /// config.json, recorded as hf-hub:ORG/NAME@COMMIT; features identical to the file with those flags.
  @Test func extractTakesArchitectureAndPreprocessingFromConfig() throws {
    let dir = TemporaryDirectory()
    let data = try flowerDataset(dir)
    let (layout, weights, env) = try Self.cache(dir)
    let hubStore = dir.path("hub.h5")
    let hub = try runFeatx(["extract", data, "-o", hubStore, "--weights", "hf-hub:" + repoID, "--quiet"], environment: env)
    #expect(hub.status == 0, "\(hub.stderr)")
    #expect(hub.stderr.isEmpty, "\(hub.stderr)")
    let m = try FeatureStore(path: hubStore).metadata
    #expect(m.arch == "resnet18")
    #expect(m.weightsFile == "hf-hub:\(repoID)@\(commit)")
    #expect(m.weightsPath == layout.folder(repoID) + "/snapshots/\(commit)/model.safetensors")
    #expect(m.weightsSHA256 == (try SHA256.hex(try readFile(weights))))
    // timm 1.0.31: create_transform(**resolve_data_config(model=create_model("hf-hub:timm/resnet18.a1_in1k")))
    // is Resize(235, BICUBIC), CenterCrop((224, 224)), ToTensor, Normalize(IMAGENET_DEFAULT_MEAN, _STD).
    #expect(
      m.preprocess
        == #"{"antialias":true,"crop":[224,224],"interpolation":"bicubic","mean":[0.485,0.456,0.406],"resize":{"mode":"shorter","size":[235]},"std":[0.229,0.224,0.225]}"#
    )

    let fileStore = dir.path("file.h5")
    let file = try runFeatx(
      [
        "extract", data, "-o", fileStore, "--arch", "resnet18", "--weights", weights, "--resize", "235", "--crop", "224",
        "--interpolation", "bicubic", "--quiet",
      ], environment: env)
    #expect(file.status == 0, "\(file.stderr)")
    #expect(try FeatureStore(path: fileStore).metadata.preprocess == m.preprocess)
    try expectSameRows(hubStore, fileStore)
    // Bicubic is not bilinear: the default preprocessing gives other features.
    let bilinear = dir.path("bilinear.h5")
    let other = try runFeatx(
      [
        "extract", data, "-o", bilinear, "--arch", "resnet18", "--weights", weights, "--resize", "235", "--crop", "224",
        "--quiet",
      ],
      environment: env)
    #expect(other.status == 0, "\(other.stderr)")
    #expect(try FeatureStore(path: bilinear).allFeatures() != FeatureStore(path: fileStore).allFeatures())

    // The snapshot folder itself is a timm folder (config.json + weights): --weights FOLDER, same store.
    let folderStore = dir.path("folder.h5")
    let folder = try runFeatx(
      ["extract", data, "-o", folderStore, "--weights", layout.folder(repoID) + "/snapshots/" + commit, "--quiet"],
      environment: env)
    #expect(folder.status == 0, "\(folder.stderr)")
    #expect(try FeatureStore(path: folderStore).metadata.weightsFile == "model.safetensors")
    try expectSameRows(hubStore, folderStore)

    // Flags still override config.json.
    let seed = dir.path("seed.h5")
    #expect(
      try runFeatx(
        ["extract", data, "-o", seed, "--weights", "hf-hub:" + repoID, "--preset", "seed", "--quiet"], environment: env
      )
      .status == 0)
    #expect(
      try FeatureStore(path: seed).metadata.preprocess
        == #"{"antialias":true,"interpolation":"bilinear","resize":{"mode":"exact","size":[224,224]}}"#)
  }

  /// Not cached and online: one notice, then the files land in the cache layout (from fake_hub.py), and the
  /// store equals the one made from the hand-laid cache.
  @Test(.enabled(if: FakeHub.available, "python3 is not on the PATH (the stand-in hub is a Python script)"))
  func extractDownloadsIntoTheCache() throws {
    let dir = TemporaryDirectory()
    let data = try flowerDataset(dir)
    let (layout, weights, env) = try Self.cache(dir)
    let offline = dir.path("offline.h5")
    #expect(
      try runFeatx(["extract", data, "-o", offline, "--weights", "hf-hub:" + repoID, "--quiet"], environment: env).status == 0)

    let served = dir.path("served/" + repoID)
    try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: TestPaths.fixture("hub/timm--resnet18.a1_in1k/config.json").path, toPath: served + "/config.json")
    try FileManager.default.copyItem(atPath: weights, toPath: served + "/model.safetensors")
    let hub = try FakeHub(root: dir.path("served"), commit: commit)
    defer { hub.stop() }
    var online = env
    online["HF_HUB_OFFLINE"] = nil
    online["HF_HUB_CACHE"] = dir.path("fresh")
    online["HF_ENDPOINT"] = hub.endpoint
    let store = dir.path("online.h5")
    let run = try runFeatx(["extract", data, "-o", store, "--weights", "hf-hub:" + repoID, "--quiet"], environment: online)
    #expect(run.status == 0, "\(run.stderr)")
    let fresh = HubCacheLayout(root: dir.path("fresh"))
    #expect(run.stderr == "downloading hf-hub:\(repoID) from \(hub.endpoint) into \(fresh.folder(repoID))\n")
    // The same layout (the config.json blob is named by its git blob id there, by a stand-in here).
    #expect(fresh.files().filter { !$0.contains("/blobs/") } == layout.files().filter { !$0.contains("/blobs/") })
    let weightsBlob = "models--timm--resnet18.a1_in1k/blobs/" + (try SHA256.hex(try readFile(weights)))
    #expect(fresh.files().count == 5 && fresh.files().contains(weightsBlob), "\(fresh.files())")
    try expectSameRows(offline, store)
    #expect(try FeatureStore(path: store).metadata.weightsFile == "hf-hub:\(repoID)@\(commit)")
  }

  /// The head records the hub model; predict finds the snapshot at the recorded path, or, once the cache
  /// has moved, through $HF_HUB_CACHE at the recorded commit.
  @Test func predictResolvesTheRecordedCommit() throws {
    let dir = TemporaryDirectory()
    let data = try flowerDataset(dir)
    let (layout, _, env) = try Self.cache(dir)
    let store = dir.path("f.h5")
    #expect(
      try runFeatx(["extract", data, "-o", store, "--weights", "hf-hub:" + repoID, "--quiet"], environment: env).status == 0)
    let head = dir.path("head.h5")
    #expect(try runFeatx(["probe", store, "-o", head, "--l2", "1e-3", "--quiet"], environment: env).status == 0)
    #expect(try Head.read(path: head).extraction.weightsFile == "hf-hub:\(repoID)@\(commit)")
    let image = data + "/" + (try FeatureStore(path: store).paths()[0])
    let inPlace = try runFeatx(["predict", head, image], environment: env)
    #expect(inPlace.status == 0, "\(inPlace.stderr)")
    #expect(inPlace.stderr.isEmpty, "\(inPlace.stderr)")

    let moved = dir.path("moved-hub")
    try FileManager.default.moveItem(atPath: layout.root, toPath: moved)
    var movedEnv = env
    movedEnv["HF_HUB_CACHE"] = moved
    let found = try runFeatx(["predict", head, image], environment: movedEnv)
    #expect(found.status == 0, "\(found.stderr)")
    #expect(found.stdout == inPlace.stdout)

    // Nowhere: one line saying which files go where (the commit's snapshot), offline.
    let gone = try runFeatx(["predict", head, image], environment: env)
    #expect(gone.status == 1)
    let folder = layout.folder(repoID)
    #expect(
      gone.stderr
        == "Error: hf-hub:\(repoID)@\(commit) is not in the Hugging Face cache \(layout.root) (\(folder)/snapshots/\(commit)/ "
        + "has neither config.json nor weights) and downloads are off (HF_HUB_OFFLINE=1): put config.json and "
        + "model.safetensors (or pytorch_model.bin) in \(folder)/snapshots/\(commit)/ (`HF_HUB_CACHE=\(layout.root) "
        + "huggingface-cli download \(repoID) --revision \(commit)` does exactly that); or pass --weights FOLDER holding "
        + "config.json and the weights.\n")
  }

  /// A contradicting --arch, an architecture featx does not build and an empty cache each get one line.
  @Test func refusalsAreOneLine() throws {
    let dir = TemporaryDirectory()
    let data = try flowerDataset(dir)
    let (layout, _, env) = try Self.cache(dir)
    let config = layout.folder(repoID) + "/snapshots/\(commit)/config.json"
    let conflict = try runFeatx(
      ["extract", data, "-o", dir.path("x.h5"), "--weights", "hf-hub:" + repoID, "--arch", "resnet50", "--quiet"],
      environment: env)
    #expect(conflict.status == 1)
    #expect(
      conflict.stderr
        == "Error: architecture resnet50 contradicts \(config), which is the config of resnet18 weights; drop --arch "
        + "(config.json names the architecture) or pass weights for that --arch.\n")
    #expect(!fileExists(dir.path("x.h5")))

    let vit = "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    try layout.put(
      "config.json", copyOf: TestPaths.fixture("timm/configs/vit_tiny_patch16_224.augreg_in21k_ft_in1k.json").path, repo: vit,
      commit: commit)
    try layout.put("model.safetensors", [0], repo: vit, commit: commit)
    try layout.setRef(repo: vit, commit: commit)
    let unknown = try runFeatx(
      ["extract", data, "-o", dir.path("x.h5"), "--weights", "hf-hub:" + vit, "--quiet"], environment: env)
    #expect(unknown.status == 1)
    #expect(
      unknown.stderr
        == "Error: \(layout.folder(vit))/snapshots/\(commit)/config.json: not a usable timm config.json: its architecture "
        + "vit_tiny_patch16_224 is not one featx builds (\(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))\n")

    let missing = try runFeatx(
      ["extract", data, "-o", dir.path("x.h5"), "--weights", "hf-hub:timm/resnet50.a1_in1k", "--quiet"], environment: env)
    #expect(missing.status == 1)
    let folder = layout.root + "/models--timm--resnet50.a1_in1k"
    #expect(
      missing.stderr
        == "Error: hf-hub:timm/resnet50.a1_in1k is not in the Hugging Face cache \(layout.root) (no \(folder)/refs/main) and "
        + "downloads are off (HF_HUB_OFFLINE=1): put config.json and model.safetensors (or pytorch_model.bin) in "
        + "\(folder)/snapshots/COMMIT/ and the COMMIT hash in \(folder)/refs/main (`HF_HUB_CACHE=\(layout.root) "
        + "huggingface-cli download timm/resnet50.a1_in1k` does exactly that); or pass --weights FOLDER holding config.json "
        + "and the weights.\n")

    let badName = try runFeatx(["extract", data, "-o", dir.path("x.h5"), "--weights", "hf-hub:resnet50"], environment: env)
    #expect(badName.status != 0)
    #expect(badName.stderr.contains("--weights: unknown Hugging Face model 'hf-hub:resnet50'"), "\(badName.stderr)")
    let badFilter = try runFeatx(["extract", data, "-o", dir.path("x.h5"), "--interpolation", "lanczos"], environment: env)
    #expect(badFilter.status != 0)
    #expect(badFilter.stderr.contains("--interpolation must be bilinear or bicubic, not 'lanczos'"), "\(badFilter.stderr)")
  }
}
