// Predict finds the weights extraction used: the store and the head record the weights file's absolute
// path; predict tries it first (sha256-checked), then the caches, then --weights.

import Backbones
import FeatureStore
import Foundation
import HDF5
import Probe
import Testing
import TestSupport

@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct WeightsPathCLITests {
  /// Empty caches and no downloads: predict may only use what the test puts in place.
  static func isolated(_ dir: TemporaryDirectory, weightsDir: String? = nil) -> [String: String] {
    [
      "TORCH_HOME": dir.path("torch"), "FEATX_WEIGHTS_DIR": weightsDir ?? dir.path("no-cache"),
      "FEATX_WEIGHTS_URL": "http://127.0.0.1:9/",
    ]
  }

  /// extract --weights /tmp/…/my-resnet18.pth → probe → predict, with the file in place, moved, replaced.
  @Test func predictUsesTheRecordedPathThenFallsBack() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 4)
    try FileManager.default.createDirectory(atPath: dir.path("x"), withIntermediateDirectories: true)
    let weights = dir.path("x/my-resnet18.pth")
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 1), to: weights)
    let env = Self.isolated(dir)
    let store = dir.path("f.h5")
    // A relative --weights path is recorded as an absolute one.
    let extract = try runFeatx(
      ["extract", root, "-o", store, "--arch", "resnet18", "--weights", "x/my-resnet18.pth", "--split", "0.5", "--quiet"],
      environment: env, cwd: dir.url)
    #expect(extract.status == 0, "\(extract.stderr)")
    let metadata = try FeatureStore(path: store).metadata
    #expect(metadata.weightsPath == weights)
    #expect(metadata.weightsFile == "my-resnet18.pth")
    #expect(try runFeatx(["info", store]).stdout.contains("at \(weights)"))
    let head = dir.path("head.h5")
    #expect(try runFeatx(["probe", store, "-o", head, "--l2", "1e-3", "--quiet"]).status == 0)
    #expect(try Head.read(path: head).extraction.weightsPath == weights)
    let image = root + "/" + (try FeatureStore(path: store).paths()[0])

    // 1. The file is where extraction found it: predict needs nothing else.
    let inPlace = try runFeatx(["predict", head, image], environment: env)
    #expect(inPlace.status == 0, "\(inPlace.stderr)")
    #expect(!inPlace.stderr.contains("warning"), "\(inPlace.stderr)")

    // 2. Moved: refused on one line naming the file, the recorded path and the option; --weights finds it.
    let moved = dir.path("elsewhere/my-resnet18.pth")
    try FileManager.default.createDirectory(atPath: dir.path("elsewhere"), withIntermediateDirectories: true)
    try FileManager.default.moveItem(atPath: weights, toPath: moved)
    let missing = try runFeatx(["predict", head, image], environment: env)
    #expect(missing.status == 1)
    #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
    #expect(missing.stderr.contains("cannot find weights my-resnet18.pth (looked in \(weights), "), "\(missing.stderr)")
    #expect(missing.stderr.contains("--weights"))
    let given = try runFeatx(["predict", head, image, "--weights", moved], environment: env)
    #expect(given.status == 0, "\(given.stderr)")
    #expect(given.stdout == inPlace.stdout)

    // 3. The recorded path now holds another file: a mismatch warning naming both files, then the fallback.
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 2), to: weights)
    let replaced = try runFeatx(["predict", head, image, "--weights", moved], environment: env)
    #expect(replaced.status == 0, "\(replaced.stderr)")
    #expect(replaced.stdout == inPlace.stdout)
    let warning = replaced.stderr.split(separator: "\n").first { $0.hasPrefix("warning: \(weights) ") } ?? ""
    #expect(warning.contains("(the weights file recorded in \(head) at extraction) has sha256 "), "\(replaced.stderr)")
    #expect(warning.contains("\(metadata.weightsSHA256); using \(moved) instead"), "\(replaced.stderr)")
    // … and without --weights, the mismatch is the error (exit 1, one line, the option to fix it).
    let wrong = try runFeatx(["predict", head, image], environment: env)
    #expect(wrong.status == 1)
    #expect(wrong.stderr.hasPrefix("Error: \(weights) has sha256 "), "\(wrong.stderr)")
    #expect(wrong.stderr.contains("pass the same weights file with --weights"))
    #expect(wrong.stderr.split(separator: "\n").count == 1)

    // 4. The caches come before --weights: the right file in $FEATX_WEIGHTS_DIR under the recorded name.
    let cache = dir.path("cache")
    try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: moved, toPath: cache + "/my-resnet18.pth")
    let cached = try runFeatx(["predict", head, image], environment: Self.isolated(dir, weightsDir: cache))
    #expect(cached.status == 0, "\(cached.stderr)")
    #expect(cached.stderr.contains("using \(cache)/my-resnet18.pth instead"), "\(cached.stderr)")
    #expect(cached.stdout == inPlace.stdout)
  }

  /// Heads written before weights_path existed still work as before: caches, then --weights.
  @Test func headsWithoutARecordedPathWorkAsBefore() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 4)
    let weights = dir.path("my-resnet18.pth")
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 1), to: weights)
    let env = Self.isolated(dir)
    let store = dir.path("f.h5")
    #expect(
      try runFeatx(
        ["extract", root, "-o", store, "--arch", "resnet18", "--weights", weights, "--split", "0.5", "--quiet"],
        environment: env
      ).status == 0)
    let newHead = dir.path("new.h5")
    #expect(try runFeatx(["probe", store, "-o", newHead, "--l2", "1e-3", "--quiet"]).status == 0)
    var old = try Head.read(path: newHead)
    old.extraction.weightsPath = nil
    let head = dir.path("old.h5")
    try old.write(to: head, report: nil)
    #expect(try H5File(path: head, mode: .readOnly).root().attributes.contains("weights_path") == false)
    let image = root + "/" + (try FeatureStore(path: store).paths()[0])

    let none = try runFeatx(["predict", head, image], environment: env)
    #expect(none.status == 1)
    #expect(
      none.stderr.contains("cannot find weights my-resnet18.pth (looked in \(dir.path("no-cache"))/my-resnet18.pth"),
      "\(none.stderr)")
    let given = try runFeatx(["predict", head, image, "--weights", weights], environment: env)
    #expect(given.status == 0, "\(given.stderr)")
    let cache = dir.path("cache")
    try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: weights, toPath: cache + "/my-resnet18.pth")
    let cached = try runFeatx(["predict", head, image], environment: Self.isolated(dir, weightsDir: cache))
    #expect(cached.status == 0, "\(cached.stderr)")
    #expect(cached.stdout == given.stdout)
    // Random weights record an empty path.
    let random = dir.path("r.h5")
    #expect(
      try runFeatx(["extract", root, "-o", random, "--arch", "resnet18", "--weights", "random:0", "--quiet"]).status == 0)
    #expect(try FeatureStore(path: random).metadata.weightsPath == "")
  }
}
