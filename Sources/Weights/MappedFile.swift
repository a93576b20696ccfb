// A weights file mapped read-only instead of read into memory: a 100 MB file maps in 2 ms from the page
// cache, where read() into fresh memory took 60 ms (a page fault per 4 KiB), and the hash and the parser
// then read the same pages. A file that shrinks while mapped ends featx with one line naming it, not a
// crash (CFileMap's SIGBUS handler).

import CFileMap
import Glibc
import Support

/// A whole regular file, mapped read-only for the lifetime of this object (read into memory instead where
/// the file system cannot map it).
public final class MappedFile {
  /// The file's bytes (empty for an empty file), valid while this object lives: read them in `withBytes`.
  private let bytes: UnsafeRawBufferPointer
  private let slot: Int32
  private let message: UnsafeMutablePointer<CChar>?
  /// The memory `bytes` were read into where the file could not be mapped (nil when mapped).
  private let copy: UnsafeMutableRawPointer?

  /// - Parameter map: false reads the file into memory without trying to map it (what happens anyway where
  ///   mmap fails).
  /// - Throws: `FileError` naming the file (missing, unreadable, not a regular file, larger than `limit`).
  public init(path: String, limit: Int = Int.max, map: Bool = true) throws {
    let (fd, size) = try openRegularFile(path, limit: limit)
    defer { close(fd) }
    guard size > 0 else {
      (bytes, slot, message, copy) = (UnsafeRawBufferPointer(start: nil, count: 0), -1, nil, nil)
      return
    }
    // MAP_POPULATE maps every page now, in one call, instead of one fault at a time.
    guard map, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else {
      let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
      do {
        let count = try readAll(fd, into: memory, path: path)
        (bytes, slot, message, copy) = (
          UnsafeRawBufferPointer(start: memory.baseAddress, count: count), -1, nil, memory.baseAddress
        )
      } catch {
        memory.deallocate()
        throw error
      }
      return
    }
    copy = nil
    bytes = UnsafeRawBufferPointer(start: base, count: size)
    message = strdup(
      "Error: \(path): the file shrank while featx read it (another program is writing or truncating it). "
        + "Run featx again once the file is complete.\n")
    slot = featx_mapping_register(base, size, message)
  }

  /// Calls `body` with the file's bytes, which stay valid until it returns.
  public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try withExtendedLifetime(self) { try body(bytes) }
  }

  deinit {
    featx_mapping_unregister(slot)
    if let copy {
      copy.deallocate()
    } else if let base = bytes.baseAddress {
      munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    }
    free(message)
  }
}
