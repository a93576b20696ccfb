import FeatureStore
import Foundation
import Testing
import TestSupport

/// featx's job array on a real Slurm cluster, with no mocks: scripts/slurm-cluster starts a one-node
/// cluster (munged, slurmctld, slurmd) on this machine, four array tasks run the README's
/// scripts/slurm-extract.sbatch, one of them is requeued in mid-run as a preemption does, and the
/// merged shards must equal one process's store in every dataset and attribute but `created`.
///
/// Where the cluster cannot run (no slurm-wlm or munge, not root) the suite is skipped with the reason,
/// except in CI (`FEATX_CI=1`, set by .ci/run), where it fails saying so: it never passes silently there.
@Suite(
  .enabled(
    if: SlurmCluster.unavailable == nil || SlurmCluster.required, Comment(rawValue: SlurmCluster.unavailable ?? "")))
struct SlurmTests {
  /// resnet18 at 160 px, one image per batch: 20 images per task are a few seconds of work (run in
  /// groups of 8), long enough to be requeued between batches; without --quiet featx logs each batch.
  static let extractOptions = [
    "--arch", "resnet18", "--weights", "random:0", "--resize", "160,160", "--crop", "none", "--batch", "1",
  ]

  @Test func jobArrayWithAPreemptedTaskMergesIntoTheSingleRunStore() throws {
    try #require(SlurmCluster.unavailable == nil, "required in CI: \(SlurmCluster.unavailable ?? "")")
    let dir = TemporaryDirectory()
    let root = try linkedDataset(dir, classes: 8, perClass: 10)
    let cluster = try SlurmCluster(folder: dir.path("slurm"))
    defer { cluster.stop() }

    let prefix = dir.path("birds")
    let submitted = try cluster.run(
      "sbatch",
      ["--parsable", "--array=0-3", "--output=\(dir.path("task-%a.log"))", SlurmCluster.jobScript, root, prefix]
        + Self.extractOptions)
    try #require(submitted.status == 0, "\(submitted.stderr)")
    let job = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

    // Preemption: once task 1 has logged a batch, requeue it (Slurm sends SIGTERM, featx stops after
    // the batch and exits), then let it start again at once instead of Slurm's two-minute requeue delay.
    let log1 = dir.path("task-1.log")
    try SlurmCluster.waitUntil("task 1 logs its first batch", seconds: 300) {
      (try? String(contentsOfFile: log1, encoding: .utf8))?.contains(" images (") == true
    }
    let requeued = try cluster.run("scontrol", ["requeue", "\(job)_1"])
    try #require(requeued.status == 0, "\(requeued.stderr)")
    try SlurmCluster.waitUntil("task 1 is pending again", seconds: 120) {
      try cluster.run("squeue", ["-h", "-j", "\(job)_1", "-o", "%T"]).stdout.contains("PENDING")
    }
    let released = try cluster.run("scontrol", ["update", "JobId=\(job)_1", "StartTime=now"])
    try #require(released.status == 0, "\(released.stderr)")
    try SlurmCluster.waitUntil("the array finishes", seconds: 600) {
      try cluster.run("squeue", ["-h", "-j", job]).stdout.isEmpty
    }

    let tasks = try cluster.run("scontrol", ["-o", "show", "job", job]).stdout.split(separator: "\n")
    #expect(tasks.count == 4, "\(tasks)")
    for task in tasks {
      #expect(task.contains("JobState=COMPLETED") && task.contains("ExitCode=0:0"), "\(task)")
      #expect(task.contains(task.contains("ArrayTaskId=1 ") ? "Restarts=1" : "Restarts=0"), "\(task)")
    }
    let log = try String(contentsOfFile: log1, encoding: .utf8)
    let stopped = try #require(log.firstMatch(of: #/interrupted: (.+) holds (\d+) of 20 rows/#), "\(log)")
    #expect(stopped.1 == "\(prefix).1.h5")
    let kept = try #require(Int(stopped.2))
    #expect(kept > 0 && kept < 20, "\(log)")
    #expect(log.contains("resumed after row \(kept)"), "\(log)")

    let single = try runFeatx(["extract", root, "-o", dir.path("single.h5")] + Self.extractOptions)
    #expect(single.status == 0, "\(single.stderr)")
    let merged = try runFeatx(["merge"] + (0..<4).map { "\(prefix).\($0).h5" } + ["-o", dir.path("merged.h5")])
    #expect(merged.status == 0, "\(merged.stderr)")
    let (ours, theirs) = (try storeDump(dir.path("merged.h5")), try storeDump(dir.path("single.h5")))
    let difference = zip(ours, theirs).first { $0 != $1 }
    #expect(ours.count == theirs.count && difference == nil, "first difference: \(String(describing: difference))")
  }

  /// The README shows the job script verbatim, so what users copy is what this test runs.
  @Test func theReadmeShowsTheJobScriptTheTestRuns() throws {
    let readme = try String(contentsOf: TestPaths.repository.appendingPathComponent("README.md"), encoding: .utf8)
    let script = try String(contentsOfFile: SlurmCluster.jobScript, encoding: .utf8)
    #expect(readme.contains("```sh\n" + script + "```"), "README.md must show scripts/slurm-extract.sbatch verbatim")
  }
}

/// Every dataset and attribute of a store as `h5dump` prints them, line by line, with the values that may
/// differ between equal stores blanked: the file name and the `created` time (docs/FORMAT.md).
func storeDump(_ path: String) throws -> [String] {
  let dump = try runCommand("/usr/bin/h5dump", [path])
  guard dump.status == 0 else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path]) }
  var lines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  lines.removeFirst()  // HDF5 "path" {
  var inCreated = false
  for i in lines.indices {
    if lines[i].hasSuffix("ATTRIBUTE \"created\" {") { inCreated = true }
    if inCreated, lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("(0): ") {
      lines[i] = "(created)"
      inCreated = false
    }
  }
  return lines
}

/// A private one-node cluster from scripts/slurm-cluster, stopped by `stop()`.
final class SlurmCluster: Sendable {
  static let script = TestPaths.repository.appendingPathComponent("scripts/slurm-cluster").path
  static let jobScript = TestPaths.repository.appendingPathComponent("scripts/slurm-extract.sbatch").path

  /// CI sets `FEATX_CI=1`: there the cluster must run.
  static let required = ProcessInfo.processInfo.environment["FEATX_CI"] == "1"

  /// Why the cluster cannot run here, or nil.
  static let unavailable: String? = {
    let tools = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/h5dump"]
    if let missing = tools.first(where: { !FileManager.default.isExecutableFile(atPath: $0) }) {
      return "\(missing) is not installed (scripts/install-deps installs slurm-wlm, munge and hdf5-tools)"
    }
    if getuid() != 0 { return "slurmd must run as root to start jobs; run the tests as root for the Slurm test" }
    return nil
  }()

  let folder: String
  let environment: [String: String]

  init(folder: String) throws {
    self.folder = folder
    let started = try runCommand(Self.script, ["start", folder])
    guard started.status == 0, let conf = started.stdout.firstMatch(of: #/export SLURM_CONF=(\S+)/#) else {
      _ = try? runCommand(Self.script, ["stop", folder])
      throw SlurmError("scripts/slurm-cluster start failed: \(started.stderr)")
    }
    // The tasks find featx on the PATH that sbatch passes on.
    let bin = TestPaths.featxBinary.deletingLastPathComponent().path
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    environment = ["SLURM_CONF": String(conf.1), "PATH": "\(bin):\(path)"]
  }

  func run(_ tool: String, _ arguments: [String]) throws -> CommandResult {
    try runCommand("/usr/bin/" + tool, arguments, environment: environment)
  }

  func stop() { _ = try? runCommand(Self.script, ["stop", folder]) }

  /// Polls `condition` every 100 ms; throws naming `what` after `seconds`.
  static func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try !condition() {
      guard Date() < deadline else { throw SlurmError("timed out after \(Int(seconds)) s waiting until \(what)") }
      usleep(100_000)
    }
  }
}

struct SlurmError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
