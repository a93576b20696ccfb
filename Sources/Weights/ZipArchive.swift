// The subset of the ZIP format torch.save writes (PyTorch's "zip" checkpoints, since 1.6): uncompressed
// ("stored") members, optionally zip64. Every offset and size is checked against the file's bounds.
//
// Hand-written on purpose: a checkpoint's members are stored, not compressed, so reading one needs only
// its offsets, and the tensors are then read in place from the file's bytes. A zip library (libzip,
// ZIPFoundation) would add a dependency for a decompressor featx never calls, copy every tensor, and
// leave the checks on hostile offsets and sizes to code the fuzzers here do not reach.

/// One member of a zip archive.
struct ZipEntry {
  var name: String
  /// Offset of the member's bytes in the archive.
  var dataOffset: Int
  var size: Int
}

/// The directory of a zip archive held in memory.
struct ZipArchive {
  let entries: [String: ZipEntry]

  enum Failure: Error, CustomStringConvertible {
    case notZip, truncated(String), compressed(String), malformed(String)
    var description: String {
      switch self {
      case .notZip: "no zip end-of-directory record"
      case .truncated(let what): "truncated zip archive (\(what) lies past the end of the file)"
      case .compressed(let name): "zip member \(name) is compressed; torch.save writes uncompressed members"
      case .malformed(let what): "malformed zip archive: \(what)"
      }
    }
  }

  init(_ bytes: UnsafeRawBufferPointer) throws {
    func u16(_ at: Int) throws -> Int {
      guard at >= 0, at <= bytes.count - 2 else { throw Failure.truncated("a header") }
      return Int(bytes[at]) | Int(bytes[at + 1]) << 8
    }
    func u32(_ at: Int) throws -> Int { try u16(at) | (u16(at + 2) << 16) }
    func u64(_ at: Int) throws -> Int {
      let v = UInt64(try u32(at)) | UInt64(try u32(at + 4)) << 32
      guard v <= UInt64(Int.max) else { throw Failure.malformed("64-bit size out of range") }
      return Int(v)
    }

    // End of central directory: the last 0x06054b50 within the final 64 KiB + 22 bytes.
    guard bytes.count >= 22 else { throw Failure.notZip }
    var eocd = -1
    var i = bytes.count - 22
    let lowest = max(0, bytes.count - 22 - 65_535)
    while i >= lowest {
      if bytes[i] == 0x50, bytes[i + 1] == 0x4b, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 {
        eocd = i
        break
      }
      i -= 1
    }
    guard eocd >= 0 else { throw Failure.notZip }
    var count = try u16(eocd + 10)
    var directorySize = try u32(eocd + 12)
    var directoryOffset = try u32(eocd + 16)
    // zip64: a locator sits just before the classic record when any field overflowed.
    if eocd >= 20, try u32(eocd - 20) == 0x0706_4b50 {
      let record = try u64(eocd - 20 + 8)
      guard record <= bytes.count else { throw Failure.truncated("the zip64 end record") }
      guard try u32(record) == 0x0606_4b50 else { throw Failure.malformed("bad zip64 end record") }
      count = try u64(record + 32)
      directorySize = try u64(record + 40)
      directoryOffset = try u64(record + 48)
    }
    guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
      throw Failure.truncated("the central directory")
    }
    guard count <= directorySize / 46 else { throw Failure.malformed("\(count) entries in \(directorySize) bytes") }

    var entries: [String: ZipEntry] = [:]
    var at = directoryOffset
    for _ in 0..<count {
      guard try u32(at) == 0x0201_4b50 else { throw Failure.malformed("bad central directory entry") }
      let method = try u16(at + 10)
      var compressedSize = try u32(at + 20)
      var size = try u32(at + 24)
      let nameLength = try u16(at + 28)
      let extraLength = try u16(at + 30)
      let commentLength = try u16(at + 32)
      var localOffset = try u32(at + 42)
      guard at + 46 + nameLength <= bytes.count else { throw Failure.truncated("an entry name") }
      let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
      // zip64 extended information replaces the fields that hold 0xffffffff, in this order.
      var extra = at + 46 + nameLength
      let extraEnd = extra + extraLength
      while extra + 4 <= extraEnd {
        let tag = try u16(extra)
        let length = try u16(extra + 2)
        if tag == 0x0001 {
          var field = extra + 4
          if size == 0xffff_ffff { size = try u64(field); field += 8 }
          if compressedSize == 0xffff_ffff { compressedSize = try u64(field); field += 8 }
          if localOffset == 0xffff_ffff { localOffset = try u64(field); field += 8 }
        }
        extra += 4 + length
      }
      guard localOffset <= bytes.count else { throw Failure.truncated("member \(name)") }
      guard method == 0 else { throw Failure.compressed(name) }
      guard compressedSize == size else { throw Failure.malformed("member \(name) sizes disagree") }
      guard try u32(localOffset) == 0x0403_4b50 else { throw Failure.malformed("bad local header for \(name)") }
      let dataOffset = try localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
      guard dataOffset <= bytes.count, size <= bytes.count - dataOffset else { throw Failure.truncated("member \(name)") }
      entries[name] = ZipEntry(name: name, dataOffset: dataOffset, size: size)
      at = extraEnd + commentLength
    }
    self.entries = entries
  }

  /// True if `bytes` starts like a zip archive.
  static func looksLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
    bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04
  }
}
