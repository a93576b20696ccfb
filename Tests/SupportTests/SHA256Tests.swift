import Foundation
import Support
import Testing
import TestSupport

@Suite struct SHA256Tests {
  @Test(arguments: [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
  ])
  func fipsVectors(input: String, digest: String) {
    #expect(SHA256.hex(Array(input.utf8)) == digest)
  }

  @Test func millionAsInUnevenPieces() {
    var h = SHA256()
    var fed = 0
    var piece = 1
    while fed < 1_000_000 {
      let n = min(piece, 1_000_000 - fed)
      h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
      fed += n
      piece = piece * 3 % 997 + 1
    }
    #expect(h.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func agreesWithSha256sum() throws {
    let dir = TemporaryDirectory()
    let bytes = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
    let path = dir.path("blob")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let result = try runCommand("/usr/bin/sha256sum", [path])
    #expect(result.stdout.hasPrefix(SHA256.hex(bytes)))
  }
}

@Suite struct HashCacheTests {
  /// A cached digest is reused for an unchanged file and dropped as soon as the file is rewritten.
  @Test func cachedDigestFollowsTheFile() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("weights.bin")
    var bytes = [UInt8](repeating: 7, count: 3 << 20)
    try writeFileAtomically(path, bytes)
    let first = bytes.withUnsafeBytes { HashCache.sha256(path: path, bytes: $0, cacheDirectory: dir.path("cache")) }
    #expect(first == SHA256.hex(bytes))
    let cache = try String(contentsOfFile: dir.path("cache/sha256-cache"), encoding: .utf8)
    #expect(cache.contains(first))
    // A lie in the cache for this file's key is believed only while the file is unchanged...
    let forged = cache.replacingOccurrences(of: first, with: String(repeating: "0", count: 64))
    try forged.write(toFile: dir.path("cache/sha256-cache"), atomically: true, encoding: .utf8)
    #expect(
      bytes.withUnsafeBytes { HashCache.sha256(path: path, bytes: $0, cacheDirectory: dir.path("cache")) }
        == String(repeating: "0", count: 64))
    // ...and a rewrite (new inode, new change time) makes featx hash again.
    bytes[5] = 8
    try writeFileAtomically(path, bytes)
    #expect(
      bytes.withUnsafeBytes { HashCache.sha256(path: path, bytes: $0, cacheDirectory: dir.path("cache")) } == SHA256.hex(bytes))
  }
}
