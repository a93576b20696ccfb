import Glibc

/// What a file is, from its first bytes, for messages about a file of the wrong kind ("p.h5 is a PNG
/// image"): the formats featx users mix up (images, PyTorch checkpoints, text), not a general detector.
public enum FileSignature {
  /// A short description such as "a PNG image" or "a zip archive (a PyTorch .pth checkpoint?)", or nil
  /// if the first bytes match none of the known kinds.
  public static func describe(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 16)
    let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
    guard n >= 0 else { return nil }
    return describe(Array(head.prefix(n)))
  }

  /// The description for a file starting with `head`.
  public static func describe(_ head: [UInt8]) -> String? {
    func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
    if head.isEmpty { return "an empty file (0 bytes)" }
    if starts([0x89, 0x50, 0x4E, 0x47]) { return "a PNG image" }
    if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return "an HDF5 file" }
    if starts([0xFF, 0xD8, 0xFF]) { return "a JPEG image" }
    if starts([0x50, 0x4B, 0x03, 0x04]) { return "a zip archive (a PyTorch .pth checkpoint?)" }
    // Before the pickle test: a safetensors header length can start with the pickle protocol byte 0x80.
    if head.count >= 9, head[8] == UInt8(ascii: "{"), head[6] == 0, head[7] == 0 { return "a safetensors file" }
    if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return "a Python pickle (a legacy PyTorch checkpoint?)" }
    if starts([0x1F, 0x8B]) { return "a gzip file" }
    if head.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }) { return "a text file" }
    return nil
  }
}
