import Foundation
import Testing
import TestSupport

/// The full `--help` text of featx and of every subcommand it shows, compared exactly with golden files
/// (Tests/Fixtures/cli-help/<command>.txt), as swift-argument-parser's own tests assert help: a change to
/// an option or its help is then a reviewed diff. COLUMNS=100 fixes the wrapping (swift-argument-parser
/// reads it before the terminal's width).
///
/// After changing the help on purpose, rewrite the files from the built featx and review the diff:
///
///     FEATX_UPDATE_HELP=1 swift test --filter HelpTextTests
///     git diff Tests/Fixtures/cli-help
@Suite struct HelpTextTests {
  static let commands = [
    "featx", "extract", "probe", "evaluate", "knn", "neighbors", "predict", "merge", "info", "layers", "bench",
  ]
  static let folder = TestPaths.fixture("cli-help")
  static let updating = ProcessInfo.processInfo.environment["FEATX_UPDATE_HELP"] == "1"
  static let regenerate =
    "if the change is meant, run FEATX_UPDATE_HELP=1 swift test --filter HelpTextTests and review git diff Tests/Fixtures/cli-help"

  static func help(_ command: String) throws -> CommandResult {
    try runFeatx((command == "featx" ? [] : [command]) + ["--help"], environment: ["COLUMNS": "100"])
  }

  @Test(arguments: commands)
  func helpIsTheGoldenFile(command: String) throws {
    let result = try Self.help(command)
    #expect(result.status == 0 && result.stderr.isEmpty, "featx \(command) --help: \(result.stderr)")
    let golden = Self.folder.appendingPathComponent("\(command).txt")
    if Self.updating {
      try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
      try result.stdout.write(to: golden, atomically: true, encoding: .utf8)
      print("FEATX_UPDATE_HELP=1: wrote \(golden.path)")
    }
    let expected = try String(contentsOf: golden, encoding: .utf8)
    let same = result.stdout == expected
    let difference = Self.firstDifference(result.stdout, expected)
    #expect(same, "featx \(command) --help differs from \(golden.path) at \(difference); \(Self.regenerate)")
  }

  /// The subcommands `featx --help` lists are exactly those with a golden file, and the folder holds no other.
  @Test func everySubcommandHasAGoldenFile() throws {
    let help = try Self.help("featx").stdout
    let section = try #require(help.components(separatedBy: "SUBCOMMANDS:\n").last?.components(separatedBy: "\n\n").first)
    let listed = section.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
      .compactMap { $0.split(separator: " ").first.map(String.init) }
    #expect(["featx"] + listed == Self.commands, "featx --help lists \(listed)")
    let files = Set(try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".txt") })
    let expected = Set(Self.commands.map { "\($0).txt" })
    // While FEATX_UPDATE_HELP rewrites the files (in parallel tests), some may not be written yet: no
    // other file may be there; afterwards every one must be.
    if Self.updating {
      #expect(files.isSubset(of: expected), "Tests/Fixtures/cli-help holds \(files.sorted())")
    } else {
      #expect(files == expected, "Tests/Fixtures/cli-help holds \(files.sorted())")
    }
  }

  /// "line N: got … / golden …" for the first line that differs.
  static func firstDifference(_ got: String, _ golden: String) -> String {
    let a = got.components(separatedBy: "\n")
    let b = golden.components(separatedBy: "\n")
    guard let i = (0..<max(a.count, b.count)).first(where: { $0 >= a.count || $0 >= b.count || a[$0] != b[$0] }) else {
      return "(no line differs)"
    }
    return "line \(i + 1): got \"\(i < a.count ? a[i] : "(end)")\", golden \"\(i < b.count ? b[i] : "(end)")\""
  }
}
