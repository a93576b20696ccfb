import Foundation
import Glibc
import Support
import Testing
import TestSupport
import Weights

/// Weights files are mapped, not read: the bytes are the file's, and a file that shrinks underneath ends
/// the process with one line naming it and status 1, not a SIGBUS crash.
@Suite struct MappedFileTests {
  @Test func bytesAreTheFilesBytes() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("w.bin")
    let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    try Data(content).write(to: URL(fileURLWithPath: path))
    #expect(try MappedFile(path: path).withBytes { Array($0) } == content)
    #expect(try MappedFile(path: path, map: false).withBytes { Array($0) } == content)
    let empty = dir.path("empty.bin")
    try Data().write(to: URL(fileURLWithPath: empty))
    #expect(try MappedFile(path: empty).withBytes { $0.isEmpty })
    #expect(throws: FileError(path: path, reason: "10000 bytes, more than the 100 accepted")) {
      try MappedFile(path: path, limit: 100)
    }
    #expect(throws: FileError(path: dir.path(""), reason: "not a regular file")) { try MappedFile(path: dir.path("")) }
  }

  /// A forked child truncates the mapped file and reads past the new end. The mapping is made before the
  /// fork, so the child runs only system calls and one load.
  @Test func aFileThatShrinksWhileMappedEndsWithOneLine() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("w.bin")
    try Data(repeating: 1, count: 64 << 10).write(to: URL(fileURLWithPath: path))
    let file = try MappedFile(path: path)
    let fd = open(path, O_RDWR)
    try #require(fd >= 0)
    defer { close(fd) }
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    let pid = fork()
    if pid == 0 {
      dup2(ends[1], 2)
      _ = ftruncate(fd, 0)
      _exit(file.withBytes { Int32($0.load(fromByteOffset: 32 << 10, as: UInt8.self)) } + 10)
    }
    close(ends[1])
    let stderr = FileHandle(fileDescriptor: ends[0], closeOnDealloc: true).readDataToEndOfFile()
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    #expect(status & 0x7f == 0, "the child died from signal \(status & 0x7f)")
    #expect((status >> 8) & 0xff == 1)
    #expect(
      String(decoding: stderr, as: UTF8.self)
        == "Error: \(path): the file shrank while featx read it (another program is writing or truncating it). "
        + "Run featx again once the file is complete.\n")
  }
}
