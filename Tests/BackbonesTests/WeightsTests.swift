import Backbones
import Foundation
import Support
import Testing
import TestSupport
import Weights

/// Hostile, broken and mismatched weight files each get one clear error naming the file.
@Suite struct BadWeightsTests {
  func message(loading name: String) -> String {
    let path = TestPaths.fixture("backbones/bad/\(name)").path
    do {
      _ = try Checkpoint.load(path: path)
      return "loaded"
    } catch {
      let text = String(describing: error)
      #expect(text.contains(path), "\(name): message does not name the file: \(text)")
      return text
    }
  }

  @Test func refusesCodeInPickles() {
    let system = message(loading: "os_system.pth")
    #expect(system.contains("calls `posix.system`") || system.contains("calls `os.system`"), "\(system)")
    #expect(system.contains("does not run code"))
    #expect(message(loading: "builtins_eval.pth").contains("calls `builtins.eval`"))
  }

  @Test func refusesBrokenFiles() {
    #expect(message(loading: "huge_storage.pth").contains("storage"))
    #expect(message(loading: "truncated.pth").contains("zip"))
    #expect(message(loading: "zero.pth").contains("empty"))
    #expect(message(loading: "not_a_checkpoint.pth").contains("not a PyTorch checkpoint"))
    #expect(message(loading: "deep_nesting.pth").contains("deeper than"))
  }

  @Test func truncatedRealCheckpointsAtManyLengths() throws {
    let bytes = try readFile(TestPaths.fixture("backbones/tiny/densenet121.legacy.pth").path)
    for fraction in [0.0001, 0.01, 0.3, 0.5, 0.9, 0.999] {
      let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
      #expect(throws: WeightsError.self) { try cut.withUnsafeBytes { try Checkpoint.parse($0, path: "cut.pth") } }
    }
  }

  @Test func missingFile() {
    #expect(throws: WeightsError.self) { try Checkpoint.load(path: "/nonexistent/densenet121.pth") }
  }

  @Test func wrongArchitectureIsNamed() throws {
    let resnet34 = RandomWeights.stateDict(config: Architecture.resnet34.config, seed: 1)
    do {
      _ = try Backbone(arch: .resnet50, weights: resnet34)
      Issue.record("resnet34 weights accepted as resnet50")
    } catch let error as BackboneError {
      let text = error.description
      #expect(text.contains("this looks like resnet34 weights, not resnet50"), "\(text)")
      #expect(text.contains("missing tensor"), "\(text)")
    }
    let tiny = try Checkpoint.load(path: TestPaths.fixture("backbones/tiny/resnet50.pth").path)
    #expect(throws: BackboneError.self) { try Backbone(arch: .densenet121, weights: tiny) }
  }

  @Test func shapeMismatchIsListed() throws {
    var dict = RandomWeights.stateDict(config: Architecture.resnet18.config, seed: 0)
    dict.tensors["layer1.0.conv1.weight"]?.shape = [64, 64, 1, 9]
    do {
      _ = try Backbone(arch: .resnet18, weights: dict)
      Issue.record("misshapen weights accepted")
    } catch {
      #expect(String(describing: error).contains("layer1.0.conv1.weight has shape [64, 64, 1, 9], expected [64, 64, 3, 3]"))
    }
  }
}

@Suite struct WeightsResolutionTests {
  @Test func hashPrefixRule() {
    #expect(WeightsSource.hashPrefix(ofFileName: "densenet121-a639ec97.pth") == "a639ec97")
    #expect(WeightsSource.hashPrefix(ofFileName: "/x/y/resnet50-11ad3fa6.pth") == "11ad3fa6")
    #expect(WeightsSource.hashPrefix(ofFileName: "densenet121-random0.pth") == nil)
    #expect(WeightsSource.hashPrefix(ofFileName: "model-face.pth") == nil)
    #expect(WeightsSource.hashPrefix(ofFileName: "resnet18.pth") == nil)
  }

  @Test func parseWeightsValues() throws {
    #expect(try WeightsSource.parse(nil, arch: .densenet121) == .known(KnownWeights.defaultFor(.densenet121)!))
    #expect(try WeightsSource.parse("random", arch: .resnet50) == .random(seed: 0))
    #expect(try WeightsSource.parse("random:42", arch: .resnet50) == .random(seed: 42))
    #expect(try WeightsSource.parse("IMAGENET1K_V2", arch: .resnet50).knownFileName == "resnet50-11ad3fa6.pth")
    #expect(throws: BackboneError.self) { try WeightsSource.parse("random:x", arch: .resnet50) }
    #expect(throws: WeightsError.self) { try WeightsSource.parse("/no/such.pth", arch: .resnet50) }
  }

  /// A file named with the wrong sha256 prefix is refused; with the right one it loads.
  @Test func hashPrefixIsChecked() throws {
    let dir = TemporaryDirectory()
    let bytes = try readFile(TestPaths.fixture("backbones/tiny/densenet121.pth").path)
    let wrong = dir.path("densenet121-deadbeef.pth")
    try writeFileAtomically(wrong, bytes)
    #expect(throws: BackboneError.self) { try WeightsResolver.loadVerified(wrong) }
    let right = dir.path("densenet121-\(try SHA256.hex(bytes).prefix(8)).pth")
    try writeFileAtomically(right, bytes)
    #expect(try WeightsResolver.loadVerified(right).keys.count > 0)
  }

  @Test func searchOrderIsWeightsDirThenHubCache() throws {
    let dir = TemporaryDirectory()
    let bytes = try readFile(TestPaths.fixture("backbones/tiny/resnet50.pth").path)
    let name = "resnet50-\(try SHA256.hex(bytes).prefix(8)).pth"
    let hub = dir.path("torch/hub/checkpoints")
    try FileManager.default.createDirectory(atPath: hub, withIntermediateDirectories: true)
    try writeFileAtomically(hub + "/" + name, bytes)
    var resolver = WeightsResolver(environment: ["HOME": dir.path("home"), "TORCH_HOME": dir.path("torch")])
    resolver.allowDownload = false
    #expect(try resolver.locate(fileName: name, url: "http://127.0.0.1:9/\(name)") == hub + "/" + name)
    try FileManager.default.createDirectory(atPath: dir.path("mine"), withIntermediateDirectories: true)
    try writeFileAtomically(dir.path("mine") + "/" + name, bytes)
    resolver = WeightsResolver(environment: [
      "HOME": dir.path("home"), "TORCH_HOME": dir.path("torch"), "FEATX_WEIGHTS_DIR": dir.path("mine"),
    ])
    #expect(try resolver.locate(fileName: name, url: "http://127.0.0.1:9/\(name)") == dir.path("mine") + "/" + name)
  }

  /// The library resolves a request as `featx extract --weights` does: `auto` without the default file is
  /// seeded random weights with a warning naming where to put the file; an unknown file with no
  /// architecture named is read as the architecture whose keys it holds.
  @Test func resolvesAutoAndUnnamedFilesAsTheCLIDoes() throws {
    let dir = TemporaryDirectory()
    let resolver = WeightsResolver(environment: ["HOME": dir.path("home"), "FEATX_OFFLINE": "1"])
    let auto = try resolver.resolve("auto", arch: "resnet18")
    #expect(auto.architecture == .resnet18)
    #expect(auto.name == "random:0")
    #expect(auto.known == nil)
    let warning = try #require(auto.randomWarning)
    #expect(warning.contains("SEEDED RANDOM WEIGHTS (random:0) for resnet18"), "\(warning)")
    #expect(warning.contains("Put resnet18-f37072fd.pth in \(resolver.hubDirectory)"), "\(warning)")

    let file = dir.path("mystery.safetensors")
    try writeSafetensors(RandomWeights.stateDict(config: Architecture.resnet50.config, seed: 3), to: file)
    let unnamed = try resolver.resolve(file, arch: nil)
    #expect(unnamed.architecture == .resnet50)
    #expect(unnamed.name == "mystery.safetensors")
    #expect(unnamed.randomWarning == nil)
    #expect(unnamed.stateDict.sha256 == (try SHA256.hex(try readFile(file))))
  }

  /// Downloads from a local HTTP server into the hub cache with the sha256 check; a corrupt download
  /// leaves nothing behind; no server gives a message saying where to put the file.
  @Test func downloadFromLocalServer() throws {
    let dir = TemporaryDirectory()
    let served = dir.path("served")
    try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
    let bytes = try readFile(TestPaths.fixture("backbones/tiny/resnet50.pth").path)
    let name = "resnet50-\(try SHA256.hex(bytes).prefix(8)).pth"
    try writeFileAtomically(served + "/" + name, bytes)
    try writeFileAtomically(served + "/resnet50-00000000.pth", bytes)
    let server = try LocalHTTPServer(root: served)
    defer { server.stop() }

    let resolver = WeightsResolver(environment: ["HOME": dir.path("home"), "TORCH_HOME": dir.path("torch")])
    let path = try resolver.locate(fileName: name, url: "\(server.url)/\(name)")
    #expect(path == dir.path("torch/hub/checkpoints") + "/" + name)
    #expect(try readFile(path) == bytes)

    do {
      _ = try resolver.locate(fileName: "resnet50-00000000.pth", url: "\(server.url)/resnet50-00000000.pth")
      Issue.record("a download with the wrong hash was accepted")
    } catch {
      #expect(String(describing: error).contains("does not start with 00000000"))
    }
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path("torch/hub/checkpoints"))
    #expect(left == [name], "leftovers: \(left)")

    do {
      _ = try resolver.locate(fileName: "densenet121-a639ec97.pth", url: "http://127.0.0.1:9/densenet121-a639ec97.pth")
      Issue.record("a download from a closed port succeeded")
    } catch {
      let text = String(describing: error)
      #expect(text.contains("put it at \(dir.path("torch/hub/checkpoints") + "/densenet121-a639ec97.pth")"), "\(text)")
      guard case BackboneError.weightsUnavailable = error else { Issue.record("not weightsUnavailable: \(error)"); return }
    }
  }
}

extension WeightsSource {
  var knownFileName: String? { if case .known(let k) = self { k.fileName } else { nil } }
}

/// `python3 -m http.server` on a free port, serving `root`.
final class LocalHTTPServer {
  let process = Process()
  let port: Int
  var url: String { "http://127.0.0.1:\(port)" }

  init(root: String) throws {
    port = 20_000 + Int(getpid() % 20_000)
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", root]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Wait until it accepts connections.
    for _ in 0..<100 {
      if (try? Data(contentsOf: URL(string: url)!)) != nil { return }
      usleep(50_000)
    }
  }

  /// SIGKILL: a child spawned from a Dispatch thread inherits its blocked signals, so SIGTERM may be ignored.
  func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}
