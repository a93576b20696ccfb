// README.md's "From Swift" example, compiled and run: FromSwift.swift holds exactly the README's code block
// (its imports, then `fromSwift`'s body), and `readmeShowsThisCode` checks that the README still shows it,
// text for text, so the two cannot drift.

import FeatureStore
import Foundation
import Images
import Testing
import TestSupport

@Suite struct ReadmeExampleTests {
  /// The README's example on 24 photos of flower_photos_small (3 classes of 8), with seeded random weights.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
  func theExampleRuns() throws {
    let dir = TemporaryDirectory()
    let images = dir.path("flowers")
    let source = TestPaths.datasets.appendingPathComponent("flower_photos_small").path
    for folder in ["daisy", "roses", "tulips"] {
      try FileManager.default.createDirectory(atPath: images + "/" + folder, withIntermediateDirectories: true)
      for file in try FileManager.default.contentsOfDirectory(atPath: source + "/" + folder).sorted().prefix(8) {
        try FileManager.default.createSymbolicLink(
          atPath: "\(images)/\(folder)/\(file)", withDestinationPath: "\(source)/\(folder)/\(file)")
      }
    }
    try fromSwift(images: images, store: dir.path("flowers.h5"))
    let store = try FeatureStore(path: dir.path("flowers.h5"))
    #expect(store.rows == 24)
    #expect(store.metadata.featureShape == [512])
    #expect(store.metadata.preprocess == Preprocessing.imagenet.json, "resnet18's V1 weights: Resize(256) + CenterCrop(224)")
  }

  /// README.md's ```swift block under "### From Swift" is FromSwift.swift's import lines, a blank line and
  /// `fromSwift`'s body.
  @Test func readmeShowsThisCode() throws {
    let readme = try String(contentsOf: TestPaths.repository.appendingPathComponent("README.md"), encoding: .utf8)
    let section = try #require(readme.range(of: "### From Swift\n"), "README.md has no \"### From Swift\" section")
    let fence = try #require(readme[section.upperBound...].range(of: "```swift\n"), "no ```swift block under it")
    let end = try #require(readme[fence.upperBound...].range(of: "\n```\n"))
    let block = readme[fence.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(
      String.init)

    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FromSwift.swift")
    let source = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
      .map(String.init)
    let start = try #require(source.firstIndex { $0.hasPrefix("func fromSwift(") })
    let close = try #require(source[start...].firstIndex { $0 == "}" })
    let body = source[(start + 1)..<close].map { $0.hasPrefix("  ") ? String($0.dropFirst(2)) : $0 }

    let imports = Array(block.prefix { $0.hasPrefix("import ") })
    #expect(imports == source.filter { $0.hasPrefix("import ") }, "README.md's imports differ from FromSwift.swift's")
    #expect(block.dropFirst(imports.count).first == "", "a blank line after the imports")
    let code = Array(block.dropFirst(imports.count + 1))
    let same = code == Array(body)
    #expect(same, "README.md's From Swift block differs from fromSwift's body, at \(Self.diff(code, Array(body)))")
  }

  /// The first differing line of the README's code and the function's body.
  static func diff(_ readme: [String], _ body: [String]) -> String {
    guard
      let i = (0..<max(readme.count, body.count)).first(where: {
        $0 >= readme.count || $0 >= body.count || readme[$0] != body[$0]
      })
    else { return "" }
    return "line \(i + 1):\n  README: \(i < readme.count ? readme[i] : "(end)")\n  Swift:  \(i < body.count ? body[i] : "(end)")"
  }
}
