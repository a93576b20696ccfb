// PNG decoding that accepts, refuses and decodes exactly what PIL 13's `Image.open(p).convert("RGB")`
// does. PIL does not use libpng: PngImagePlugin.py walks the chunks, ZipDecode.c inflates (zlib) and
// unfilters the rows, the unpackers of Unpack.c turn them into its modes and Convert.c into RGB. Its
// decisions are that code's, not the PNG specification's, so this file ports it step by step (each
// function names the Python or C it follows) rather than asking libpng, which refuses what PIL reads (a
// missing IEND, a zlib stream ending on a row boundary, a wrong IDAT CRC) and reads what PIL refuses (a
// zTXt with an unknown compression method, text chunks past MAX_TEXT_CHUNK, broken APNG control chunks).
//
// What PIL reads, and so featx: every bit depth and colour type, Adam7, tRNS (ignored by convert("RGB"),
// alpha dropped, never composited), 16-bit samples as PIL reduces them (the high byte of colour and
// grey + alpha; grey as I;16 clipped to 255), APNG's frame 0 (the IDAT image, inside its fcTL region).

import CZlib

enum PNGDecoder {
  static let magic: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

  static func decode(_ bytes: UnsafeRawBufferPointer, path: String, checkSize: (Int, Int) throws -> Void) throws -> RGBImage {
    var reader = PNGStream(bytes: bytes, path: path)
    try reader.open()
    try checkSize(reader.size.width, reader.size.height)
    return try reader.load()
  }
}

/// A chunk type, the four bytes read big-endian.
struct ChunkType: Equatable {
  var value: UInt32
  init(_ s: StaticString) {
    let p = s.utf8Start
    value = UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
  }
  init(value: UInt32) { self.value = value }

  var name: String {
    String(
      decoding: [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)], as: UTF8.self)
  }

  static let IHDR = ChunkType("IHDR"), IDAT = ChunkType("IDAT"), IEND = ChunkType("IEND"), PLTE = ChunkType("PLTE")
  static let tRNS = ChunkType("tRNS"), gAMA = ChunkType("gAMA"), cHRM = ChunkType("cHRM"), sRGB = ChunkType("sRGB")
  static let pHYs = ChunkType("pHYs"), tEXt = ChunkType("tEXt"), zTXt = ChunkType("zTXt"), iTXt = ChunkType("iTXt")
  static let eXIf = ChunkType("eXIf"), acTL = ChunkType("acTL"), fcTL = ChunkType("fcTL"), fdAT = ChunkType("fdAT")
  static let iCCP = ChunkType("iCCP"), DDAT = ChunkType("DDAT")
}

/// PIL's rawmodes for PNG (`_MODES` in PngImagePlugin.py): how a row's bytes become pixels.
enum PNGRawMode {
  case bilevel, l2, l4, l8, i16, rgb8, rgb16, p1, p2, p4, p8, la8, la16, rgba8, rgba16

  /// `_MODES[(bit depth, colour type)]`; nil for combinations PIL does not read.
  init?(depth: UInt8, colorType: UInt8) {
    switch (depth, colorType) {
    case (1, 0): self = .bilevel
    case (2, 0): self = .l2
    case (4, 0): self = .l4
    case (8, 0): self = .l8
    case (16, 0): self = .i16
    case (8, 2): self = .rgb8
    case (16, 2): self = .rgb16
    case (1, 3): self = .p1
    case (2, 3): self = .p2
    case (4, 3): self = .p4
    case (8, 3): self = .p8
    case (8, 4): self = .la8
    case (16, 4): self = .la16
    case (8, 6): self = .rgba8
    case (16, 6): self = .rgba16
    default: return nil
    }
  }

  /// Bits per pixel, as PIL's unpacker reports them (`state->bits`).
  var bits: Int {
    switch self {
    case .bilevel, .p1: 1
    case .l2, .p2: 2
    case .l4, .p4: 4
    case .l8, .p8: 8
    case .i16, .la8: 16
    case .rgb8: 24
    case .la16, .rgba8: 32
    case .rgb16: 48
    case .rgba16: 64
    }
  }

  /// PIL's image mode for this rawmode (what tRNS and convert look at).
  var mode: PNGMode {
    switch self {
    case .bilevel: .bilevel
    case .l2, .l4, .l8: .l
    case .i16: .i16
    case .rgb8, .rgb16: .rgb
    case .p1, .p2, .p4, .p8: .p
    case .la8: .la
    case .la16, .rgba8, .rgba16: .rgba
    }
  }
}

enum PNGMode { case bilevel, l, i16, rgb, p, la, rgba }

/// PIL's `PngStream` and `PngImageFile`: the chunk walk of `_open`, then `load` (ImageFile.load with
/// PngImageFile's load_read and load_end) and `convert("RGB")`.
struct PNGStream {
  let bytes: UnsafeRawBufferPointer
  let path: String
  /// The file position (`fp.tell()`).
  var pos = 8

  // PngStream's state.
  var size = (width: 0, height: 0)
  var streamMode: PNGMode?
  var rawMode: PNGRawMode?
  var unsupportedHeader: (depth: UInt8, colorType: UInt8)?
  var interlace = false
  var streamPalette: [UInt8]?
  /// `info["transparency"]`: nil when absent, else whether it is an int (a palette index, a grey value).
  var transparencyIsInt: Bool?
  var textMemory = 0
  var frameCount: Int?
  var sequence: Int?
  var bbox: (x0: Int, y0: Int, x1: Int, y1: Int)?
  var defaultImage = false
  var tile: (offset: Int, x0: Int, y0: Int, x1: Int, y1: Int)?
  var idatLength = 0
  /// Output space for text chunks (MAX_TEXT_CHUNK bytes), allocated at the first compressed one.
  var textBuffer: [UInt8] = []

  // PngImageFile's state, fixed at the end of _open.
  var mode: PNGMode?
  var palette: [UInt8]?
  var isAnimated = false
  var prepareIDAT = 0

  init(bytes: UnsafeRawBufferPointer, path: String) {
    self.bytes = bytes
    self.path = path
  }

  func error(_ kind: ImageError.Kind, _ detail: String) -> ImageError { ImageError(path: path, kind: kind, detail: detail) }

  // MARK: - The file object

  /// `fp.read(n)`: up to n bytes.
  mutating func read(_ n: Int) -> Range<Int> {
    let end = n >= bytes.count - pos ? bytes.count : pos + max(n, 0)
    defer { pos = end }
    return pos..<end
  }

  /// `ImageFile._safe_read`: exactly n bytes (none for n <= 0), or "Truncated File Read".
  mutating func safeRead(_ n: Int, _ what: @autoclosure () -> String) throws -> Range<Int> {
    guard n > 0 else { return pos..<pos }
    guard n <= bytes.count - pos else {
      throw error(.truncated, "the file ends inside \(what()) (\(n) bytes declared, \(bytes.count - pos) left)")
    }
    defer { pos += n }
    return pos..<(pos + n)
  }

  func u32(_ at: Int) -> Int {
    Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
  }

  func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }

  /// `ChunkStream.read`: the next chunk's type and length. Fewer than 4 bytes is struct.error, a type
  /// that is not four word characters (`\w\w\w\w`) SyntaxError; both refuse the file.
  mutating func chunkHeader() throws -> (type: ChunkType, length: Int) {
    let s = read(8)
    guard s.count >= 4 else { throw error(.truncated, "the file ends inside a chunk header") }
    let length = u32(s.lowerBound)
    guard s.count == 8 else { throw error(.truncated, "the file ends inside a chunk header") }
    func word(_ b: UInt8) -> Bool {
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f
    }
    let t = s.lowerBound + 4
    guard (t..<(t + 4)).allSatisfy({ word(bytes[$0]) }) else {
      let shown = (t..<(t + 4)).map { String(format: "%02x", bytes[$0]) }.joined()
      throw error(.corrupt, "broken PNG file (chunk type 0x\(shown) at byte \(s.lowerBound))")
    }
    return (ChunkType(value: UInt32(u32(t))), length)
  }

  /// `ChunkStream.crc`: the 4 bytes after the data must be the CRC of type and data.
  mutating func checkCRC(_ type: ChunkType, _ data: Range<Int>) throws {
    let c = read(4)
    guard c.count == 4 else { throw error(.truncated, "the file ends inside the CRC of a \(type.name) chunk") }
    let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    var crc = crc32(0, base + data.lowerBound - 4, 4)
    crc = crc32(crc, base + data.lowerBound, UInt32(data.count))
    guard UInt32(crc) == UInt32(u32(c.lowerBound)) else {
      throw error(.corrupt, "broken PNG file (bad checksum in the \(type.name) chunk at byte \(data.lowerBound - 8))")
    }
  }

  // MARK: - Chunk handlers (PngStream.chunk_*)

  enum Handled {
    case data(Range<Int>)
    /// EOFError: image data found (IDAT, fdAT) or the end (IEND).
    case end
    /// AttributeError: no handler for this chunk (or IDAT before a usable IHDR).
    case unknown
  }

  /// `ChunkStream.call`: the handler of `type`, which reads its data.
  mutating func call(_ type: ChunkType, _ length: Int) throws -> Handled {
    let start = pos
    func needs(_ minimum: Int, _ what: String) throws {
      if length < minimum { throw error(.corrupt, "\(what) chunk of \(length) bytes (PIL: truncated \(what) chunk)") }
    }
    switch type {
    case .IHDR:
      let s = try safeRead(length, "the IHDR chunk")
      try needs(13, "IHDR")
      size = (u32(s.lowerBound), u32(s.lowerBound + 4))
      let (depth, colorType) = (bytes[s.lowerBound + 8], bytes[s.lowerBound + 9])
      if let raw = PNGRawMode(depth: depth, colorType: colorType) {
        (rawMode, streamMode, unsupportedHeader) = (raw, raw.mode, nil)
      } else {
        unsupportedHeader = (depth, colorType)
      }
      if bytes[s.lowerBound + 12] != 0 { interlace = true }
      if bytes[s.lowerBound + 11] != 0 {
        throw error(.corrupt, "IHDR filter method \(bytes[s.lowerBound + 11]) (PIL: unknown filter category)")
      }
      return .data(s)
    case .IDAT:
      return idat(at: start, length: length)
    case .IEND:
      return .end
    case .PLTE:
      let s = try safeRead(length, "the PLTE chunk")
      if streamMode == .p { streamPalette = Array(UnsafeRawBufferPointer(rebasing: bytes[s])) }
      return .data(s)
    case .tRNS:
      let s = try safeRead(length, "the tRNS chunk")
      switch streamMode {
      case .p:
        // `_simple_palette` (`^\xff*\x00\xff*$`, where `$` also matches before a final newline): one 0
        // among 0xff bytes is an index (int), anything else bytes.
        let body = !s.isEmpty && bytes[s.upperBound - 1] == 0x0a ? s.dropLast() : s[...]
        let zeros = body.filter { bytes[$0] == 0 }.count
        transparencyIsInt = zeros == 1 && body.allSatisfy { bytes[$0] == 0 || bytes[$0] == 0xff }
      case .bilevel, .l, .i16, .rgb:
        try needs(streamMode == .rgb ? 6 : 2, "tRNS")
        transparencyIsInt = true
      default: break
      }
      return .data(s)
    case .gAMA, .cHRM, .sRGB, .pHYs:
      let s = try safeRead(length, "the \(type.name) chunk")
      try needs(type == .gAMA ? 4 : type == .cHRM ? 32 : type == .sRGB ? 1 : 9, type.name)
      return .data(s)
    case .tEXt:
      let s = try safeRead(length, "the tEXt chunk")
      let (key, value) = split(s)
      if !key.isEmpty { try countText(value.count) }
      return .data(s)
    case .zTXt:
      let s = try safeRead(length, "the zTXt chunk")
      let (key, value) = split(s)
      let method = value.isEmpty ? 0 : bytes[value.lowerBound]
      guard method == 0 else { throw error(.corrupt, "zTXt compression method \(method) (PIL: unknown compression method)") }
      let text = try inflateText(value.isEmpty ? value : (value.lowerBound + 1)..<value.upperBound, "zTXt")
      if !key.isEmpty { try countText(text?.count ?? 0) }
      return .data(s)
    case .iTXt:
      let s = try safeRead(length, "the iTXt chunk")
      try iTXt(s)
      return .data(s)
    case .iCCP:
      let s = try safeRead(length, "the iCCP chunk")
      // `i = s.find(b"\0")` is -1 without a NUL, and Python reads s[i + 1] = s[0] then.
      let i = s.first { bytes[$0] == 0 }.map { $0 - s.lowerBound } ?? -1
      guard i + 1 < s.count else { throw error(.corrupt, "iCCP chunk without a compression method") }
      let method = bytes[s.lowerBound + i + 1]
      guard method == 0 else { throw error(.corrupt, "iCCP compression method \(method) (PIL: unknown compression method)") }
      _ = try inflateText((s.lowerBound + i + 2)..<s.upperBound, "iCCP")
      return .data(s)
    case .eXIf:
      return .data(try safeRead(length, "the eXIf chunk"))
    case .acTL:
      let s = try safeRead(length, "the acTL chunk")
      if length < 8 { throw error(.corrupt, "APNG acTL chunk of \(length) bytes (PIL: truncated acTL chunk)") }
      if frameCount != nil {
        frameCount = nil  // a second acTL: PIL warns and reads the default image
        return .data(s)
      }
      let n = u32(s.lowerBound)
      if n == 0 || n > 0x8000_0000 { return .data(s) }
      frameCount = n
      return .data(s)
    case .fcTL:
      let s = try safeRead(length, "the fcTL chunk")
      if length < 26 { throw error(.corrupt, "APNG fcTL chunk of \(length) bytes (PIL: truncated fcTL chunk)") }
      let seq = u32(s.lowerBound)
      if (sequence == nil && seq != 0) || (sequence != nil && sequence! != seq - 1) {
        throw error(.corrupt, "APNG frame sequence error (fcTL number \(seq) after \(sequence.map(String.init) ?? "none"))")
      }
      sequence = seq
      let (w, h, x, y) = (u32(s.lowerBound + 4), u32(s.lowerBound + 8), u32(s.lowerBound + 12), u32(s.lowerBound + 16))
      if x + w > size.width || y + h > size.height {
        throw error(.corrupt, "APNG frame \(w)x\(h) at (\(x), \(y)) extends past the \(size.width)x\(size.height) image")
      }
      bbox = (x, y, x + w, y + h)
      return .data(s)
    case .fdAT:
      if length < 4 { throw error(.corrupt, "APNG fdAT chunk of \(length) bytes (PIL: truncated fdAT chunk)") }
      let s = try safeRead(4, "the fdAT chunk")
      let seq = u32(s.lowerBound)
      guard let sequence, sequence == seq - 1 else {
        throw error(.corrupt, "APNG frame sequence error (fdAT number \(seq) after \(sequence.map(String.init) ?? "none"))")
      }
      self.sequence = seq
      return idat(at: start + 4, length: length - 4)
    default:
      return .unknown
    }
  }

  /// `chunk_IDAT`: the image data starts here (EOFError), unless no IHDR gave a rawmode yet
  /// (`self.im_rawmode` is then an AttributeError and the chunk is skipped as unknown).
  mutating func idat(at offset: Int, length: Int) -> Handled {
    guard rawMode != nil else { return .unknown }
    if let bbox {
      tile = (offset, bbox.x0, bbox.y0, bbox.x1, bbox.y1)
    } else {
      if frameCount != nil { defaultImage = true }
      tile = (offset, 0, 0, size.width, size.height)
    }
    idatLength = length
    return .end
  }

  /// `s.split(b"\0", 1)`: key and value; no NUL gives the whole as key and an empty value.
  func split(_ s: Range<Int>) -> (key: Range<Int>, value: Range<Int>) {
    guard let nul = s.first(where: { bytes[$0] == 0 }) else { return (s, s.upperBound..<s.upperBound) }
    return (s.lowerBound..<nul, (nul + 1)..<s.upperBound)
  }

  /// `PngStream.check_text_memory`: 64 MiB of text in all.
  mutating func countText(_ n: Int) throws {
    textMemory += n
    if textMemory > PNGStream.maxTextMemory {
      throw error(.tooLarge, "text chunks hold \(textMemory) bytes, more than PIL's MAX_TEXT_MEMORY (\(PNGStream.maxTextMemory))")
    }
  }

  /// PIL's `MAX_TEXT_CHUNK` (ImageFile.SAFEBLOCK) and `MAX_TEXT_MEMORY`.
  static let maxTextChunk = 1 << 20
  static let maxTextMemory = 64 << 20

  /// `_safe_zlib_decompress`: the text, nil when zlib fails (PIL then keeps an empty text), or a refusal
  /// when it decompresses past MAX_TEXT_CHUNK.
  mutating func inflateText(_ data: Range<Int>, _ type: String) throws -> ArraySlice<UInt8>? {
    if textBuffer.isEmpty { textBuffer = [UInt8](repeating: 0, count: PNGStream.maxTextChunk) }
    var produced = 0
    let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    let status = textBuffer.withUnsafeMutableBufferPointer {
      featx_inflate_bounded(base + data.lowerBound, data.count, $0.baseAddress, $0.count, &produced)
    }
    switch status {
    case 0: return textBuffer[0..<produced]
    case 1:
      throw error(
        .tooLarge, "\(type) chunk decompresses past \(PNGStream.maxTextChunk) bytes (PIL's MAX_TEXT_CHUNK: a decompression bomb)")
    default: return nil
    }
  }

  /// `chunk_iTXt`: keyword, compression flag and method, language, translated keyword, text.
  mutating func iTXt(_ s: Range<Int>) throws {
    let (key, rest) = split(s)
    guard rest.count >= 2 else { return }
    let (flag, method) = (bytes[rest.lowerBound], bytes[rest.lowerBound + 1])
    let r = (rest.lowerBound + 2)..<rest.upperBound
    guard let nul1 = r.first(where: { bytes[$0] == 0 }),
      let nul2 = ((nul1 + 1)..<r.upperBound).first(where: { bytes[$0] == 0 })
    else { return }
    let (language, translated) = (r.lowerBound..<nul1, (nul1 + 1)..<nul2)
    var text = ArraySlice(UnsafeRawBufferPointer(rebasing: bytes[(nul2 + 1)..<r.upperBound]))
    if flag != 0 {
      guard method == 0 else { return }
      guard let inflated = try inflateText((nul2 + 1)..<r.upperBound, "iTXt") else { return }
      text = inflated
    }
    // Text that is not UTF-8 is skipped, as PIL skips it on UnicodeError.
    func utf8(_ b: some Collection<UInt8>) -> String? { String(validating: b, as: UTF8.self) }
    guard utf8(language.map { bytes[$0] }) != nil, utf8(translated.map { bytes[$0] }) != nil, let value = utf8(text) else {
      return
    }
    _ = key
    try countText(value.unicodeScalars.count)
  }

  // MARK: - _open

  /// `PngImageFile._open`: every chunk up to the image data, with its CRC checked.
  mutating func open() throws {
    var last: (type: ChunkType, length: Int)? = nil
    while last == nil {
      let (type, length) = try chunkHeader()
      switch try call(type, length) {
      case .end:
        last = (type, length)
      case .unknown:
        let s = try safeRead(length, "the \(type.name) chunk")
        try checkCRC(type, s)
      case .data(let s):
        try checkCRC(type, s)
      }
    }
    mode = streamMode
    palette = streamPalette
    isAnimated = (frameCount ?? 1) + (frameCount != nil && defaultImage ? 1 : 0) > 1
    prepareIDAT = last!.type == .fdAT ? last!.length - 4 : last!.length
    guard let _ = mode else {
      if let (depth, colorType) = unsupportedHeader {
        throw error(.unsupported, "PNG of bit depth \(depth) and colour type \(colorType) (PIL reads none)")
      }
      throw error(.corrupt, "no IHDR chunk before the image data")
    }
    guard size.width > 0, size.height > 0 else {
      throw error(.corrupt, "header declares \(size.width)x\(size.height) pixels")
    }
  }

  // MARK: - load and convert("RGB")

  mutating func load() throws -> RGBImage {
    guard let tile, let rawMode, let mode else { throw error(.corrupt, "no image data (IDAT) before IEND") }
    // Image.load → putpalette: at most 256 entries.
    var table = [UInt8](repeating: 0, count: 256 * 3)
    if mode == .p, let palette {
      let entries = palette.count / 3
      guard entries <= 256 else { throw error(.corrupt, "PLTE of \(entries) entries (PIL: invalid palette size)") }
      table.replaceSubrange(0..<(entries * 3), with: palette[0..<(entries * 3)])
    }
    // decoder.setimage: the tile must lie inside the image.
    let (xsize, ysize) = (tile.x1 - tile.x0, tile.y1 - tile.y0)
    guard xsize > 0, ysize > 0, tile.x1 <= size.width, tile.y1 <= size.height else {
      throw error(.corrupt, "APNG frame 0 of \(xsize)x\(ysize) pixels (PIL: tile cannot extend outside image)")
    }
    // The image starts black (index 0 for palette images), as Image.core.new leaves it.
    let (width, height) = size
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    if mode == .p, table[0] | table[1] | table[2] != 0 {
      for p in 0..<(width * height) { (pixels[3 * p], pixels[3 * p + 1], pixels[3 * p + 2]) = (table[0], table[1], table[2]) }
    }
    guard let rows = ZipRowDecoder(rawMode: rawMode, xsize: xsize, ysize: ysize, interlaced: interlace) else {
      throw error(.unreadable, "zlib could not allocate an inflate stream")
    }
    defer { rows.close() }
    var failure: ImageError?
    var idatLeft = prepareIDAT
    pos = tile.offset
    try pixels.withUnsafeMutableBufferPointer { canvas in
      try table.withUnsafeBufferPointer { table in
        // Interlaced rows land at the pass position without the tile offset (as ZipDecode.c does).
        let sink = ZipRowDecoder.Sink(
          canvas: canvas.baseAddress!, width: width, top: interlace ? 0 : tile.y0, left: interlace ? 0 : tile.x0,
          palette: table.baseAddress!)
        // ImageFile.load: blocks of MAXBLOCK (65536) from load_read, each fed to the decoder.
        feeding: while true {
          while idatLeft == 0 {
            _ = read(4)  // CRC, never checked
            let (type, length) = try chunkHeader()
            guard type == .IDAT || type == .DDAT || type == .fdAT else {
              throw error(
                .truncated, "the image data ends after \(rows.rowsDone) of \(ysize) rows (a \(type.name) chunk follows)")
            }
            if type == .fdAT {
              _ = try call(type, length)
              idatLeft = length - 4
            } else {
              idatLeft = length
            }
          }
          let n = min(65536, idatLeft)
          idatLeft -= n
          let s = read(n)
          guard !s.isEmpty else {
            throw error(.truncated, "the file ends inside the image data after \(rows.rowsDone) of \(ysize) rows")
          }
          switch rows.feed(UnsafeRawBufferPointer(rebasing: bytes[s]), into: sink) {
          case .needsMore: continue
          case .done: break feeding
          case .failed(let detail):
            failure = error(.corrupt, detail)
            break feeding
          }
        }
      }
    }
    try loadEnd(idatLeft: idatLeft)
    if let failure { throw failure }
    // convert("RGB") asserts a palette when a palette image has an int transparency.
    if mode == .p, palette == nil, transparencyIsInt == true {
      throw error(.corrupt, "palette image with a tRNS chunk but no PLTE (PIL cannot convert it)")
    }
    return RGBImage(width: width, height: height, pixels: pixels)
  }

  /// `PngImageFile.load_end`: the chunks after the image data, up to IEND or the next APNG frame. CRCs
  /// are not checked here; a chunk header cut short or garbled ends the walk quietly; a chunk cut short
  /// or a handler's refusal refuses the file.
  mutating func loadEnd(idatLeft: Int) throws {
    if idatLeft != 0 { _ = read(idatLeft) }
    while true {
      _ = read(4)
      guard let (type, length) = try? chunkHeader() else { return }
      if type == .IEND { return }
      if type == .fcTL && isAnimated { return }
      switch try call(type, length) {
      case .end: _ = try safeRead(type == .fdAT ? length - 4 : length, "the \(type.name) chunk")
      case .unknown: _ = try safeRead(length, "the \(type.name) chunk")
      case .data: break
      }
    }
  }
}

/// ZipDecode.c for PNG: inflates the image data as it arrives and unfilters each row (previous row
/// black at the start and at each Adam7 pass). A zlib stream that ends on a row boundary ends the image
/// (the rest stays black); one that ends inside a row needs more data.
final class ZipRowDecoder {
  enum Status {
    case needsMore, done
    case failed(String)
  }

  static let offset = [7, 3, 3, 1, 1, 0, 0]
  static let startingColumn = [0, 4, 0, 2, 0, 1, 0]
  static let startingRow = [0, 0, 4, 0, 2, 0, 1]
  static let columnIncrement = [8, 8, 4, 4, 2, 2, 1]
  static let rowIncrement = [8, 8, 8, 4, 4, 2, 2]

  let rawMode: PNGRawMode
  let xsize: Int, ysize: Int, bits: Int, bytesPerRow: Int
  let interlaced: Bool
  private let zstream: UnsafeMutablePointer<z_stream>
  private var buffer: UnsafeMutablePointer<UInt8>
  private var previous: UnsafeMutablePointer<UInt8>
  private var lastOutput = 0
  private var pass = 0
  private var y = 0
  private(set) var rowsDone = 0

  /// Where the rows go: the RGB image, the tile's offset in it, the palette (256 RGB entries).
  struct Sink {
    var canvas: UnsafeMutablePointer<UInt8>
    var width: Int
    var top: Int
    var left: Int
    var palette: UnsafePointer<UInt8>
  }

  init?(rawMode: PNGRawMode, xsize: Int, ysize: Int, interlaced: Bool) {
    guard let z = featx_inflate_new() else { return nil }
    self.rawMode = rawMode
    self.xsize = xsize
    self.ysize = ysize
    bits = rawMode.bits
    bytesPerRow = (bits * xsize + 7) / 8
    self.interlaced = interlaced
    zstream = z
    buffer = .allocate(capacity: bytesPerRow + 1)
    previous = .allocate(capacity: bytesPerRow + 1)
    buffer.initialize(repeating: 0, count: bytesPerRow + 1)
    previous.initialize(repeating: 0, count: bytesPerRow + 1)
  }

  func close() {
    featx_inflate_free(zstream)
    buffer.deallocate()
    previous.deallocate()
  }

  private func passRowBytes(_ pass: Int) -> Int {
    ((xsize + ZipRowDecoder.offset[pass]) / ZipRowDecoder.columnIncrement[pass] * bits + 7) / 8
  }

  /// `ImagingZipDecode` on one block of data.
  func feed(_ block: UnsafeRawBufferPointer, into sink: Sink) -> Status {
    var rowLength = interlaced ? passRowBytes(pass) : bytesPerRow
    var input = block.baseAddress?.assumingMemoryBound(to: UInt8.self)
    var inputLeft = block.count
    let bpp = (bits + 7) / 8
    while inputLeft > 0 {
      var output: UnsafeMutablePointer<UInt8>? = buffer + lastOutput
      var outputLeft = rowLength + 1 - lastOutput
      let err = featx_inflate_step(zstream, &input, &inputLeft, &output, &outputLeft)
      if err < 0 {
        return .failed(
          err == Z_DATA_ERROR
            ? "broken zlib data in the image data (\(zstream.pointee.msg.map { String(cString: $0) } ?? "data error"))"
            : "zlib error \(err) in the image data")
      }
      let n = rowLength + 1 - outputLeft
      if n < rowLength + 1 {
        lastOutput = n
        break
      }
      let b = buffer, p = previous
      switch b[0] {
      case 0: break
      case 1:
        if bpp + 1 <= rowLength { for i in (bpp + 1)...rowLength { b[i] &+= b[i - bpp] } }
      case 2:
        for i in stride(from: 1, through: rowLength, by: 1) { b[i] &+= p[i] }
      case 3:
        var i = 1
        while i <= min(bpp, rowLength) { b[i] &+= p[i] / 2; i += 1 }
        while i <= rowLength { b[i] &+= UInt8((Int(b[i - bpp]) + Int(p[i])) / 2); i += 1 }
      case 4:
        var i = 1
        while i <= min(bpp, rowLength) { b[i] &+= p[i]; i += 1 }
        while i <= rowLength {
          let (a, u, c) = (Int(b[i - bpp]), Int(p[i]), Int(p[i - bpp]))
          let (pa, pb, pc) = (abs(u - c), abs(a - c), abs(a + u - 2 * c))
          b[i] &+= UInt8(pa <= pb && pa <= pc ? a : pb <= pc ? u : c)
          i += 1
        }
      default:
        return .failed("unknown PNG filter type \(b[0]) in row \(rowsDone) (PIL: unrecognized data stream contents)")
      }
      if interlaced {
        store(b + 1, y, ZipRowDecoder.startingColumn[pass], ZipRowDecoder.columnIncrement[pass], sink)
        y += ZipRowDecoder.rowIncrement[pass]
        while y >= ysize || rowLength <= 0 {
          pass += 1
          if pass == 7 {
            y = ysize
            break
          }
          y = ZipRowDecoder.startingRow[pass]
          rowLength = passRowBytes(pass)
          buffer.update(repeating: 0, count: bytesPerRow + 1)
        }
      } else {
        store(b + 1, y, 0, 1, sink)
        y += 1
      }
      rowsDone += 1
      lastOutput = 0
      if y >= ysize || err == Z_STREAM_END { return .done }
      swap(&buffer, &previous)
    }
    return .needsMore
  }

  private func store(_ row: UnsafePointer<UInt8>, _ y: Int, _ x0: Int, _ step: Int, _ sink: Sink) {
    let out = sink.canvas + ((sink.top + y) * sink.width + sink.left + x0) * 3
    unpack(row, into: out, stride: step * 3, palette: sink.palette)
  }

  /// PIL's unpacker for the rawmode followed by convert("RGB"): the row's pixels (as many as the row
  /// holds at this pass) as RGB, `stride` bytes apart.
  func unpack(_ row: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>, stride: Int, palette: UnsafePointer<UInt8>) {
    let count: Int
    if interlaced {
      count = (xsize + ZipRowDecoder.offset[pass]) / ZipRowDecoder.columnIncrement[pass]
    } else {
      count = xsize
    }
    var o = out
    @inline(__always) func put(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
      o[0] = r
      o[1] = g
      o[2] = b
      o += stride
    }
    @inline(__always) func sample(_ k: Int, _ bits: Int) -> Int {
      let at = k * bits
      return Int(row[at >> 3] >> UInt8(8 - bits - (at & 7))) & ((1 << bits) - 1)
    }
    switch rawMode {
    case .bilevel:
      for k in 0..<count { let v: UInt8 = sample(k, 1) != 0 ? 255 : 0; put(v, v, v) }
    case .l2:
      for k in 0..<count { let v = UInt8(sample(k, 2) * 0x55); put(v, v, v) }
    case .l4:
      for k in 0..<count { let v = UInt8(sample(k, 4) * 0x11); put(v, v, v) }
    case .l8:
      for k in 0..<count { put(row[k], row[k], row[k]) }
    case .i16:
      // I;16 → RGB clips to 255 (I16_RGB in Convert.c).
      for k in 0..<count { let v = row[2 * k] == 0 ? row[2 * k + 1] : 255; put(v, v, v) }
    case .rgb8:
      for k in 0..<count { put(row[3 * k], row[3 * k + 1], row[3 * k + 2]) }
    case .rgb16:
      for k in 0..<count { put(row[6 * k], row[6 * k + 2], row[6 * k + 4]) }
    case .p1, .p2, .p4:
      let bits = rawMode.bits
      for k in 0..<count {
        let i = sample(k, bits) * 3
        put(palette[i], palette[i + 1], palette[i + 2])
      }
    case .p8:
      for k in 0..<count {
        let i = Int(row[k]) * 3
        put(palette[i], palette[i + 1], palette[i + 2])
      }
    case .la8:
      for k in 0..<count { put(row[2 * k], row[2 * k], row[2 * k]) }
    case .la16:
      for k in 0..<count { put(row[4 * k], row[4 * k], row[4 * k]) }
    case .rgba8:
      for k in 0..<count { put(row[4 * k], row[4 * k + 1], row[4 * k + 2]) }
    case .rgba16:
      for k in 0..<count { put(row[8 * k], row[8 * k + 2], row[8 * k + 4]) }
    }
  }
}
