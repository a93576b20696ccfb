// Issue #12's table, row by row: stores from other writers with values the format does not allow, numbers
// on the command line that cannot work, and HDF5 files that are not what they claim. Each ends in one
// line naming the file or option, an exit code below 128 (no crash), and no output file.

import FeatureStore
import Foundation
import Glibc
import Support
import Testing
import TestSupport

@Suite struct BadInputTests {
  /// A complete store written through the library's writer, which writes the labels and split it is given
  /// (as h5py would: the writer does not check them, the reader does).
  static func store(
    _ path: String, labels: [Int64], split: [UInt8]? = nil, classes: [String] = ["a", "b", "c"], values: [Float]? = nil,
    dimension: Int = 2
  ) throws -> String {
    let n = labels.count
    let metadata = StoreMetadata(
      featxVersion: "t", arch: "resnet18", weightsFile: "random:0", weightsSHA256: "random:0", layer: "avgpool",
      pooling: "flatten", preprocess: "{}", splitMode: .random, splitSeed: 0, splitRatio: 0.8, created: "", source: "",
      featureShape: [dimension], datasetRows: n)
    let rows = StoreRows(
      classes: classes, classFolders: classes, paths: (0..<n).map { "img\($0).jpg" }, labels: labels,
      split: split ?? (0..<n).map { UInt8($0 % 3 == 2 ? 1 : 0) })
    let writer = try FeatureStoreWriter.create(path: path, metadata: metadata, rows: rows, dtype: .float32)
    let values = values ?? (0..<(dimension * n)).map { Float($0 % 5) }
    try values.withUnsafeBufferPointer { try writer.commit(count: n, values: $0, skipped: [Bool](repeating: false, count: n)) }
    try writer.finish(skipReasons: [:])
    return path
  }

  /// A NaN or an infinity anywhere in the features is refused naming its row: in the first of eight values,
  /// in the middle of a row, and in the last value of the store (past the last whole block of eight).
  @Test(arguments: [(5 * 20 + 13, Float.nan, 5), (20, Float.infinity, 1), (9 * 20 - 1, -Float.infinity, 8)])
  func nonFiniteFeaturesAreRefusedNamingTheRow(at index: Int, value: Float, row: Int) throws {
    let dir = TemporaryDirectory()
    var values = (0..<(9 * 20)).map { Float($0 % 7) - 3 }
    values[index] = value
    let store = try BadInputTests.store(
      dir.path("s.h5"), labels: [0, 1, 2, 0, 1, 2, 0, 1, 2], values: values, dimension: 20)
    let head = dir.path("head.h5")
    BadInputTests.expectRefusal(
      try runFeatx(["probe", store, "-o", head]),
      ["\(store): row \(row) (img\(row).jpg) holds NaN or infinite values"], noFile: head)
  }

  /// One line on stderr, a clean non-zero exit, the expected words, and no head written.
  static func expectRefusal(_ result: CommandResult, _ words: [String], noFile: String? = nil) {
    #expect(result.status > 0 && result.status < 128, "exit \(result.status): \(result.stderr)")
    let lines = result.stderr.split(separator: "\n").filter {
      !$0.hasPrefix("WARNING") && !$0.hasPrefix("Usage") && !$0.hasPrefix("  See")
    }
    #expect(lines.count == 1, "\(result.stderr)")
    for word in words { #expect(result.stderr.contains(word), "'\(word)' not in: \(result.stderr)") }
    #expect(!result.stderr.contains("Backtrac") && !result.stderr.contains("Fatal error"), "\(result.stderr)")
    if let noFile { #expect(!FileManager.default.fileExists(atPath: noFile), "\(noFile) was written") }
  }

  @Test(
    arguments: [
      ([0, 1, 2, 3, 0, 1], "row 3 holds 3, which is not a class index (the store has 3 classes: 0…2)"),
      ([0, 1, 100_000_000, 1, 0, 2], "row 2 holds 100000000"),
      ([0, 1, -5, 1, 0, 2], "row 2 holds -5"),
      ([0, 1, -1, 1, 0, 2], "row 2 holds -1 (unlabelled) in a labelled store"),
      ([-1, -1, 2, -1, -1, -1], "row 2 holds 2 while row 0 holds -1"),
    ] as [([Int64], String)])
  func labelsOutsideTheClassesAreRefusedByInfoAndProbe(labels: [Int64], message: String) throws {
    let dir = TemporaryDirectory()
    let path = try Self.store(dir.path("bad.h5"), labels: labels)
    Self.expectRefusal(try runFeatx(["info", path]), [path, "/labels", message])
    Self.expectRefusal(try runFeatx(["probe", path, "-o", dir.path("head.h5")]), [path, message], noFile: dir.path("head.h5"))
  }

  @Test func splitValuesOtherThanZeroAndOneAreRefused() throws {
    let dir = TemporaryDirectory()
    let path = try Self.store(dir.path("split.h5"), labels: [0, 1, 2, 0, 1, 2], split: [0, 0, 2, 1, 0, 1])
    Self.expectRefusal(try runFeatx(["info", path]), [path, "/split row 2 holds 2"])
    Self.expectRefusal(try runFeatx(["probe", path, "-o", dir.path("h.h5")]), ["/split row 2 holds 2"], noFile: dir.path("h.h5"))
  }

  @Test func anUnlabelledStoreIsShownButNotTrainedOn() throws {
    let dir = TemporaryDirectory()
    let path = try Self.store(dir.path("u.h5"), labels: [-1, -1, -1, -1], classes: [])
    let info = try runFeatx(["info", path])
    #expect(info.status == 0, "\(info.stderr)")
    #expect(info.stdout.contains("4"), "\(info.stdout)")
    Self.expectRefusal(try runFeatx(["probe", path, "-o", dir.path("h.h5")]), [path, "has no labels"], noFile: dir.path("h.h5"))
  }

  @Test(
    arguments: [
      (["probe", "S", "-o", "H", "--max-iterations=-1"], "--max-iterations must be at least 1"),
      (["probe", "S", "-o", "H", "--sweep-iterations=-1"], "--sweep-iterations must be at least 1"),
      (["probe", "S", "-o", "H", "--recipe", "seed", "--epochs", "0"], "--epochs must be at least 1"),
      (["probe", "S", "-o", "H", "--recipe", "seed", "--batch", "0"], "--batch must be at least 1"),
      (["probe", "S", "-o", "H", "--recipe", "seed", "--lr", "0"], "--lr must be a positive number"),
      (["probe", "S", "-o", "H", "--threads=-1"], "--threads must be 0"),
      (["probe", "S", "-o", "H", "--l2", "1,x"], "--l2 takes non-negative numbers"),
      (["probe", "S", "-o", "H", "--max-memory", "lots"], "--max-memory takes a size like 2G"),
      (["predict", "H", "img.jpg", "--batch", "0"], "--batch must be at least 1"),
      (["predict", "H", "img.jpg", "--top-k=-2"], "--top-k must be 0"),
      (["bench", "--batch=-1"], "--batch must be at least 1"),
      (["bench", "--size", "8"], "--size must be at least 32"),
      (["extract", "D", "-o", "S", "--batch", "0"], "--batch must be at least 1"),
      (["extract", "D", "-o", "S", "--resize", "100,100", "--crop", "224"], "--crop: 224x224 is larger than the 100x100 resize"),
      (["extract", "D", "-o", "S", "--resize", "200", "--crop", "224"], "larger than the resized shorter side 200"),
      (["extract", "D", "-o", "S", "--resize", "0"], "is not a size like 224"),
      (["extract", "D", "-o", "S", "--mean", "0.5,0.5"], "is not three numbers"),
      (["extract", "D", "-o", "S", "--std", "0,1,1"], "std must be finite and non-zero"),
      (["extract", "D", "-o", "S", "--split", "1.5"], "--split must be a ratio"),
      (["extract", "D", "-o", "S", "--shard", "4/4"], "--shard must be k/N"),
    ] as [([String], String)])
  func numbersThatCannotWorkAreRefusedBeforeAnyWork(arguments: [String], message: String) throws {
    let dir = TemporaryDirectory()
    // Placeholders: nothing may be read or written, so they need not exist.
    let mapped = arguments.map { ["S": dir.path("s.h5"), "H": dir.path("h.h5"), "D": dir.path("data")][$0] ?? $0 }
    let result = try runFeatx(mapped)
    #expect(result.status == 64, "exit \(result.status): \(result.stderr)")  // EX_USAGE, from validate()
    #expect(result.stderr.contains(message), "\(result.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
  }

  @Test func aRunWhereEveryImageFailsIsAnErrorAndLeavesNoStore() throws {
    let dir = TemporaryDirectory()
    for (folder, name) in [("a", "1.jpg"), ("a", "2.png"), ("b", "3.jpg")] {
      try FileManager.default.createDirectory(atPath: dir.path("data/\(folder)"), withIntermediateDirectories: true)
      try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir.path("data/\(folder)/\(name)")))
    }
    let result = try runFeatx([
      "extract", dir.path("data"), "-o", dir.path("s.h5"), "--arch", "resnet18", "--weights", "random", "--quiet",
    ])
    Self.expectRefusal(
      result, ["none of the 3 images could be read", "a/1.jpg", "not a JPEG or PNG file"], noFile: dir.path("s.h5"))
  }
}

/// The libraries say what is wrong; the CLI adds the option that fixes it.
@Suite struct OptionHintTests {
  @Test func anExistingStoreOfAnotherConfigurationPointsAtOverwrite() throws {
    let dir = TemporaryDirectory()
    let store = try BadInputTests.store(dir.path("s.h5"), labels: [0, 1, 2])
    try FileManager.default.createDirectory(atPath: dir.path("data/a"), withIntermediateDirectories: true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path("data/a/1.jpg")))
    let result = try runFeatx(["extract", dir.path("data"), "-o", store, "--arch", "resnet18", "--weights", "random"])
    BadInputTests.expectRefusal(
      result,
      ["\(store): exists and cannot be resumed: it was made with another configuration", "pass --overwrite to replace it"])
  }
}

/// Open failures told apart: only a file whose lock another process holds is reported as "another process".
@Suite struct HDF5OpenFailureTests {
  @Test func aTruncatedStoreIsCalledTruncated() throws {
    let dir = TemporaryDirectory()
    let good = try BadInputTests.store(dir.path("good.h5"), labels: [0, 1, 2, 0, 1, 2])
    let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
    let cut = dir.path("cut.h5")
    try bytes.prefix(2000).write(to: URL(fileURLWithPath: cut))
    for command in [["info", cut], ["probe", cut, "-o", dir.path("h.h5")]] {
      let result = try runFeatx(command)
      BadInputTests.expectRefusal(result, [cut, "truncated", "it has 2000 bytes but its header says \(bytes.count)"])
      #expect(!result.stderr.contains("another process"), "\(result.stderr)")
    }
  }

  @Test func aStoreLockedByAnotherProcessSaysSo() throws {
    let dir = TemporaryDirectory()
    let path = try BadInputTests.store(dir.path("busy.h5"), labels: [0, 1, 2, 0, 1, 2])
    // This test process holds the lock HDF5 takes (flock); featx runs in a child process.
    let fd = open(path, O_RDONLY)
    try #require(fd >= 0)
    defer { close(fd) }
    try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
    let result = try runFeatx(["info", path], environment: ["FEATX_HDF5_GUARD": "0"])
    BadInputTests.expectRefusal(result, [path, "it is open in another process"])
    flock(fd, LOCK_UN)
    let free = try runFeatx(["info", path], environment: ["FEATX_HDF5_GUARD": "0"])
    #expect(free.status == 0, "\(free.stderr)")
  }

  @Test(
    arguments: [
      ("text.h5", Array("hello, not a store\n".utf8), "it is a text file"),
      ("image.h5", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], "it is a PNG image"),
      ("checkpoint.h5", [0x50, 0x4B, 0x03, 0x04, 20, 0, 0, 0], "it is a zip archive (a PyTorch .pth checkpoint?)"),
      ("binary.h5", [0, 1, 2, 3, 250, 251, 252, 253], "no HDF5 signature"),
    ] as [(String, [UInt8], String)])
  func aFileOfAnotherKindIsNamed(name: String, bytes: [UInt8], kind: String) throws {
    let dir = TemporaryDirectory()
    let path = dir.path(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    for command in [["info", path], ["probe", path, "-o", dir.path("h.h5")], ["predict", path, "x.jpg"]] {
      let result = try runFeatx(command)
      BadInputTests.expectRefusal(result, [path, "not an HDF5 file", kind])
      #expect(!result.stderr.contains("another process"))
    }
  }

  @Test func anHDF5FileThatIsNotAStoreSaysWhatItIs() throws {
    let dir = TemporaryDirectory()
    let head = dir.path("head-like.h5")
    // A head (another featx format) passed where a store is expected.
    let store = try BadInputTests.store(dir.path("s.h5"), labels: [0, 1, 2, 0, 1, 2])
    let probe = try runFeatx(["probe", store, "-o", head, "--quiet"])
    #expect(probe.status == 0, "\(probe.stderr)")
    BadInputTests.expectRefusal(try runFeatx(["info", head]), [head, "not a featx feature store (format tag 'featx-head'"])
  }
}

/// The CPU count follows the affinity mask, as `taskset` and batch schedulers set it.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "taskset (util-linux) is not installed"))
struct CPULimitTests {
  @Test func tasksetToOneCPUMeansOneThread() throws {
    let pinned = try runCommand(
      "/usr/bin/taskset",
      [
        "-c", "0", TestPaths.featxBinary.path, "bench", "--arch", "resnet18", "--size", "64", "--batch", "1", "--seconds", "0.05",
        "--json",
      ])
    #expect(pinned.status == 0, "\(pinned.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(pinned.stdout.utf8)) as? [String: Any]
    #expect(report?["threads"] as? Int == 1, "\(pinned.stdout)")
  }
}

/// The parent's own read of an HDF5 file is bounded too: libhdf5 once read a fuzzer input fine in the
/// guard's child and then looped forever in the parent.
@Suite struct HDF5DeadlineTests {
  @Test(arguments: [["info"], ["probe", "-o", "HEAD"], ["predict", "IMAGE"]])
  func aReadThatNeverReturnsEndsInARefusal(command: [String]) throws {
    let dir = TemporaryDirectory()
    let file = TestPaths.fixture("fuzz/libhdf5/infinite-loop.h5").path
    var arguments = [command[0], file] + command.dropFirst()
    arguments = arguments.map { ["HEAD": dir.path("head.h5"), "IMAGE": dir.path("x.jpg")][$0] ?? $0 }
    // `deadline`: no child check, so the loop happens in featx itself.
    let result = try runFeatx(arguments, environment: ["FEATX_HDF5_GUARD": "deadline", "FEATX_HDF5_GUARD_TIMEOUT": "2"])
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("\(file): libhdf5 did not finish reading it in 2 s"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.path("head.h5")))
  }
}

/// `featx info`'s class table lines up in any script (issue #15): CJK characters take two columns,
/// combining accents none.
@Suite struct DisplayWidthCLITests {
  @Test func infoAlignsClassNamesByDisplayWidth() throws {
    let dir = TemporaryDirectory()
    let classes = ["玫瑰", "向日葵", "Rose\u{301}", "daisy"]
    let store = try BadInputTests.store(dir.path("s.h5"), labels: [0, 1, 2, 3, 0, 1], classes: classes)
    let info = try runFeatx(["info", store])
    #expect(info.status == 0, "\(info.stderr)")
    let rows = info.stdout.split(separator: "\n").filter { line in classes.contains { line.contains($0) } }
    #expect(rows.count == 4, "\(info.stdout)")
    // The rows column ends at the same terminal column on every line.
    let ends = Set(rows.map { String($0).displayWidth })
    #expect(ends.count == 1, "\(info.stdout)")
  }
}
