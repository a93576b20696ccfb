import CHDF5
import Glibc

/// An open HDF5 file. Closed when the last reference goes away.
///
/// The corresponding C functions are `H5Fcreate`, `H5Fopen` and `H5Fclose`.
public final class H5File {
  /// How to open a file.
  public enum Mode: Sendable {
    /// Create the file, replacing any existing one.
    case truncate
    /// Create the file; fail if it exists.
    case createExclusive
    /// Open an existing file for reading.
    case readOnly
    /// Open an existing file for reading and writing.
    case readWrite
  }

  /// The path the file was opened with; used in every error message.
  public let path: String
  let id: hid_t

  /// Opens or creates `path`.
  ///
  /// - Throws: `HDF5Error` naming the file and HDF5's reason.
  public init(path: String, mode: Mode) throws {
    self.path = path
    id = try H5File.open(path, mode)
  }

  private static func open(_ path: String, _ mode: Mode) throws -> hid_t {
    var stack = ""
    let deadline = monotonicSeconds() + lockWaitSeconds
    while true {
      let id = tryOpen(path, mode)
      if id >= 0 {
        closeOnExec(id)
        return id
      }
      stack = takeErrorStack()
      guard stack.contains("unable to lock"), monotonicSeconds() < deadline else { break }
      usleep(lockRetryMicroseconds)
    }
    let verb = mode == .truncate || mode == .createExclusive ? "create" : "open"
    let (failure, detail) = classifyOpenFailure(path, mode, stack)
    throw HDF5Error(operation: "\(verb) HDF5 file \(path)", detail: detail, openFailure: failure)
  }

  /// A lock conflict is retried for up to one second of wall time before it is reported. Any process
  /// that forks while a file is open holds the file's lock until its child calls `exec`, even with
  /// close-on-exec: a test runner or server starting subprocesses on other threads makes such short
  /// conflicts, and on a loaded machine the window can stretch well past a few milliseconds. The
  /// budget is time, not a count of attempts, so a slow machine does not shorten it.
  private static let lockWaitSeconds = 1.0
  private static let lockRetryMicroseconds: useconds_t = 10_000

  private static func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
  }

  private static func tryOpen(_ path: String, _ mode: Mode) -> hid_t {
    quietHDF5()
    switch mode {
    case .truncate, .createExclusive:
      let flags = mode == .truncate ? featx_h5f_acc_trunc() : featx_h5f_acc_excl()
      return H5Fcreate(path, flags, h5pDefault, h5pDefault)
    case .readOnly, .readWrite:
      let flags = mode == .readOnly ? featx_h5f_acc_rdonly() : featx_h5f_acc_rdwr()
      return H5Fopen(path, flags, h5pDefault)
    }
  }

  /// Marks the file's descriptor close-on-exec. HDF5 opens it without `O_CLOEXEC`, and its `flock` lock
  /// belongs to the open file description: a child process started while the file is open (any
  /// `posix_spawn` or `Process` of the same program, on any thread) would inherit the descriptor and keep
  /// the lock after this process closes the file, so the next open here fails with "unable to lock".
  private static func closeOnExec(_ file: hid_t) {
    var handle: UnsafeMutableRawPointer?
    guard H5Fget_vfd_handle(file, h5pDefault, &handle) >= 0, let handle else {
      _ = takeErrorStack()
      return
    }
    let fd = handle.load(as: Int32.self)
    let flags = fcntl(fd, F_GETFD)
    if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
  }

  /// Why `H5Fopen`/`H5Fcreate` failed, told apart so that only a file another process really holds is
  /// reported as such: a lock error is believed only if taking the same lock ourselves fails too.
  private static func classifyOpenFailure(_ path: String, _ mode: Mode, _ stack: String) -> (HDF5Error.OpenFailure, String) {
    if let start = stack.firstRange(of: "truncated file: eof = ") {
      let numbers = stack[start.upperBound...].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
      let (bytes, expected) = (numbers.first ?? 0, numbers.count >= 3 ? numbers[2] : 0)
      return (
        .truncated,
        "the file is truncated: it has \(bytes) bytes but its header says \(expected) (an interrupted copy or download, or a full disk); copy it again or re-create it"
      )
    }
    if stack.contains("unable to lock") {
      if heldByAnotherProcess(path, exclusive: mode != .readOnly) {
        return (.locked, "it is open in another process (is another featx still writing it?); wait for it or stop it")
      }
      return (
        .lockingUnsupported,
        "HDF5 could not lock it (\(stack)); on a file system without locks (some network mounts) set HDF5_USE_FILE_LOCKING=FALSE"
      )
    }
    return (.other, stack)
  }

  /// True if another process holds a lock on `path` that conflicts with the one HDF5 takes (shared for
  /// reading, exclusive for writing). HDF5 1.10 locks with `flock`.
  private static func heldByAnotherProcess(_ path: String, exclusive: Bool) -> Bool {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return errno == EWOULDBLOCK
  }

  deinit { H5Fclose(id) }

  /// True if `path` starts with the HDF5 signature (any file HDF5 could open).
  ///
  /// The corresponding C function is `H5Fis_hdf5`.
  public static func isHDF5(path: String) -> Bool {
    quietHDF5()
    let result = H5Fis_hdf5(path)
    _ = takeErrorStack()
    return result > 0
  }

  /// The root group `/`.
  public func root() throws -> H5Group {
    try H5Group(file: self, id: try h5id(H5Gopen2(id, "/", h5pDefault), "open the root group of \(path)"), name: "/")
  }

  /// Writes everything HDF5 has buffered for this file to the operating system.
  ///
  /// The corresponding C function is `H5Fflush`.
  public func flush() throws {
    try h5check(H5Fflush(id, H5F_SCOPE_LOCAL), "flush \(path)")
  }
}

/// A group: a container of datasets and groups, with attributes.
///
/// The corresponding C functions are `H5Gopen2`, `H5Gcreate2` and `H5Gclose`.
public final class H5Group {
  /// The file the group belongs to (kept alive by the group).
  public let file: H5File
  /// The group's path inside the file.
  public let name: String
  let id: hid_t

  init(file: H5File, id: hid_t, name: String) throws {
    self.file = file
    self.id = id
    self.name = name
  }

  deinit { H5Gclose(id) }

  /// The group's attributes.
  public var attributes: H5Attributes { H5Attributes(objectID: id, owner: self, where: "\(name) in \(file.path)") }

  private func childPath(_ child: String) -> String { name == "/" ? "/\(child)" : "\(name)/\(child)" }

  /// True if a link called `name` exists in this group.
  public func contains(_ child: String) throws -> Bool {
    try h5bool(H5Lexists(id, child, h5pDefault), "look up '\(childPath(child))' in \(file.path)")
  }

  /// Opens the group `child`.
  public func group(_ child: String) throws -> H5Group {
    let gid = try h5id(H5Gopen2(id, child, h5pDefault), "open group '\(childPath(child))' in \(file.path)")
    return try H5Group(file: file, id: gid, name: childPath(child))
  }

  /// Creates the group `child`.
  public func createGroup(_ child: String) throws -> H5Group {
    let gid = try h5id(
      H5Gcreate2(id, child, h5pDefault, h5pDefault, h5pDefault), "create group '\(childPath(child))' in \(file.path)")
    return try H5Group(file: file, id: gid, name: childPath(child))
  }

  /// Opens the dataset `child`.
  public func dataset(_ child: String) throws -> H5Dataset {
    let did = try h5id(H5Dopen2(id, child, h5pDefault), "open dataset '\(childPath(child))' in \(file.path)")
    return try H5Dataset(file: file, id: did, name: childPath(child))
  }

  /// Creates a dataset.
  ///
  /// - Parameters:
  ///   - child: name inside this group.
  ///   - type: element type stored in the file.
  ///   - shape: initial dimensions.
  ///   - options: chunking, growth, compression and allocation.
  public func createDataset(
    _ child: String, type: H5ElementType, shape: [Int], options: H5DatasetOptions = H5DatasetOptions()
  ) throws -> H5Dataset {
    let what = "create dataset '\(childPath(child))' in \(file.path)"
    var maxDims: [Int?] = shape.map { Optional($0) }
    if options.growable, !shape.isEmpty { maxDims[0] = nil }
    let space = try H5Dataspace(dims: shape, maxDims: maxDims)
    let fileType = try H5Datatype.file(type)
    let dcpl = try H5PropertyList(class: featx_h5p_dataset_create(), what)
    if let chunk = options.chunk {
      precondition(chunk.count == shape.count && chunk.allSatisfy { $0 > 0 }, "createDataset: bad chunk \(chunk)")
      try h5check(H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk.map { hsize_t($0) }), what)
      if options.shuffle { try h5check(H5Pset_shuffle(dcpl.id), what + " (shuffle filter)") }
      if let level = options.gzipLevel { try h5check(H5Pset_deflate(dcpl.id, UInt32(level)), what + " (gzip filter)") }
    } else {
      precondition(
        !options.growable && options.gzipLevel == nil && !options.shuffle,
        "createDataset: growth and filters need a chunked layout")
    }
    if options.allocateEarly {
      try h5check(H5Pset_alloc_time(dcpl.id, H5D_ALLOC_TIME_EARLY), what + " (early allocation)")
      try h5check(H5Pset_fill_time(dcpl.id, H5D_FILL_TIME_NEVER), what + " (no fill)")
    }
    let did = try h5id(H5Dcreate2(id, child, fileType.id, space.id, h5pDefault, dcpl.id, h5pDefault), what)
    return try H5Dataset(file: file, id: did, name: childPath(child))
  }

  /// Creates a 1-D dataset holding `values`.
  @discardableResult
  public func createDataset<T: H5Scalar>(_ child: String, values: [T]) throws -> H5Dataset {
    let ds = try createDataset(child, type: T.h5ElementType, shape: [values.count])
    if !values.isEmpty { try values.withUnsafeBufferPointer { try ds.write($0, rows: 0..<values.count) } }
    return ds
  }

  /// Creates a 1-D variable-length UTF-8 string dataset holding `values`.
  @discardableResult
  public func createDataset(_ child: String, strings values: [String]) throws -> H5Dataset {
    let ds = try createDataset(child, type: .string, shape: [values.count])
    if !values.isEmpty { try ds.writeStrings(values, rows: 0..<values.count) }
    return ds
  }

  /// Removes the link `child` (the space is reclaimed only when the file is rewritten).
  public func remove(_ child: String) throws {
    try h5check(H5Ldelete(id, child, h5pDefault), "delete '\(childPath(child))' in \(file.path)")
  }
}

/// How a new dataset is laid out in the file.
public struct H5DatasetOptions: Sendable {
  /// Chunk dimensions; nil for a contiguous dataset.
  public var chunk: [Int]?
  /// Whether the first dimension may grow (needs `chunk`).
  public var growable = false
  /// gzip level 1...9, or nil for no compression (needs `chunk`).
  public var gzipLevel: Int?
  /// Byte-shuffle filter before compression (needs `chunk`).
  public var shuffle = false
  /// Reserve all file space at creation and never write fill values, so that later writes
  /// only touch raw data and never the file's metadata.
  public var allocateEarly = false

  public init(
    chunk: [Int]? = nil, growable: Bool = false, gzipLevel: Int? = nil, shuffle: Bool = false,
    allocateEarly: Bool = false
  ) {
    self.chunk = chunk
    self.growable = growable
    self.gzipLevel = gzipLevel
    self.shuffle = shuffle
    self.allocateEarly = allocateEarly
  }
}
