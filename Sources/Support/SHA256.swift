// SHA-256 (FIPS 180-4). featx hashes weight files to check torchvision's hash prefix and to record
// which weights made a feature store; none of featx's C libraries offers a hash, so this is the one
// piece of cryptography written here. Tested against the FIPS vectors and `sha256sum`.

/// Incremental SHA-256.
public struct SHA256 {
  private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
  )
  private var pending = [UInt8](repeating: 0, count: 64)
  private var pendingCount = 0
  private var totalBytes: UInt64 = 0

  public init() {}

  /// Hashes `bytes` in one call and returns the lowercase hex digest.
  public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    var h = SHA256()
    h.update(bytes)
    return h.finalizeHex()
  }

  /// Hashes a byte array and returns the lowercase hex digest.
  public static func hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex($0) } }

  /// Feeds more bytes.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard var base = bytes.baseAddress else { return }
    var remaining = bytes.count
    totalBytes &+= UInt64(remaining)
    if pendingCount > 0 {
      let take = min(64 - pendingCount, remaining)
      pending.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: pendingCount).copyMemory(from: base, byteCount: take) }
      pendingCount += take
      base += take
      remaining -= take
      if pendingCount == 64 {
        pending.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
        pendingCount = 0
      }
    }
    let blocks = remaining / 64
    if blocks > 0 {
      compress(base, blocks: blocks)
      base += blocks * 64
      remaining -= blocks * 64
    }
    if remaining > 0 {
      pending.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: base, byteCount: remaining) }
      pendingCount = remaining
    }
  }

  /// Feeds a byte array.
  public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

  /// Finishes and returns the 32-byte digest.
  public mutating func finalize() -> [UInt8] {
    let bitLength = totalBytes &* 8
    var tail: [UInt8] = [0x80]
    let padding = (64 + 56 - (pendingCount + 1) % 64) % 64
    tail += [UInt8](repeating: 0, count: padding)
    for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
    let saved = totalBytes
    tail.withUnsafeBytes { update($0) }
    totalBytes = saved
    precondition(pendingCount == 0, "SHA256.finalize: padding did not complete a block")
    let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
    return words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (24 - 8 * UInt32($0))) } }
  }

  /// Finishes and returns the lowercase hex digest.
  public mutating func finalizeHex() -> String {
    let digits: [Character] = Array("0123456789abcdef")
    return String(finalize().flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
  }

  private static let k: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]

  @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

  private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
    var w = (
      UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
      UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0)
    )
    var (h0, h1, h2, h3, h4, h5, h6, h7) = state
    SHA256.k.withUnsafeBufferPointer { k in
      withUnsafeMutableBytes(of: &w) { wb in
        let w = wb.bindMemory(to: UInt32.self)
        for block in 0..<blocks {
          let p = data + block * 64
          for i in 0..<16 { w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
          var (a, b, c, d, e, f, g, h) = (h0, h1, h2, h3, h4, h5, h6, h7)
          for i in 0..<64 {
            let wi: UInt32
            if i < 16 {
              wi = w[i]
            } else {
              let w15 = w[(i - 15) & 15]
              let w2 = w[(i - 2) & 15]
              let s0 = SHA256.rotr(w15, 7) ^ SHA256.rotr(w15, 18) ^ (w15 >> 3)
              let s1 = SHA256.rotr(w2, 17) ^ SHA256.rotr(w2, 19) ^ (w2 >> 10)
              wi = w[i & 15] &+ s0 &+ w[(i - 7) & 15] &+ s1
              w[i & 15] = wi
            }
            let s1 = SHA256.rotr(e, 6) ^ SHA256.rotr(e, 11) ^ SHA256.rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ k[i] &+ wi
            let s0 = SHA256.rotr(a, 2) ^ SHA256.rotr(a, 13) ^ SHA256.rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
          }
          h0 = h0 &+ a
          h1 = h1 &+ b
          h2 = h2 &+ c
          h3 = h3 &+ d
          h4 = h4 &+ e
          h5 = h5 &+ f
          h6 = h6 &+ g
          h7 = h7 &+ h
        }
      }
    }
    state = (h0, h1, h2, h3, h4, h5, h6, h7)
  }
}
