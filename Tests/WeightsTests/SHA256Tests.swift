import Foundation
import Support
import Testing
import TestSupport
import Weights

@Suite struct SHA256Tests {
  @Test(arguments: [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
  ])
  func fipsVectors(input: String, digest: String) throws {
    #expect(try SHA256.hex(Array(input.utf8)) == digest)
  }

  @Test func millionAsInUnevenPieces() throws {
    let h = try SHA256()
    var fed = 0
    var piece = 1
    while fed < 1_000_000 {
      let n = min(piece, 1_000_000 - fed)
      try h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
      fed += n
      piece = piece * 3 % 997 + 1
    }
    #expect(try h.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func agreesWithSha256sum() throws {
    let dir = TemporaryDirectory()
    let bytes = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
    let path = dir.path("blob")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let result = try runCommand("/usr/bin/sha256sum", [path])
    #expect(result.stdout.hasPrefix(try SHA256.hex(bytes)))
  }
}
