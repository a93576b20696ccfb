import Foundation
import Testing
import TestSupport

/// TestSupport's FixtureManifest, which parameterised tests take their cases from: a manifest that
/// cannot be read, cannot be decoded or lists no case is an error naming the file, never zero cases.
@Suite struct FixtureManifestTests {
  struct Manifest: Decodable, Sendable {
    var models: [String]
  }

  static func manifest(_ text: String?, in dir: TemporaryDirectory) throws -> FixtureManifest<Manifest> {
    let path = dir.path("manifest.json")
    if let text { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    return FixtureManifest(json: URL(fileURLWithPath: path), as: Manifest.self)
  }

  @Test(arguments: [
    (nil, "cannot be read or decoded"), ("{\"models\": 3}", "cannot be read or decoded"),
    ("{\"modles\": [\"a\"]}", "cannot be read or decoded"), ("{\"models\": []}", "lists no test case"),
  ])
  func unusableManifestsAreErrors(text: String?, problem: String) throws {
    let dir = TemporaryDirectory()
    let manifest = try Self.manifest(text, in: dir)
    #expect(manifest.value.map { $0.models.isEmpty } ?? true, "the arguments get no case")
    #expect {
      try manifest.require(listing: \.models)
    } throws: { error in
      "\(error)".hasPrefix(dir.path("manifest.json") + " " + problem) && "\(error)".hasSuffix("would run no case")
    }
  }

  @Test func aManifestListingCasesIsReturned() throws {
    let dir = TemporaryDirectory()
    let manifest = try Self.manifest("{\"models\": [\"a\", \"b\"]}", in: dir)
    #expect(try manifest.require(listing: \.models).models == ["a", "b"])
    #expect(manifest.value?.models == ["a", "b"])
  }
}
