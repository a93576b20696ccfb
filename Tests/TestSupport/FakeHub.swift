// A stand-in for the Hugging Face hub (Tests/Fixtures/timm/fake_hub.py) for the download tests.

import Foundation

/// `python3 Tests/Fixtures/timm/fake_hub.py`: the hub's resolve endpoints with huggingface_hub's headers.
public final class FakeHub: @unchecked Sendable {
  // Sendable: immutable after init; the process is only signalled.
  let process = Process()
  public let port: Int
  let log: String
  public var endpoint: String { "http://127.0.0.1:\(port)" }

  /// True when a `python3` is on the PATH (the stand-in is a standard-library script).
  public static let available: Bool = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    .split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }

  /// Serves `root/ORG/NAME/FILE` at `commit`; `badSHA256` files get a wrong X-Linked-Etag.
  public init(root: String, commit: String, badSHA256: [String] = []) throws {
    log = (root as NSString).deletingLastPathComponent + "/requests.log"
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      ["python3", TestPaths.fixture("timm/fake_hub.py").path, root, commit] + badSHA256.flatMap { ["--bad-sha256", $0] }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    var line = Data()
    while !line.contains(0x0A) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }

  /// The requests served so far, "METHOD PATH" each.
  public var requests: [String] {
    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
  }

  /// SIGKILL: a child spawned from a Dispatch thread inherits its blocked signals, so SIGTERM may be ignored.
  public func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}
