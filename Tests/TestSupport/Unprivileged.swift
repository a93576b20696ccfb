// Running a command as an unprivileged user, for tests of permission bits: root ignores them, and CI runs
// the suite as root. As root, commands run as `nobody` (uid/gid 65534) through util-linux's `setpriv` (or
// `runuser`); as any other user they run as that user, directly.

import Foundation

public enum Unprivileged {
  /// The uid and gid commands run as when the tests run as root.
  public static let nobody: UInt32 = 65534

  /// The command prefix that drops root: `[]` when the tests already run unprivileged, nil when they run as
  /// root and neither `setpriv` nor `runuser` exists.
  public static let prefix: [String]? = {
    guard geteuid() == 0 else { return [] }
    let fm = FileManager.default
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] where fm.isExecutableFile(atPath: dir + "/setpriv") {
      return [dir + "/setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "--"]
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] where fm.isExecutableFile(atPath: dir + "/runuser") {
      return [dir + "/runuser", "-u", "nobody", "--"]
    }
    return nil
  }()

  /// Why commands cannot run unprivileged here, or nil if they can. For `.enabled(if:)` traits.
  public static var unavailableReason: String? {
    prefix == nil
      ? "the tests run as root, which ignores permission bits, and neither setpriv nor runuser (util-linux) is installed to run featx as nobody"
      : nil
  }

  public static var isAvailable: Bool { prefix != nil }

  /// True if the unprivileged user can reach `path`: every folder above it is searchable by others (or the
  /// tests already run as that user, who owns them).
  public static func canTraverse(to path: String) -> Bool {
    guard geteuid() == 0 else { return true }
    var url = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
    while url.path != "/" {
      url.deleteLastPathComponent()
      var info = stat()
      guard stat(url.path, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
    }
    return true
  }

  /// Runs `executable` unprivileged with `HOME`, `XDG_CACHE_HOME` and `TMPDIR` inside `workspace`.
  public static func run(
    _ executable: String, _ arguments: [String], in workspace: Workspace, environment: [String: String] = [:]
  ) throws -> CommandResult {
    guard let prefix else { throw WorkspaceError(unavailableReason ?? "") }
    var env = ["HOME": workspace.path, "XDG_CACHE_HOME": workspace.path + "/.cache", "TMPDIR": workspace.path]
    for (k, v) in environment { env[k] = v }
    let command = prefix + [executable] + arguments
    return try runCommand(command[0], Array(command.dropFirst()), environment: env, cwd: workspace.url)
  }

  /// Runs featx unprivileged (the copy in `workspace` if the built binary is out of reach).
  public static func runFeatx(_ arguments: [String], in workspace: Workspace) throws -> CommandResult {
    try run(workspace.featx, arguments, in: workspace)
  }

  /// A temporary folder the unprivileged user can reach and write to (mode 0777 below searchable folders),
  /// removed on deinit, with a `featx` it can execute.
  public final class Workspace: @unchecked Sendable {
    // Sendable: every stored property is immutable.
    public let url: URL
    /// A featx executable the unprivileged user can run: the built one if reachable, else a 0755 copy here.
    public let featx: String

    public init() throws {
      let candidates = [FileManager.default.temporaryDirectory.path, "/tmp", "/var/tmp"]
      guard let base = candidates.first(where: { Unprivileged.canTraverse(to: $0 + "/x") && access($0, W_OK) == 0 }) else {
        throw WorkspaceError("none of \(candidates) is reachable by uid \(Unprivileged.nobody)")
      }
      url = URL(fileURLWithPath: base).appendingPathComponent("featx-unprivileged-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
      chmod(url.path, 0o777)
      let built = TestPaths.featxBinary.path
      var info = stat()
      if Unprivileged.canTraverse(to: built), stat(built, &info) == 0, info.st_mode & S_IXOTH != 0 {
        featx = built
      } else {
        let bin = url.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: false)
        chmod(bin.path, 0o755)
        featx = bin.appendingPathComponent("featx").path
        try FileManager.default.copyItem(atPath: built, toPath: featx)
        chmod(featx, 0o755)
      }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public var path: String { url.path }

    /// A path inside the workspace.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Copies (not links: the shared datasets may sit below folders the unprivileged user cannot enter)
    /// the first `perClass` images of each of the first `classes` folders of `source` into `name/`, as
    /// folders 0755 and files 0644. Returns the dataset's root.
    public func copyDataset(from source: String, classes: Int, perClass: Int, name: String = "data") throws -> String {
      let fm = FileManager.default
      let root = path(name)
      try fm.createDirectory(atPath: root, withIntermediateDirectories: false)
      chmod(root, 0o755)
      for folder in try fm.contentsOfDirectory(atPath: source).sorted().prefix(classes) {
        let target = root + "/" + folder
        try fm.createDirectory(atPath: target, withIntermediateDirectories: false)
        chmod(target, 0o755)
        for file in try fm.contentsOfDirectory(atPath: source + "/" + folder).sorted().prefix(perClass) {
          try fm.copyItem(atPath: "\(source)/\(folder)/\(file)", toPath: "\(target)/\(file)")
          chmod("\(target)/\(file)", 0o644)
        }
      }
      return root
    }
  }

  public struct WorkspaceError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
  }
}
