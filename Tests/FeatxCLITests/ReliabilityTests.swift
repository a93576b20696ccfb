import FeatureStore
import Foundation
import Testing
import TestSupport

/// The bad-input catalogue: each case gets one clear line on stderr naming the file, a non-zero exit,
/// no crash, no hang, and nothing incomplete passed off as complete.
@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct ReliabilityTests {
  static var cub: String { TestPaths.datasets.appendingPathComponent("cub_birds50").path }

  /// Runs featx through bash with a file-size limit (SIGXFSZ ignored, so writes fail with EFBIG as on a full disk).
  func runLimited(_ arguments: [String], fileSizeKB: Int) throws -> CommandResult {
    let quoted = ([TestPaths.featxBinary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
    return try runCommand("/bin/bash", ["-c", "ulimit -f \(fileSizeKB); trap '' XFSZ; exec \(quoted)"])
  }

  @Test func diskFullDuringExtractionIsAnErrorAndTheStoreStaysIncomplete() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 12)
    let store = dir.path("full.h5")
    // 24 rows of 50176 float32 values need 4.8 MB; allow 1 MB.
    let result = try runLimited(
      [
        "extract", root, "-o", store, "--arch", "densenet121", "--weights", "random:0", "--preset", "seed", "--batch", "4",
        "--quiet",
      ],
      fileSizeKB: 1024)
    #expect(result.status != 0)
    let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("WARNING") }
    #expect(lines.count == 1, "\(result.stderr)")
    #expect(result.stderr.contains(store), "\(result.stderr)")
    #expect(result.stderr.contains("the disk is full"), "\(result.stderr)")
    #expect(!result.stderr.contains("crashed"))
    if let partial = try? FeatureStore(path: store) {
      #expect(!partial.isComplete)
      #expect(partial.rowsComplete < partial.rows)
    }
  }

  @Test func headWrittenOnlyWhenComplete() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 2, perClass: 6)
    let store = dir.path("f.h5")
    #expect(try runFeatx(["extract", root, "-o", store, "--arch", "resnet18", "--weights", "random:0", "--quiet"]).status == 0)
    // A head of about 2 MB (1024 x 512 ... weights) cannot be written under a 64 KB limit: no head appears.
    let result = try runLimited(["probe", store, "-o", dir.path("head.h5"), "--l2", "1e-3", "--quiet"], fileSizeKB: 8)
    #expect(result.status != 0)
    #expect(!FileManager.default.fileExists(atPath: dir.path("head.h5")))
    #expect(result.stderr.contains("head.h5"), "\(result.stderr)")
  }

  @Test func spacesAndNonASCIIInDatasetPaths() throws {
    let dir = TemporaryDirectory()
    let root = dir.path("données d'oiseaux")
    let source = TestPaths.datasets.appendingPathComponent("cub_birds50/001.Black_footed_Albatross").path
    let names = try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(3)
    for (folder, files) in [("001.Albatros à pieds noirs", Array(names.prefix(2))), ("002.鳥 bird", Array(names.suffix(1)))] {
      try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
      for (i, name) in files.enumerated() {
        try FileManager.default.createSymbolicLink(
          atPath: "\(root)/\(folder)/photo \(i) é.jpg", withDestinationPath: source + "/" + name)
      }
    }
    let store = dir.path("sortie é.h5")
    let result = try runFeatx([
      "extract", root, "-o", store, "--arch", "resnet18", "--weights", "random:0", "--resize", "64,64", "--crop", "none",
      "--quiet",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let s = try FeatureStore(path: store)
    #expect(s.classes == ["Albatros à pieds noirs", "鳥 bird"])
    #expect(
      try s.paths() == [
        "001.Albatros à pieds noirs/photo 0 é.jpg", "001.Albatros à pieds noirs/photo 1 é.jpg", "002.鳥 bird/photo 0 é.jpg",
      ])
    let info = try runFeatx(["info", store])
    #expect(info.stdout.contains("鳥 bird"))
  }

  /// Whether this process can mount a tmpfs (root with CAP_SYS_ADMIN, outside a locked-down container):
  /// tried once, on a scratch folder, before the tests that need it are planned.
  static let canMountTmpfs: Bool = {
    guard geteuid() == 0 else { return false }
    let dir = TemporaryDirectory("featx-mount-probe")
    guard let mounted = try? runCommand("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir.url.path]),
      mounted.status == 0
    else { return false }
    _ = try? runCommand("/bin/umount", [dir.url.path])
    return true
  }()

  /// A read-only file system refuses even root, so this is the case that binds in CI.
  @Test(.enabled(if: canMountTmpfs, "needs to mount a read-only tmpfs (root with CAP_SYS_ADMIN); mount failed here"))
  func readOnlyOutputFolder() throws {
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 1, perClass: 2)
    let folder = dir.path("ro")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", folder])
    try #require(mounted.status == 0, "mount: \(mounted.stderr)")
    defer { _ = try? runCommand("/bin/umount", [folder]) }
    let result = try runFeatx(["extract", root, "-o", folder + "/f.h5", "--arch", "resnet18", "--weights", "random:0", "--quiet"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("the folder \(folder) is not writable"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/f.h5"))
  }

  /// Permission bits bind only non-root users: as root (CI) featx runs as nobody.
  @Test(.enabled(if: Unprivileged.isAvailable, Comment(rawValue: Unprivileged.unavailableReason ?? "")))
  func unwritableOutputFolderAsAnUnprivilegedUser() throws {
    let work = try Unprivileged.Workspace()
    let root = try work.copyDataset(from: Self.cub, classes: 1, perClass: 2)
    let folder = work.path("locked")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    chmod(folder, 0o555)
    let result = try Unprivileged.runFeatx(
      ["extract", root, "-o", folder + "/f.h5", "--arch", "resnet18", "--weights", "random:0", "--quiet"], in: work)
    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("the folder \(folder) is not writable"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/f.h5"))
  }

  /// An image the user may not read is skipped with "unreadable", and the rest is extracted. As root (CI)
  /// featx runs as nobody, since root reads a file of mode 0 anyway.
  @Test(.enabled(if: Unprivileged.isAvailable, Comment(rawValue: Unprivileged.unavailableReason ?? "")))
  func unreadableImageIsSkippedWithItsReason() throws {
    let work = try Unprivileged.Workspace()
    let root = try work.copyDataset(from: Self.cub, classes: 1, perClass: 2)
    let folder = try FileManager.default.contentsOfDirectory(atPath: root).sorted()[0]
    let locked = root + "/" + folder + "/locked.jpg"
    try Data(contentsOf: TestPaths.fixture("images/src/jpeg_420.jpg")).write(to: URL(fileURLWithPath: locked))
    chmod(locked, 0)
    let store = work.path("f.h5")
    let result = try Unprivileged.runFeatx(
      ["extract", root, "-o", store, "--arch", "resnet18", "--weights", "random:0", "--quiet"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("skipped 1 unreadable image(s):"), "\(result.stdout)")
    #expect(result.stdout.contains("\(folder)/locked.jpg: unreadable"), "\(result.stdout)")
    let s = try FeatureStore(path: store)
    // The two readable images are the rows; the locked one is listed under /skipped with its reason.
    #expect(s.isComplete && s.rows == 2)
    #expect(try !s.paths().contains("\(folder)/locked.jpg"))
    let skipped = try s.skipped()
    #expect(skipped.map(\.path) == ["\(folder)/locked.jpg"])
    #expect(skipped.first?.reason.hasPrefix("unreadable: ") == true, "\(skipped)")
  }

  @Test(arguments: ["zero", "text", "truncated", "store"])
  func badHeadFiles(kind: String) throws {
    let dir = TemporaryDirectory()
    let head = dir.path("\(kind).h5")
    switch kind {
    case "zero": try Data().write(to: URL(fileURLWithPath: head))
    case "text": try "not a head".write(toFile: head, atomically: true, encoding: .utf8)
    case "truncated":
      let root = try linkedDataset(dir, classes: 2, perClass: 3)
      _ = try runFeatx(["extract", root, "-o", dir.path("f.h5"), "--arch", "resnet18", "--weights", "random:0", "--quiet"])
      _ = try runFeatx(["probe", dir.path("f.h5"), "-o", dir.path("good.h5"), "--l2", "1e-3", "--quiet"])
      let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path("good.h5")))
      try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: head))
    default:
      // A feature store is valid HDF5 but not a head.
      let root = try linkedDataset(dir, classes: 2, perClass: 2)
      _ = try runFeatx(["extract", root, "-o", head, "--arch", "resnet18", "--weights", "random:0", "--quiet"])
    }
    let image = TestPaths.fixture("images/src/jpeg_420.jpg").path
    let result = try runFeatx(["predict", head, image])
    #expect(result.status != 0)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    #expect(result.stderr.contains(head))
    #expect(result.stdout.isEmpty)
  }
}
