// Capturing what the process itself writes to file descriptor 2 (C libraries print there directly, past
// Swift's FileHandle), for tests that check a library stays quiet.

import Foundation

/// Runs `body` with file descriptor 2 redirected to a temporary file and returns its result with everything
/// written to fd 2 meanwhile. Afterwards fd 2 is restored and, with `echo` (the default), the captured text
/// is written to it again, so nothing (e.g. output of concurrently running code) is lost from the log; pass
/// `echo: false` when `body` prints on purpose.
///
/// fd 2 is process-wide: output of other threads during `body` is captured too, so a test should assert
/// that something is *absent* (or present because `body` itself wrote it), never that the capture is empty.
public func capturingStandardError<T>(
  echo: Bool = true, _ body: () throws -> T
) throws -> (result: T, stderr: String) {
  let file = FileManager.default.temporaryDirectory.appendingPathComponent("featx-stderr-\(UUID().uuidString)").path
  let fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0o600)
  guard fd >= 0 else { throw CaptureError(what: "open \(file)", code: errno) }
  defer {
    close(fd)
    unlink(file)
  }
  fflush(nil)
  let saved = dup(2)
  guard saved >= 0 else { throw CaptureError(what: "dup(2)", code: errno) }
  guard dup2(fd, 2) >= 0 else {
    close(saved)
    throw CaptureError(what: "dup2 onto fd 2", code: errno)
  }
  func restore() -> String {
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    if echo, !text.isEmpty { _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) } }
    return text
  }
  let result: T
  do { result = try body() } catch {
    _ = restore()
    throw error
  }
  return (result, restore())
}

/// A system call of the capture failed.
public struct CaptureError: Error, CustomStringConvertible {
  public var what: String
  public var code: Int32
  public var description: String { "\(what): \(String(cString: strerror(code)))" }
}
