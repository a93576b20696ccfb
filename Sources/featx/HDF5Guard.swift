import ArgumentParser
import FeatureStore
import Foundation
import Glibc
import Probe

/// libhdf5 (Debian's 1.10) is not hardened against damaged or crafted files: the fuzzers found reads of
/// variable-length strings and attribute lookups that crash or hang inside it (fuzz/README.md). Before featx
/// opens a feature store or head that it did not just write, a child process (`featx check-hdf5`) reads what
/// featx will read: attributes, strings, labels and a few rows. If the child dies from a signal or does not
/// finish, featx refuses the file with a message instead of crashing; otherwise the caller opens it as usual
/// (and reports any ordinary error itself). It costs a fork (~5 ms) per file, or a process start (~60 ms)
/// when featx already runs more than one thread.
///
/// libhdf5 does not behave the same on every run over some damaged files: one fuzzer input read fine in
/// the child and then looped forever in the parent. So `read(_:as:_:)` also bounds the parent's own
/// reading: if it has not finished by a deadline (the guard's timeout plus one second per 50 MB of file),
/// featx prints the same refusal and exits with status 1, leaving no output behind (nothing is written
/// while reading).
package enum HDF5Guard {
  package enum Kind: String, ExpressibleByArgument { case store, head }

  /// Seconds the child may take (`FEATX_HDF5_GUARD_TIMEOUT` overrides): the metadata of a million-row store
  /// reads in a few seconds.
  static var timeoutSeconds: Double {
    ProcessInfo.processInfo.environment["FEATX_HDF5_GUARD_TIMEOUT"].flatMap(Double.init) ?? 60
  }

  struct Refused: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String {
      "\(path): \(reason). The file is damaged or was crafted, and featx will not read it. Re-create it "
        + "(featx extract / featx probe) or get an intact copy."
    }
  }

  /// `FEATX_HDF5_GUARD`: unset or `1` checks in a child and bounds the parent's read; `exec` does too, with
  /// the child always started anew; `0` does neither; `deadline` only bounds the parent's read (to test that
  /// bound on a file the child would refuse).
  static var mode: String { ProcessInfo.processInfo.environment["FEATX_HDF5_GUARD"] ?? "1" }

  /// Checks `path` in a child process (`check`), then runs `body`, which reads it, under a deadline.
  static func read<R>(_ path: String, as kind: Kind, _ body: () throws -> R) throws -> R {
    if mode != "deadline" { try check(path, as: kind) }
    guard mode != "0" else { return try body() }
    var info = stat()
    let bytes = stat(path, &info) == 0 ? Double(info.st_size) : 0
    let seconds = timeoutSeconds + bytes / 50e6
    let refusal = Refused(path: path, reason: "libhdf5 did not finish reading it in \(Int(seconds.rounded())) s")
    let timer = DispatchSource.makeTimerSource(queue: .global())
    timer.schedule(deadline: .now() + seconds)
    timer.setEventHandler {
      // The reading thread is stuck inside libhdf5 and cannot be unwound: report and leave.
      FileHandle.standardError.write(Data(("Error: \(refusal.description)\n").utf8))
      _exit(1)
    }
    timer.resume()
    defer { timer.cancel() }
    return try body()
  }

  /// The guard could not run its child (no process could be started, or it could not be waited for):
  /// refused rather than read unguarded without a word.
  struct Unavailable: Error, CustomStringConvertible {
    let path: String
    let call: String
    let errorNumber: Int32
    var description: String {
      "\(path): featx could not check it in a child process first (\(call): \(String(cString: strerror(errorNumber)))). "
        + "Free processes or memory and retry, or set FEATX_HDF5_GUARD=0 to read it without the guard."
    }
  }

  /// Reads `path` in a child process (`executable check-hdf5`) first; throws `Refused` if libhdf5 crashes
  /// or hangs on it, `Unavailable` if the child cannot be started or waited for.
  /// `FEATX_HDF5_GUARD=0` skips the check.
  package static func check(_ path: String, as kind: Kind, executable: String = "/proc/self/exe") throws {
    try check([path], as: kind, executable: executable)
  }

  /// Files one child reads in turn: a merge of a thousand shards starts 16 children, not a thousand
  /// (about 0.1 s each), and a group still reads in well under the timeout.
  static let filesPerChild = 64

  /// `check` for many files, `filesPerChild` per child process. When a child crashes or hangs, its files
  /// are checked one by one, so the refusal names the file.
  package static func check(_ paths: [String], as kind: Kind, executable: String = "/proc/self/exe") throws {
    let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
    guard mode != "0", !existing.isEmpty else { return }
    for start in stride(from: 0, to: existing.count, by: filesPerChild) {
      let group = Array(existing[start..<min(existing.count, start + filesPerChild)])
      do {
        try checkInOneChild(group, as: kind, executable: executable)
      } catch is Refused where group.count > 1 {
        for path in group { try checkInOneChild([path], as: kind, executable: executable) }
      }
    }
  }

  /// How the child is made. A process with one thread forks, and the child reads the files at once (about
  /// 5 ms, against 60 ms for a new process that loads featx's libraries again). With more threads, another
  /// may hold a lock the child would need, so featx starts itself anew (`executable check-hdf5`), as it
  /// always does with `FEATX_HDF5_GUARD=exec`.
  static var forks: Bool { mode != "exec" && threadCount() == 1 }

  /// Threads of this process (the entries of /proc/self/task); 0 if that cannot be read.
  static func threadCount() -> Int {
    guard let dir = opendir("/proc/self/task") else { return 0 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name != "." && name != ".." { count += 1 }
    }
    return count
  }

  private static func checkInOneChild(_ paths: [String], as kind: Kind, executable: String) throws {
    let path = paths.count == 1 ? paths[0] : "\(paths[0]) (one of \(paths.count) files)"
    // The child holds the pipe's write end until it exits; the parent sees the pipe close at once,
    // instead of polling waitpid.
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw Unavailable(path: path, call: "pipe", errorNumber: errno) }
    let (readEnd, writeEnd) = (ends[0], ends[1])
    _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
    defer { close(readEnd) }
    let pid: pid_t
    do {
      defer { close(writeEnd) }
      pid =
        try forks
        ? forkChild(paths, as: kind, path: path)
        : spawnChild(paths, as: kind, executable: executable, path: path, writeEnd: writeEnd)
    }

    let timeout = timeoutSeconds
    let deadline = Date().addingTimeInterval(timeout)
    var pending = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
    while true {
      let left = deadline.timeIntervalSinceNow
      if left <= 0 {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        throw Refused(path: path, reason: "libhdf5 did not finish reading it in \(Int(timeout)) s")
      }
      let ready = poll(&pending, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
      if ready > 0 { break }
      if ready < 0 && errno != EINTR { throw Unavailable(path: path, call: "poll", errorNumber: errno) }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { throw Unavailable(path: path, call: "waitpid", errorNumber: errno) }
    }
    // WIFSIGNALED / WTERMSIG are macros Swift cannot see.
    let signal = status & 0x7f
    if signal != 0 && signal != 0x7f {
      let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
      throw Refused(path: path, reason: "libhdf5 crashed reading it (\(name))")
    }
  }

  /// A forked child that reads `paths` and leaves with `_exit`, so it flushes nothing of the parent's.
  private static func forkChild(_ paths: [String], as kind: Kind, path: String) throws -> pid_t {
    let pid = fork()
    guard pid >= 0 else { throw Unavailable(path: path, call: "fork", errorNumber: errno) }
    if pid == 0 {
      let null = open("/dev/null", O_WRONLY)
      if null >= 0 {
        dup2(null, 1)
        dup2(null, 2)
      }
      _exit(CheckHDF5.readEvery(paths, as: kind) ? 0 : 1)
    }
    return pid
  }

  /// `executable check-hdf5 --kind KIND PATHS…`, its output discarded, holding `writeEnd` (without
  /// close-on-exec) until it exits.
  private static func spawnChild(
    _ paths: [String], as kind: Kind, executable: String, path: String, writeEnd: Int32
  ) throws -> pid_t {
    let arguments = ["featx", "check-hdf5", "--kind", kind.rawValue] + paths
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    // The copy dup2 makes under another number has close-on-exec clear, so the write end survives the exec.
    let inherited: Int32 = max(writeEnd, 2) + 1
    posix_spawn_file_actions_adddup2(&actions, writeEnd, inherited)
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else { throw Unavailable(path: path, call: "posix_spawn \(executable)", errorNumber: spawned) }
    return pid
  }
}

/// `featx check-hdf5`: the child of `HDF5Guard`. Reads a store or head the way featx does; its exit
/// status only matters when it is a crash.
struct CheckHDF5: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-hdf5", abstract: "Read a feature store or head as featx would (used internally).",
    shouldDisplay: false)

  @Option(help: "store or head.")
  var kind: HDF5Guard.Kind

  @Argument(help: "The HDF5 files.")
  var files: [String]

  func run() throws {
    if !Self.readEvery(files, as: kind) { throw ExitCode.failure }
  }

  /// Reads every file, whatever an earlier one threw (only a crash or a hang tells the parent anything);
  /// false if any threw.
  static func readEvery(_ files: [String], as kind: HDF5Guard.Kind) -> Bool {
    var failed = false
    for file in files {
      do {
        switch kind {
        case .head:
          _ = try Head.read(path: file)
        case .store:
          if let error = try FeatureStore(path: file).readEverySection() { throw error }
        }
      } catch {
        failed = true
      }
    }
    return !failed
  }
}
