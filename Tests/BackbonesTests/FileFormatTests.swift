import Backbones
import Foundation
import Support
import Testing
import TestSupport
import Weights

/// The format of a weights file is decided by its structure: a zip signature; a safetensors header whose
/// length fits the file and whose JSON starts at byte 8; then a pickle protocol byte. A safetensors header
/// of 0x80xx bytes (a timm ResNet-50 saved by save_for_hf has 28 800 = 0x7080) starts with the pickle
/// protocol byte 0x80 and was refused as a broken pickle.
@Suite struct FileFormatTests {
  /// One float32 tensor `t` = [1.5], its JSON header padded with spaces to `length` bytes (or `{}` padded,
  /// an empty file's header, where the tensor's does not fit).
  static func safetensors(headerLength length: Int) -> (bytes: [UInt8], holdsTensor: Bool) {
    let entry = #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
    let json = length >= entry.utf8.count ? entry : (length >= 2 ? "{}" : "{")
    let header = Array(json.utf8) + [UInt8](repeating: 0x20, count: max(0, length - json.utf8.count))
    let size = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
    let data: [UInt8] = json == entry ? Array(withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian, Array.init)) : []
    return (size + header + data, json == entry)
  }

  /// Header lengths 1…1 000, every length whose first byte is 0x80 up to 70 000, and 200 seeded others.
  static let lengths: [Int] = {
    var rng = NumpyRandomState(seed: 3)
    let sampled = (0..<200).map { _ in 1000 + Int(rng.nextUInt32() % 69_000) }
    return Array(1...1000) + stride(from: 0x80, through: 70_000, by: 256) + [0x7080] + sampled
  }()

  @Test func safetensorsOfEveryHeaderLengthAreReadAsSafetensors() throws {
    for length in Self.lengths {
      let (bytes, holdsTensor) = Self.safetensors(headerLength: length)
      let result = Result { try bytes.withUnsafeBytes { try Checkpoint.parse($0, path: "h\(length).safetensors") } }
      switch result {
      case .success(let dict):
        #expect(holdsTensor ? dict.tensors["t"]?.values == [1.5] : dict.keys.isEmpty, "header length \(length)")
      case .failure(let error):
        // Only the headers that hold no tensor may fail, and never as a pickle.
        #expect(!holdsTensor && !"\(error)".contains("pickle"), "header length \(length): \(error)")
      }
    }
  }

  /// Files whose first bytes look like another kind's: each is read as what it is.
  @Test func lookalikesAreToldApart() throws {
    // safetensors whose length starts with 0x80 0x02 (a pickle protocol 2 prefix).
    let (st, _) = Self.safetensors(headerLength: 0x0280)
    #expect(st[0] == 0x80 && st[1] == 0x02)
    let dict = try st.withUnsafeBytes { try Checkpoint.parse($0, path: "p2.safetensors") }
    #expect(dict.keys == ["t"])
    #expect(FileSignature.describe(Array(st.prefix(16))) == "a safetensors file")
    // A legacy torch.save pickle whose byte 8 is `{` is not a safetensors file: its "length" cannot fit.
    var pickle: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, UInt8(ascii: "{")]
    pickle += [UInt8](repeating: 0, count: 16)
    #expect {
      try pickle.withUnsafeBytes { try Checkpoint.parse($0, path: "legacy.pth") }
    } throws: { error in
      "\(error)".contains("pickle opcode 0x0 at byte 14")
    }
  }
}

/// A file under the name of a genuine file featx pins must have exactly that file's sha256.
@Suite struct PinnedWeightsTests {
  @Test func anotherFileUnderAPinnedNameIsRefusedNamingBothHashes() throws {
    let dir = TemporaryDirectory()
    let impostor = dir.path("efficientnet-lite0-57934424.pth")
    try FileManager.default.copyItem(atPath: TestPaths.fixture("timm/tiny_resnet.timm.bin").path, toPath: impostor)
    let actual = try SHA256.hex([UInt8](Data(contentsOf: URL(fileURLWithPath: impostor))))
    #expect {
      try WeightsResolver.loadVerified(impostor)
    } throws: { error in
      "\(error)" == "\(impostor): sha256 \(actual), but featx pins "
        + "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db for this file: it is corrupt or not the "
        + "genuine one. Delete it and fetch it again (scripts/genuine-weights)."
    }
  }
}
