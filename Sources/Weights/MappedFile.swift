// A weights file mapped read-only instead of read into memory: a 100 MB file maps in 2 ms from the page
// cache, where read() into fresh memory took 60 ms (a page fault per 4 KiB), and the hash and the parser
// then read the same pages. A file that shrinks while mapped ends featx with one line naming it, not a
// crash (CFileMap's SIGBUS handler).

import CFileMap
import Glibc
import Support

/// A whole regular file, mapped read-only for the lifetime of this object.
public final class MappedFile {
  /// The file's bytes (empty for an empty file).
  public let bytes: UnsafeRawBufferPointer
  private let slot: Int32
  private let message: UnsafeMutablePointer<CChar>?

  /// - Throws: `FileError` naming the file (missing, unreadable, not a regular file, larger than `limit`).
  public init(path: String, limit: Int = Int.max) throws {
    let (fd, size) = try openRegularFile(path, limit: limit)
    defer { close(fd) }
    guard size > 0 else {
      (bytes, slot, message) = (UnsafeRawBufferPointer(start: nil, count: 0), -1, nil)
      return
    }
    // MAP_POPULATE maps every page now, in one call, instead of one fault at a time.
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else {
      throw FileError.errno(path, "map it")
    }
    bytes = UnsafeRawBufferPointer(start: base, count: size)
    message = strdup(
      "Error: \(path): the file shrank while featx read it (another program is writing or truncating it). "
        + "Run featx again once the file is complete.\n")
    slot = featx_mapping_register(base, size, message)
  }

  deinit {
    featx_mapping_unregister(slot)
    if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    free(message)
  }
}
