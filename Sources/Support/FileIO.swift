import Glibc

/// A file could not be read or written. The description names the file and the system's reason.
public struct FileError: Error, CustomStringConvertible, Equatable {
  public var path: String
  public var reason: String

  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  /// The error for the current `errno`.
  public static func errno(_ path: String, _ action: String) -> FileError {
    FileError(path: path, reason: "cannot \(action): \(String(cString: strerror(Glibc.errno)))")
  }

  public var description: String { "\(path): \(reason)" }
}

/// Opens `path` for reading after checking that it is a regular file of at most `limit` bytes; the caller
/// closes the descriptor.
///
/// - Throws: `FileError` naming the file (missing, unreadable, a directory, too large).
public func openRegularFile(_ path: String, limit: Int = Int.max) throws -> (descriptor: Int32, size: Int) {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { throw FileError.errno(path, "open it") }
  var info = stat()
  guard fstat(fd, &info) == 0 else {
    let error = FileError.errno(path, "stat it")
    close(fd)
    throw error
  }
  let size = Int(info.st_size)
  let problem =
    (info.st_mode & S_IFMT) != S_IFREG
    ? "not a regular file" : size > limit ? "\(size) bytes, more than the \(limit) accepted" : nil
  if let problem {
    close(fd)
    throw FileError(path: path, reason: problem)
  }
  return (fd, size)
}

/// Reads a whole regular file into memory.
///
/// - Parameter limit: largest accepted size in bytes; larger files are refused before reading.
/// - Throws: `FileError` naming the file (missing, unreadable, a directory, too large).
public func readFile(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
  let (fd, size) = try openRegularFile(path, limit: limit)
  defer { close(fd) }
  // Uninitialised: read() writes every byte kept (zero-filling first cost a 100 MB weights file 10 ms).
  return try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
    initialized = try readAll(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path)
  }
}

/// Reads from `fd` until `buffer` is full or the file ends; returns the bytes read.
///
/// - Throws: `FileError` naming `path` if a read fails.
public func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
  var done = 0
  while done < buffer.count {
    let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
    if n < 0 {
      if Glibc.errno == EINTR { continue }
      throw FileError.errno(path, "read it")
    }
    if n == 0 { break }
    done += n
  }
  return done
}

/// Replaces `path` atomically with the file `write` makes: `write` gets a temporary path beside `path`
/// (unique to this process, so two processes writing the same output never share one), the result is
/// flushed to disk, renamed over `path`, and the folder flushed; on any error the temporary file is
/// removed and `path` is untouched. Readers see the old file or the complete new one, never a part, even
/// after a power loss; of two concurrent writers, the last rename wins and leaves one complete file.
///
/// - Throws: what `write` throws, or `FileError` naming the file that could not be flushed or renamed.
public func replaceAtomically<R>(_ path: String, _ write: (_ temporary: String) throws -> R) throws -> R {
  let temporary = "\(path).\(getpid()).featx-tmp"
  unlink(temporary)
  do {
    let result = try write(temporary)
    try flushToDisk(temporary)
    guard rename(temporary, path) == 0 else { throw FileError.errno(path, "rename \(temporary) to it") }
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    try? flushToDisk(folder)  // the rename itself; not every file system lets a folder be flushed
    return result
  } catch {
    unlink(temporary)
    throw error
  }
}

/// Writes `bytes` to `path` atomically (`replaceAtomically`).
public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
  try replaceAtomically(path) { temporary in
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError.errno(temporary, "create it") }
    defer { close(fd) }
    try bytes.withUnsafeBytes { buffer in
      var done = 0
      while done < buffer.count {
        let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
        if n < 0 {
          if Glibc.errno == EINTR { continue }
          throw FileError.errno(temporary, "write it")
        }
        done += n
      }
    }
  }
}

/// `fsync` of a file or folder by path.
public func flushToDisk(_ path: String) throws {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { throw FileError.errno(path, "open it to flush it") }
  defer { close(fd) }
  guard fsync(fd) == 0 else { throw FileError.errno(path, "flush it to disk") }
}

/// True if a file (or directory) exists at `path`.
public func fileExists(_ path: String) -> Bool {
  var info = stat()
  return stat(path, &info) == 0
}
