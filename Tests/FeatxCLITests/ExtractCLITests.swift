import FeatureStore
import Foundation
import Testing
import TestSupport

/// A temporary ImageFolder dataset of symbolic links to shared images: `perClass` images of each of
/// the first `classes` CUB folders.
func linkedDataset(_ dir: TemporaryDirectory, classes: Int, perClass: Int, extra: [String: [UInt8]] = [:]) throws -> String {
  let root = dir.path("data")
  let cub = TestPaths.datasets.appendingPathComponent("cub_birds50").path
  let folders = try FileManager.default.contentsOfDirectory(atPath: cub).sorted().prefix(classes)
  for folder in folders {
    try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: cub + "/" + folder).sorted().prefix(perClass) {
      try FileManager.default.createSymbolicLink(
        atPath: "\(root)/\(folder)/\(name)", withDestinationPath: "\(cub)/\(folder)/\(name)")
    }
  }
  for (path, bytes) in extra { try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + path)) }
  return root
}

/// The parts of two stores that must be identical after resuming or merging.
func expectSameRows(_ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
  let x = try FeatureStore(path: a)
  let y = try FeatureStore(path: b)
  #expect(x.isComplete && y.isComplete, sourceLocation: sourceLocation)
  #expect(try x.paths() == y.paths(), sourceLocation: sourceLocation)
  #expect(try x.labels() == y.labels(), sourceLocation: sourceLocation)
  #expect(try x.split() == y.split(), sourceLocation: sourceLocation)
  #expect(try x.allFeatures().map(\.bitPattern) == y.allFeatures().map(\.bitPattern), sourceLocation: sourceLocation)
  #expect(x.metadata.featureShape == y.metadata.featureShape, sourceLocation: sourceLocation)
}

@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct ExtractCLITests {
  static let fast = [
    "--arch", "resnet18", "--weights", "random:1", "--resize", "64,64", "--crop", "none", "--batch", "5", "--quiet",
  ]

  @Test func badImagesAreSkippedOrFatalWithStrict() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 3, extra: ["001.Black_footed_Albatross/zero.jpg": []])
    let ok = try runFeatx(["extract", root, "-o", dir.path("f.h5")] + Self.fast)
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(ok.stdout.contains("skipped 1 unreadable image(s):"))
    #expect(ok.stdout.contains("001.Black_footed_Albatross/zero.jpg: empty file (0 bytes)"))
    #expect(ok.stderr.contains("SEEDED RANDOM WEIGHTS"))
    let strict = try runFeatx(["extract", root, "-o", dir.path("s.h5"), "--strict"] + Self.fast)
    #expect(strict.status != 0)
    #expect(strict.stderr.contains("zero.jpg"))
    #expect(
      !FileManager.default.fileExists(atPath: dir.path("s.h5")) || (try? FeatureStore(path: dir.path("s.h5")).isComplete) == false
    )
  }

  @Test func unwritableOutputFolderAndMissingDataset() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 1, perClass: 2)
    let missing = try runFeatx(["extract", dir.path("nope"), "-o", dir.path("f.h5")] + Self.fast)
    #expect(missing.status != 0)
    #expect(missing.stderr.contains(dir.path("nope")))
    let noFolder = try runFeatx(["extract", root, "-o", dir.path("no/such/f.h5")] + Self.fast)
    #expect(noFolder.status != 0)
    #expect(noFolder.stderr.contains("does not exist"))
  }

  /// SIGKILL at an arbitrary moment, then the same command: the result equals an uninterrupted run.
  @Test func killedAndResumedEqualsUninterrupted() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 6, perClass: 10)
    let args = ["--arch", "densenet121", "--weights", "random:0", "--preset", "seed", "--pool", "avg", "--batch", "4", "--quiet"]
    let started = Date()
    let whole = try runFeatx(["extract", root, "-o", dir.path("whole.h5")] + args)
    #expect(whole.status == 0, "\(whole.stderr)")
    let duration = Date().timeIntervalSince(started)
    for fraction in [0.55, 0.8] {
      let path = dir.path("killed-\(fraction).h5")
      let process = Process()
      process.executableURL = TestPaths.featxBinary
      process.arguments = ["extract", root, "-o", path] + args
      process.standardError = FileHandle.nullDevice
      process.standardOutput = FileHandle.nullDevice
      try process.run()
      usleep(useconds_t(duration * fraction * 1e6))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      if let partial = try? FeatureStore(path: path), !partial.isComplete {
        #expect(partial.rowsComplete < partial.rows)
      }
      let resumed = try runFeatx(["extract", root, "-o", path] + args)
      #expect(resumed.status == 0, "\(resumed.stderr)")
      try expectSameRows(path, dir.path("whole.h5"))
    }
  }

  /// SIGTERM once the first batch is committed (its progress line appears on stderr): featx finishes the
  /// batch in flight, exits with 128 + 15, says how to resume, and the same command then completes the store.
  @Test func sigtermStopsAfterABatchAndSaysHowToResume() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 6, perClass: 10)
    let path = dir.path("t.h5")
    let arguments = ["extract", root, "-o", path, "--arch", "resnet18", "--weights", "random:0", "--batch", "2"]
    // Without --quiet and without a terminal, featx prints a progress line after the first batch.
    let run = try runFeatx(arguments, signal: SIGTERM, whenStderrContains: " images (")
    let stderr = run.stderr
    try #require(run.signalled, "no progress line before featx exited: \(stderr)")
    #expect(run.exitStatus == 143, "\(stderr)")
    #expect(stderr.contains("stopping after the current batch (SIGTERM)"), "\(stderr)")
    let message = try #require(
      stderr.firstMatch(of: #/interrupted: (.+) holds (\d+) of (\d+) rows; run the same command again to resume/#),
      "\(stderr)")
    #expect(message.1 == path && message.3 == "60")
    let done = try #require(Int(message.2))
    #expect(done >= 2 && done < 60 && done % 2 == 0, "\(done) rows")
    do {  // closed again before featx reopens it (HDF5 locks an open file)
      let partial = try FeatureStore(path: path)
      #expect(!partial.isComplete && partial.rowsComplete == done && partial.rows == 60)
    }

    let resumed = try runFeatx(arguments + ["--quiet"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("resumed after row \(done)"), "\(resumed.stdout)")
    #expect(resumed.stdout.contains("wrote \(path): 60 rows"), "\(resumed.stdout)")
    let store = try FeatureStore(path: path)
    #expect(store.isComplete && store.rowsComplete == 60 && store.rows == 60)
    #expect(try store.paths().count == 60 && Set(try store.paths()).count == 60)
  }

  @Test func shardsMergeIntoTheSingleRunStore() throws {
    let dir = TemporaryDirectory()
    // A corrupt image inside one shard must end up in the merged /skipped like in a single run.
    let root = try linkedDataset(dir, classes: 4, perClass: 4, extra: ["004.Groove_billed_Ani/empty.jpg": []])
    let single = try runFeatx(["extract", root, "-o", dir.path("single.h5")] + Self.fast)
    #expect(single.status == 0, "\(single.stderr)")
    var shards: [String] = []
    for k in 0..<3 {
      let path = dir.path("shard\(k).h5")
      let result = try runFeatx(["extract", root, "-o", path, "--shard", "\(k)/3"] + Self.fast)
      #expect(result.status == 0, "\(result.stderr)")
      shards.append(path)
    }
    let incomplete = try runFeatx(["merge", shards[0], shards[2], "-o", dir.path("bad.h5")])
    #expect(incomplete.status != 0)
    #expect(incomplete.stderr.contains("1/3"))
    let merged = try runFeatx(["merge", shards[2], shards[0], shards[1], "-o", dir.path("merged.h5")])
    #expect(merged.status == 0, "\(merged.stderr)")
    try expectSameRows(dir.path("merged.h5"), dir.path("single.h5"))
    #expect(
      try FeatureStore(path: dir.path("merged.h5")).skipped().map(\.path)
        == FeatureStore(path: dir.path("single.h5")).skipped().map(\.path))
    #expect(try FeatureStore(path: dir.path("merged.h5")).metadata.shard == "")
  }

  /// `--dry-run` tells what the shards will hold, in the rows a real run writes, and writes nothing.
  @Test func dryRunPlansWhatTheRunDoes() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 4, perClass: 4)
    let output = dir.path("plan.h5")
    let plan = try runFeatx(["extract", root, "-o", output, "--shard", "1/3", "--dry-run"] + Self.fast)
    #expect(plan.status == 0, "\(plan.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output), "a dry run wrote \(output)")
    let text = plan.stdout
    #expect(text.contains("files    16 images in 4 classes"), "\(text)")
    #expect(text.contains("  0/3: 0..<5 (5 images)\n  1/3: 5..<10 (5 images)  ← this run\n  2/3: 10..<16 (6 images)"), "\(text)")
    let single = try runFeatx(["extract", root, "-o", dir.path("single.h5")] + Self.fast)
    #expect(single.status == 0, "\(single.stderr)")
    let store = try FeatureStore(path: dir.path("single.h5"))
    let train = try store.split().filter { $0 == 0 }.count
    #expect(text.contains("split    random: \(train) train, \(16 - train) test"), "\(text)")
    // resnet18's avgpool: 512 float32 per image, 5 images in shard 1 = 10240 bytes.
    #expect(store.dimension == 512)
    #expect(text.contains("store    512 float32 per image (avgpool [512], pooling flatten) × 5 images = 10.2 kB"), "\(text)")
    #expect(text.contains("images/s for resnet18 on this CPU"), "\(text)")
  }

  /// Shards whose class folders differ (`001.Albatross` here, `101.Albatross` there: the same class names
  /// under --class-order display) are two datasets: merge refuses them naming what differs (the class
  /// folders were compared nowhere before the fingerprint had one home).
  @Test func shardsOfDatasetsWithOtherClassFoldersAreRefused() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 2)
    let other = dir.path("other")
    try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
    for folder in try FileManager.default.contentsOfDirectory(atPath: root).sorted() {
      try FileManager.default.copyItem(atPath: root + "/" + folder, toPath: other + "/1" + folder.dropFirst())
    }
    var shards: [String] = []
    for (k, tree) in [root, other].enumerated() {
      let path = dir.path("shard\(k).h5")
      let result = try runFeatx(["extract", tree, "-o", path, "--shard", "\(k)/2", "--class-order", "display"] + Self.fast)
      #expect(result.status == 0, "\(result.stderr)")
      shards.append(path)
    }
    let merged = try runFeatx(["merge"] + shards + ["-o", dir.path("merged.h5")])
    #expect(merged.status == 1)
    #expect(
      merged.stderr.contains("made with another configuration than") && merged.stderr.contains("the class folders differ"),
      "\(merged.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("merged.h5")))
  }
}
