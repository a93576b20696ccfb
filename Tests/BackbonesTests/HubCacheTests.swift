// `--weights hf-hub:ORG/NAME`: the Hugging Face cache found and read as huggingface_hub does, local timm
// folders, and downloads into the cache layout from a stand-in for the hub (Tests/Fixtures/timm/fake_hub.py).

import Backbones
import Foundation
import Support
import Testing
import TestSupport
import Weights

/// The model the tests use, and a commit hash.
private let repoID = "timm/resnet18.a1_in1k"
private let commit = "0123456789abcdef0123456789abcdef01234567"
private let configFixture = TestPaths.fixture("hub/timm--resnet18.a1_in1k/config.json").path

/// A resolver that sees only `cache` and never downloads.
private func offlineResolver(_ dir: TemporaryDirectory, cache: String) -> WeightsResolver {
  WeightsResolver(environment: ["HOME": dir.path("home"), "HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "1"])
}

@Suite struct HubCacheTests {
  @Test func cacheFolderPrecedenceIsHuggingfaceHubs() {
    let home = "/h"
    #expect(HubCache(environment: ["HOME": home]).root == "/h/.cache/huggingface/hub")
    #expect(HubCache(environment: ["HOME": home, "XDG_CACHE_HOME": "/x"]).root == "/x/huggingface/hub")
    #expect(HubCache(environment: ["HOME": home, "XDG_CACHE_HOME": "/x", "HF_HOME": "/hf"]).root == "/hf/hub")
    #expect(HubCache(environment: ["HOME": home, "HF_HOME": "~/hf"]).root == "/h/hf/hub")
    #expect(HubCache(environment: ["HOME": home, "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy"]).root == "/legacy")
    #expect(
      HubCache(environment: ["HOME": home, "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_CACHE": "/c"]).root
        == "/c")
    #expect(HubCache(environment: ["HOME": home, "HF_HUB_CACHE": "~/c"]).root == "/h/c")
    #expect(HubCache(environment: ["HOME": home, "HF_HUB_CACHE": ""]).root == "/h/.cache/huggingface/hub")

    #expect(HubCache(environment: [:]).endpoint == "https://huggingface.co")
    #expect(HubCache(environment: ["HF_ENDPOINT": "http://mirror:8080//"]).endpoint == "http://mirror:8080")
    #expect(HubCache(environment: [:]).offlineReason == nil)
    #expect(HubCache(environment: ["HF_HUB_OFFLINE": "0"]).offlineReason == nil)
    #expect(HubCache(environment: ["HF_HUB_OFFLINE": "yes"]).offlineReason == "HF_HUB_OFFLINE=yes")
    #expect(HubCache(environment: ["TRANSFORMERS_OFFLINE": "1"]).offlineReason == "TRANSFORMERS_OFFLINE=1")
    #expect(HubCache(environment: ["FEATX_OFFLINE": ""]).offlineReason == "FEATX_OFFLINE is set")
  }

  @Test func repositoryNames() throws {
    let plain = try HubRepo(parsing: "hf-hub:timm/resnet18.a1_in1k")
    #expect(plain.id == "timm/resnet18.a1_in1k" && plain.revision == nil && plain.effectiveRevision == "main")
    #expect(plain.folderName == "models--timm--resnet18.a1_in1k")
    #expect(plain.description == "hf-hub:timm/resnet18.a1_in1k")
    #expect(plain.downloadCommand == "huggingface-cli download timm/resnet18.a1_in1k")
    #expect(plain.pinned(to: commit).description == "hf-hub:timm/resnet18.a1_in1k@\(commit)")
    let branch = try HubRepo(parsing: "hf-hub:timm/resnet18.a1_in1k@refs/pr/1")
    #expect(branch.revision == "refs/pr/1")
    #expect(branch.downloadCommand == "huggingface-cli download timm/resnet18.a1_in1k --revision refs/pr/1")
    #expect(try WeightsSource.parse("hf-hub:timm/x", arch: .resnet50) == .timm(.hub(try HubRepo(parsing: "timm/x"))))
    for bad in [
      "hf-hub:resnet18", "hf-hub:a/b/c", "hf-hub:timm/", "hf-hub:/x", "hf-hub:timm/re--net", "hf-hub:timm/a..b",
      "hf-hub:timm/-x", "hf-hub:timm/x.", "hf-hub:timm/x y", "hf-hub:timm/x@", "hf-hub:timm/x@../../etc",
      "hf-hub:timm/x@a//b", "hf-hub:timm/x@a b",
    ] {
      #expect(
        failure { try HubRepo(parsing: bad) }
          == "unknown Hugging Face model '\(bad)'; choose one of: hf-hub:ORG/NAME or hf-hub:ORG/NAME@REVISION "
          + "(letters, digits, '-', '_', '.'; no '--' or '..')", "\(bad)")
    }
  }

  /// The layout huggingface_hub writes, both weight formats: model.safetensors wins, pytorch_model.bin alone
  /// is used; a commit revision needs no refs; a branch is read from refs/<branch>.
  @Test func offlineResolutionFollowsRefsAndPrefersSafetensors() throws {
    let dir = TemporaryDirectory()
    let cache = HubCacheLayout(root: dir.path("hub"))
    let resolver = offlineResolver(dir, cache: cache.root)
    let repo = try HubRepo(parsing: "hf-hub:" + repoID)
    let config = try cache.put("config.json", copyOf: configFixture, repo: repoID, commit: commit)
    let bin = try cache.put("pytorch_model.bin", [1, 2, 3], repo: repoID, commit: commit)
    try cache.setRef(repo: repoID, commit: commit)
    let pinned = repo.pinned(to: commit)
    #expect(try resolver.locate(.hub(repo)) == TimmFiles(config: config, weights: bin, hub: pinned))
    let safe = try cache.put("model.safetensors", [4, 5, 6], repo: repoID, commit: commit)
    #expect(try resolver.locate(.hub(repo)) == TimmFiles(config: config, weights: safe, hub: pinned))
    #expect(try resolver.locate(.hub(repo)).recordedName == "hf-hub:\(repoID)@\(commit)")
    // A commit hash is a snapshot folder: no refs needed.
    try FileManager.default.removeItem(atPath: cache.folder(repoID) + "/refs")
    #expect(try resolver.locate(.hub(pinned)) == TimmFiles(config: config, weights: safe, hub: pinned))
    // A branch or tag: refs/<name> (a trailing newline, which huggingface_hub never writes, is tolerated).
    try cache.setRef("v1.0", repo: repoID, commit: commit + "\n")
    #expect(try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:\(repoID)@v1.0"))).weights == safe)
    // The symlinks are relative, into blobs/ named by the sha256 for LFS files.
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: safe) == "../../blobs/" + (try SHA256.hex([4, 5, 6])))
  }

  /// Each thing missing from the cache has its own line: what is missing, why nothing was downloaded,
  /// which files go into which folder, and the huggingface_hub command that would put them there.
  @Test func missingFilesEachHaveTheirMessage() throws {
    let dir = TemporaryDirectory()
    let cache = HubCacheLayout(root: dir.path("hub"))
    let root = cache.root
    let folder = cache.folder(repoID)
    let resolver = offlineResolver(dir, cache: root)
    let repo = try HubRepo(parsing: "hf-hub:" + repoID)
    func message(
      _ missing: String, _ needs: String, command: String = "huggingface-cli download \(repoID)",
      repo: String = "hf-hub:\(repoID)"
    ) -> String {
      "\(repo) is not in the Hugging Face cache \(root) (\(missing)) and downloads are off (HF_HUB_OFFLINE=1): "
        + "put \(needs) (`HF_HUB_CACHE=\(root) \(command)` does exactly that)"
    }
    let weights = "model.safetensors (or pytorch_model.bin)"
    let everything = "config.json and \(weights) in \(folder)/snapshots/COMMIT/ and the COMMIT hash in \(folder)/refs/main"
    #expect(failure { try resolver.locate(.hub(repo)) } == message("no \(folder)/refs/main", everything))

    try cache.setRef(repo: repoID, commit: "not a commit")
    #expect(failure { try resolver.locate(.hub(repo)) } == message("\(folder)/refs/main holds no commit hash", everything))

    try cache.setRef(repo: repoID, commit: commit)
    let snapshot = "\(folder)/snapshots/\(commit)"
    #expect(
      failure { try resolver.locate(.hub(repo)) }
        == message("\(snapshot)/ has neither config.json nor weights", "config.json and \(weights) in \(snapshot)/"))

    try cache.put("config.json", copyOf: configFixture, repo: repoID, commit: commit)
    #expect(failure { try resolver.locate(.hub(repo)) } == message("\(snapshot)/ has no weights", "\(weights) in \(snapshot)/"))

    try FileManager.default.removeItem(atPath: snapshot + "/config.json")
    try cache.put("pytorch_model.bin", [1], repo: repoID, commit: commit)
    #expect(failure { try resolver.locate(.hub(repo)) } == message("no \(snapshot)/config.json", "config.json in \(snapshot)/"))

    let tagged = try HubRepo(parsing: "hf-hub:\(repoID)@v2")
    #expect(
      failure { try resolver.locate(.hub(tagged)) }
        == message(
          "no \(folder)/refs/v2",
          "config.json and \(weights) in \(folder)/snapshots/COMMIT/ and the COMMIT hash in \(folder)/refs/v2",
          command: "huggingface-cli download \(repoID) --revision v2", repo: "hf-hub:\(repoID)@v2"))

    // Without HF_HUB_OFFLINE but with downloads disabled by the caller, the reason says so; the default
    // cache needs no HF_HUB_CACHE in the command.
    var noDownloads = WeightsResolver(environment: ["HOME": dir.path("home")])
    noDownloads.allowDownload = false
    let defaultRoot = dir.path("home") + "/.cache/huggingface/hub"
    let defaultFolder = defaultRoot + "/models--timm--resnet18.a1_in1k"
    #expect(
      failure { try noDownloads.locate(.hub(repo)) }
        == "hf-hub:\(repoID) is not in the Hugging Face cache \(defaultRoot) (no \(defaultFolder)/refs/main) and downloads are "
        + "off (downloads are disabled): put config.json and \(weights) in \(defaultFolder)/snapshots/COMMIT/ and the COMMIT "
        + "hash in \(defaultFolder)/refs/main (`huggingface-cli download \(repoID)` does exactly that)")
  }

  /// `--weights FOLDER`: config.json beside model.safetensors, pytorch_model.bin, pytorch_model.pth or model.pth.
  @Test func localFolder() throws {
    let dir = TemporaryDirectory()
    let folder = dir.path("my-model")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let resolver = offlineResolver(dir, cache: dir.path("hub"))
    #expect(try WeightsSource.parse(folder, arch: .densenet121) == .timm(.folder(folder)))
    #expect(
      failure { try resolver.locate(.folder(folder)) }
        == "\(folder): a timm model folder needs config.json (as timm's save_pretrained or huggingface_hub writes it)")
    try FileManager.default.copyItem(atPath: configFixture, toPath: folder + "/config.json")
    #expect(
      failure { try resolver.locate(.folder(folder)) }
        == "\(folder): a timm model folder needs a weights file (model.safetensors, pytorch_model.bin, pytorch_model.pth "
        + "or model.pth) beside config.json (as timm's save_pretrained or huggingface_hub writes it)")
    for name in ["model.pth", "pytorch_model.pth", "pytorch_model.bin", "model.safetensors"] {
      try writeFileAtomically(folder + "/" + name, [0])
      let files = try resolver.locate(.folder(folder))
      #expect(files == TimmFiles(config: folder + "/config.json", weights: folder + "/" + name, hub: nil), "\(name)")
      #expect(files.recordedName == name)
    }
  }

  /// A snapshot file whose blob is named by a sha256 is checked against it when loaded.
  @Test func corruptBlobIsRefused() throws {
    let dir = TemporaryDirectory()
    let cache = HubCacheLayout(root: dir.path("hub"))
    try cache.put("config.json", copyOf: configFixture, repo: repoID, commit: commit)
    let tiny = try readFile(TestPaths.fixture("timm/tiny_resnet.timm.bin").path)
    let link = try cache.put("pytorch_model.bin", tiny, repo: repoID, commit: commit)
    try cache.setRef(repo: repoID, commit: commit)
    let resolver = offlineResolver(dir, cache: cache.root)
    let files = try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:" + repoID)))
    #expect(try resolver.loadTimm(files).keys.count == 80)
    let blob = cache.folder(repoID) + "/blobs/" + (try SHA256.hex(tiny))
    var changed = tiny
    changed[changed.count - 100] ^= 1
    try writeFileAtomically(blob, changed)
    #expect(
      failure { try resolver.loadTimm(files) }
        == "\(link): sha256 \(try SHA256.hex(changed)) does not start with \(try SHA256.hex(tiny)) as its name promises: the file "
        + "is corrupt or not the official one. Delete it and download it again.")
  }
}

@Suite(.enabled(if: FakeHub.available, "python3 is not on the PATH (the stand-in hub is a Python script)"))
struct HubDownloadTests {
  /// A served repository: config.json and the given weight files.
  func serve(_ dir: TemporaryDirectory, _ files: [String: [UInt8]], repo: String = repoID) throws -> String {
    let root = dir.path("served")
    let folder = root + "/" + repo
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: configFixture, toPath: folder + "/config.json")
    for (name, bytes) in files { try writeFileAtomically(folder + "/" + name, bytes) }
    return root
  }

  func resolver(_ dir: TemporaryDirectory, _ hub: FakeHub, offline: Bool = false) -> WeightsResolver {
    var environment = ["HOME": dir.path("home"), "HF_HUB_CACHE": dir.path("hub"), "HF_ENDPOINT": hub.endpoint]
    if offline { environment["HF_HUB_OFFLINE"] = "1" }
    return WeightsResolver(environment: environment)
  }

  /// Into huggingface_hub's layout: blobs named by the etag, relative snapshot symlinks, refs/main; the
  /// safetensors file preferred (pytorch_model.bin is not even asked for); the second time from the cache.
  @Test func downloadFillsTheCacheLayout() throws {
    let dir = TemporaryDirectory()
    let safetensors: [UInt8] = Array("safetensors bytes".utf8)
    let hub = try FakeHub(root: try serve(dir, ["model.safetensors": safetensors, "pytorch_model.bin": [9, 9]]), commit: commit)
    defer { hub.stop() }
    let resolver = resolver(dir, hub)
    let files = try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:" + repoID)))
    let layout = HubCacheLayout(root: dir.path("hub"))
    let folder = layout.folder(repoID)
    let snapshot = folder + "/snapshots/" + commit
    #expect(
      files
        == TimmFiles(
          config: snapshot + "/config.json", weights: snapshot + "/model.safetensors",
          hub: try HubRepo(parsing: "hf-hub:\(repoID)@\(commit)")))
    #expect(try readFile(files.weights) == safetensors)
    #expect(try readFile(files.config) == (try readFile(configFixture)))
    let fm = FileManager.default
    #expect(try fm.destinationOfSymbolicLink(atPath: files.weights) == "../../blobs/" + (try SHA256.hex(safetensors)))
    let configBlob = try fm.destinationOfSymbolicLink(atPath: files.config)
    #expect(configBlob.hasPrefix("../../blobs/") && configBlob.count == "../../blobs/".count + 40, "\(configBlob)")
    #expect(try String(contentsOfFile: folder + "/refs/main", encoding: .utf8) == commit)
    let blobs = layout.files().filter { $0.contains("/blobs/") }.map { ($0 as NSString).lastPathComponent }
    #expect(Set(blobs) == [try SHA256.hex(safetensors), String(configBlob.dropFirst("../../blobs/".count))])
    #expect(layout.files().count == 5, "\(layout.files())")  // 2 blobs, 2 links, refs/main
    // The metadata from HEAD (the weights' at the commit config.json's answer named), the bytes by GET;
    // the LFS file from the CDN address the hub redirected to.
    #expect(
      hub.requests == [
        "HEAD /\(repoID)/resolve/main/config.json", "GET /\(repoID)/resolve/main/config.json",
        "HEAD /\(repoID)/resolve/\(commit)/model.safetensors", "GET /lfs/\(try SHA256.hex(safetensors))",
      ])
    #expect(try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:" + repoID))) == files)
    #expect(hub.requests.count == 4, "the cached model was asked for again: \(hub.requests)")
  }

  /// Without model.safetensors on the hub, pytorch_model.bin; a revision that is a commit writes no refs;
  /// a renamed repository's same-origin redirect is followed.
  @Test func binFallbackCommitRevisionAndRenamedRepository() throws {
    let dir = TemporaryDirectory()
    let hub = try FakeHub(root: try serve(dir, ["pytorch_model.bin": [1, 2, 3, 4]]), commit: commit)
    defer { hub.stop() }
    let resolver = resolver(dir, hub)
    let files = try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:\(repoID)@\(commit)")))
    #expect(files.weights.hasSuffix("/snapshots/\(commit)/pytorch_model.bin"))
    #expect(try readFile(files.weights) == [1, 2, 3, 4])
    #expect(!fileExists(HubCacheLayout(root: dir.path("hub")).folder(repoID) + "/refs"))
    #expect(hub.requests.contains("HEAD /\(repoID)/resolve/\(commit)/model.safetensors"))

    let renamed = try resolver.locate(.hub(try HubRepo(parsing: "hf-hub:timm/renamed")))
    #expect(renamed.weights == dir.path("hub") + "/models--timm--renamed/snapshots/\(commit)/pytorch_model.bin")
    #expect(hub.requests.contains("HEAD /timm/renamed/resolve/main/config.json"))
    #expect(hub.requests.contains("HEAD /\(repoID)/resolve/main/config.json"))
  }

  /// A download whose sha256 is not the hub's X-Linked-Etag is refused and leaves no file of it behind
  /// (config.json, fetched and checked first, stays: it is a valid cache entry).
  @Test func wrongSHA256IsRefusedAndNothingIsLeft() throws {
    let dir = TemporaryDirectory()
    let weights: [UInt8] = Array("the weights".utf8)
    let hub = try FakeHub(root: try serve(dir, ["model.safetensors": weights]), commit: commit, badSHA256: ["model.safetensors"])
    defer { hub.stop() }
    let root = dir.path("hub")
    let folder = HubCacheLayout(root: root).folder(repoID)
    let text = failure { try resolver(dir, hub).locate(.hub(try HubRepo(parsing: "hf-hub:" + repoID))) }
    #expect(
      text
        == "hf-hub:\(repoID) is not in the Hugging Face cache \(root) (no \(folder)/refs/main) and cannot download it: the "
        + "download of \(hub.endpoint)/\(repoID)/resolve/\(commit)/model.safetensors has sha256 \(try SHA256.hex(weights)), "
        + "not the hub's \(String(repeating: "0", count: 64)) (X-Linked-Etag); nothing was saved: put config.json and "
        + "model.safetensors (or pytorch_model.bin) in \(folder)/snapshots/COMMIT/ and the COMMIT hash in \(folder)/refs/main "
        + "(`HF_HUB_CACHE=\(root) huggingface-cli download \(repoID)` does exactly that)")
    let left = HubCacheLayout(root: root).files()
    #expect(
      left.count == 2 && left.allSatisfy { $0.hasSuffix("/snapshots/\(commit)/config.json") || $0.contains("/blobs/") }, "\(left)"
    )
    let weightsBlob = try SHA256.hex(weights)
    #expect(!left.contains { $0.contains(weightsBlob) || $0.contains("0000000000") || $0.contains("tmp") }, "\(left)")
  }

  /// Offline: not one request. A repository without config.json holds no timm model.
  @Test func offlineMakesNoRequestAndConfigIsRequired() throws {
    let dir = TemporaryDirectory()
    let hub = try FakeHub(root: try serve(dir, ["model.safetensors": [1]]), commit: commit)
    defer { hub.stop() }
    let offline = failure { try resolver(dir, hub, offline: true).locate(.hub(try HubRepo(parsing: "hf-hub:" + repoID))) }
    #expect(offline.contains(" and downloads are off (HF_HUB_OFFLINE=1): put "), "\(offline)")
    #expect(hub.requests.isEmpty)
    try FileManager.default.createDirectory(atPath: dir.path("served/timm/empty"), withIntermediateDirectories: true)
    let empty = failure { try resolver(dir, hub).locate(.hub(try HubRepo(parsing: "hf-hub:timm/empty"))) }
    #expect(
      empty.contains(
        "and cannot download it: \(hub.endpoint)/timm/empty/resolve/main/config.json does not exist (HTTP 404): the "
          + "repository has no config.json, so it holds no timm model: put "), "\(empty)")
    let missing = failure { try resolver(dir, hub).locate(.hub(try HubRepo(parsing: "hf-hub:timm/nothing-here"))) }
    #expect(
      missing.contains(
        "and cannot download it: \(hub.endpoint)/timm/nothing-here/resolve/main/config.json answered HTTP 404 (Repository "
          + "not found): the hub has no public repository there (private and gated ones need a token, which featx does not "
          + "send): put "), "\(missing)")
  }
}
