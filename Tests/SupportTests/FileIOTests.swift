import Foundation
import Support
import Testing
import TestSupport

@Suite struct AtomicWriteTests {
  @Test func replacesTheFileWithTheNewBytes() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("out.bin")
    try writeFileAtomically(path, [1, 2, 3])
    try writeFileAtomically(path, [4, 5])
    #expect(try readFile(path) == [4, 5])
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["out.bin"])
  }

  /// A writer that fails leaves the old file as it was and no temporary file behind.
  @Test func aFailedWriteLeavesTheOldFileAndNoTemporary() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("head.h5")
    try writeFileAtomically(path, [9, 9, 9])
    struct Boom: Error {}
    #expect(throws: Boom.self) {
      try replaceAtomically(path) { temporary in
        try writeFileAtomically(temporary, [1])  // half of a new file...
        throw Boom()  // ...then the writer fails
      }
    }
    #expect(try readFile(path) == [9, 9, 9])
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["head.h5"])
  }

  @Test func aMissingFolderIsNamedInTheError() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("missing/out.bin")
    #expect {
      try writeFileAtomically(path, [1])
    } throws: { error in
      (error as? FileError)?.description.contains(dir.path("missing/out.bin")) == true
    }
  }
}
