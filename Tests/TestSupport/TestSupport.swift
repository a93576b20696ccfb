// Helpers shared by the test targets: fixture and dataset locations, temporary directories,
// running the featx binary, and numeric comparison with readable failure text.

import Foundation

/// Where the repository, its fixtures and the shared datasets are.
public enum TestPaths {
  /// The repository root (the folder holding Package.swift).
  public static let repository: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
      url.deleteLastPathComponent()
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("TestPaths: Package.swift not found above \(#filePath)")
  }()

  /// `Tests/Fixtures`.
  public static var fixtures: URL { repository.appendingPathComponent("Tests/Fixtures") }

  /// A file under `Tests/Fixtures`.
  public static func fixture(_ relative: String) -> URL { fixtures.appendingPathComponent(relative) }

  /// The shared, read-only datasets (`$FEATX_DATASETS`, else `../shared/datasets` beside the repository).
  public static var datasets: URL {
    if let env = ProcessInfo.processInfo.environment["FEATX_DATASETS"] { return URL(fileURLWithPath: env) }
    return repository.deletingLastPathComponent().appendingPathComponent("shared/datasets")
  }

  /// Full-size generated weights (`scripts/make-test-weights` writes them; ignored by git).
  public static var generatedWeights: URL {
    if let env = ProcessInfo.processInfo.environment["FEATX_TEST_WEIGHTS"] { return URL(fileURLWithPath: env) }
    return repository.appendingPathComponent(".cache/test-weights")
  }

  /// The `featx` executable built beside the test bundle.
  public static var featxBinary: URL {
    var dir = Bundle.main.bundleURL
    if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
    for candidate in [dir, dir.deletingLastPathComponent()] {
      let url = candidate.appendingPathComponent("featx")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return repository.appendingPathComponent(".build/debug/featx")
  }
}

/// A temporary directory removed when the value is deinitialised.
public final class TemporaryDirectory: @unchecked Sendable {
  // Sendable: `url` is immutable; the directory is only removed in deinit.
  public let url: URL

  public init(_ label: String = "featx-test") {
    let base = FileManager.default.temporaryDirectory
    url = base.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit {
    _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    try? FileManager.default.removeItem(at: url)
  }

  /// A path inside the directory.
  public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Result of running a command.
public struct CommandResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

/// Runs `featx` with `arguments` and captures its output.
public func runFeatx(_ arguments: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> CommandResult {
  try runCommand(TestPaths.featxBinary.path, arguments, environment: environment, cwd: cwd)
}

/// Runs an executable with `arguments` and captures its output.
public func runCommand(
  _ executable: String, _ arguments: [String], environment: [String: String] = [:], cwd: URL? = nil
) throws -> CommandResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  for (k, v) in environment { env[k] = v }
  process.environment = env
  if let cwd { process.currentDirectoryURL = cwd }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  // Read both pipes concurrently so a chatty child cannot block on a full pipe.
  nonisolated(unsafe) var errData = Data()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  group.wait()
  process.waitUntilExit()
  return CommandResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self))
}

/// Compares two float arrays; returns nil if every |a-b| <= atol + rtol*|b|, else a description of the
/// first mismatches and the largest difference.
public func closeness(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6) -> String? {
  guard actual.count == expected.count else { return "count \(actual.count) != expected \(expected.count)" }
  var mismatches: [String] = []
  var maxDiff: Float = 0
  var bad = 0
  for i in actual.indices {
    let d = abs(actual[i] - expected[i])
    if !(d <= atol + rtol * abs(expected[i])) {
      bad += 1
      if mismatches.count < 5 { mismatches.append("[\(i)] \(actual[i]) vs \(expected[i])") }
    }
    if d > maxDiff || d.isNaN { maxDiff = d }
  }
  return bad == 0 ? nil : "\(bad) of \(actual.count) differ (max |Δ| \(maxDiff)): " + mismatches.joined(separator: ", ")
}

/// Cosine similarity of two vectors, in double precision.
public func cosine(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count)
  var dot = 0.0
  var na = 0.0
  var nb = 0.0
  for i in a.indices {
    dot += Double(a[i]) * Double(b[i])
    na += Double(a[i]) * Double(a[i])
    nb += Double(b[i]) * Double(b[i])
  }
  return dot / max(1e-300, (na * nb).squareRoot())
}

/// The error `body` throws, as text ("" if it throws none).
public func failure(_ body: () throws -> Any) -> String {
  do {
    _ = try body()
    return ""
  } catch {
    return "\(error)"
  }
}

/// How a featx run that was sent a signal ended.
public struct SignalledRun: Sendable {
  /// Its standard error, all of it.
  public var stderr: String
  /// Whether `marker` appeared, so the signal was sent.
  public var signalled: Bool
  /// The exit status, or nil when a signal ended the process.
  public var exitStatus: Int32?
}

/// Runs featx with `arguments` (stdout discarded) and sends it `signal` once its standard error contains
/// `marker`. A featx that hangs fails the test instead of hanging it: SIGKILL after 5 minutes.
public func runFeatx(_ arguments: [String], signal: Int32, whenStderrContains marker: String) throws -> SignalledRun {
  let process = Process()
  process.executableURL = TestPaths.featxBinary
  process.arguments = arguments
  let err = Pipe()
  process.standardError = err
  process.standardOutput = FileHandle.nullDevice
  try process.run()
  let pid = process.processIdentifier
  let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
  DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
  defer { watchdog.cancel() }
  var data = Data()
  var signalled = false
  while true {
    let chunk = err.fileHandleForReading.availableData
    if chunk.isEmpty { break }
    data += chunk
    if !signalled, String(decoding: data, as: UTF8.self).contains(marker) {
      kill(pid, signal)
      signalled = true
    }
  }
  process.waitUntilExit()
  return SignalledRun(
    stderr: String(decoding: data, as: UTF8.self), signalled: signalled,
    exitStatus: process.terminationReason == .exit ? process.terminationStatus : nil)
}
