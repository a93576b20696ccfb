// Two featx processes writing the same output at once (issue #12): a second extraction into a store
// another one is writing refuses with the "another process" message and damages neither; two probes
// writing the same head leave one complete head.

import FeatureStore
import Foundation
import Probe
import Testing
import TestSupport

@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct ConcurrencyTests {
  /// A dataset of `perClass` images in each of `classes` bird classes, as symlinks.
  static func birds(in dir: TemporaryDirectory, classes: Int, perClass: Int) throws -> String {
    let source = TestPaths.datasets.appendingPathComponent("cub_birds50")
    let fm = FileManager.default
    for folder in try fm.contentsOfDirectory(atPath: source.path).sorted().prefix(classes) {
      try fm.createDirectory(atPath: dir.path("data/\(folder)"), withIntermediateDirectories: true)
      for file in try fm.contentsOfDirectory(atPath: source.appendingPathComponent(folder).path).sorted().prefix(perClass) {
        try fm.createSymbolicLink(
          atPath: dir.path("data/\(folder)/\(file)"), withDestinationPath: source.appendingPathComponent("\(folder)/\(file)").path
        )
      }
    }
    return dir.path("data")
  }

  /// Starts featx without waiting; stderr goes to a file.
  static func start(_ arguments: [String], stderr: String) throws -> Process {
    let process = Process()
    process.executableURL = TestPaths.featxBinary
    process.arguments = arguments
    FileManager.default.createFile(atPath: stderr, contents: nil)
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return process
  }

  @Test func aSecondExtractionIntoTheSameStoreRefusesAndDamagesNothing() throws {
    let dir = TemporaryDirectory()
    let data = try Self.birds(in: dir, classes: 4, perClass: 12)
    let store = dir.path("birds.h5")
    let arguments = ["extract", data, "-o", store, "--arch", "resnet18", "--weights", "random", "--pool", "avg", "--batch", "2"]
    let first = try Self.start(arguments, stderr: dir.path("first.err"))
    // Wait until the first run has committed a batch (its progress line), so that it holds the store.
    let deadline = Date().addingTimeInterval(60)
    while first.isRunning, Date() < deadline,
      !((try? String(contentsOfFile: dir.path("first.err"), encoding: .utf8)) ?? "").contains("img/s")
    {
      usleep(20_000)
    }
    try #require(first.isRunning, "the first extraction finished before the second could start")
    let second = try runFeatx(arguments)
    first.waitUntilExit()
    #expect(second.status == 1, "\(second.stderr)")
    #expect(second.stderr.contains("\(store)"), "\(second.stderr)")
    #expect(second.stderr.contains("it is open in another process"), "\(second.stderr)")
    #expect(first.terminationStatus == 0, "\((try? String(contentsOfFile: dir.path("first.err"), encoding: .utf8)) ?? "")")
    let finished = try FeatureStore(path: store)
    #expect(finished.isComplete)
    #expect(finished.rows == 48)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("featx-tmp") }.isEmpty)
  }

  @Test func twoProbesWritingOneHeadLeaveOneCompleteHead() throws {
    let dir = TemporaryDirectory()
    let data = try Self.birds(in: dir, classes: 3, perClass: 8)
    let store = dir.path("birds.h5")
    let extract = try runFeatx([
      "extract", data, "-o", store, "--arch", "resnet18", "--weights", "random", "--pool", "avg", "--quiet",
    ])
    try #require(extract.status == 0, "\(extract.stderr)")
    let head = dir.path("head.h5")
    let probes = try (0..<2).map { i in
      try Self.start(["probe", store, "-o", head, "--quiet", "--seed", "\(i)"], stderr: dir.path("probe\(i).err"))
    }
    for p in probes { p.waitUntilExit() }
    for (i, p) in probes.enumerated() {
      #expect(p.terminationStatus == 0, "\((try? String(contentsOfFile: dir.path("probe\(i).err"), encoding: .utf8)) ?? "")")
    }
    let written = try Head.read(path: head)
    #expect(written.classes.count == 3)
    #expect(written.model.dimension == 512)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("featx-tmp") }.isEmpty)
  }
}
