// Internal layer of checked HDF5 calls: every status is tested by one helper that takes a sentence, and
// HDF5's own error stack is turned into text for the thrown error instead of being printed to stderr.

import CHDF5

/// An HDF5 call failed. The description says what featx was doing, on which file/object, and what HDF5 said.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
  /// What featx was doing, e.g. "open dataset 'features' in /data/f.h5".
  public var operation: String
  /// The most specific lines of HDF5's error stack, innermost last (may be empty).
  public var detail: String
  /// Why a file could not be opened or created (nil for other calls).
  public var openFailure: OpenFailure?

  /// Why `H5Fopen` or `H5Fcreate` failed.
  public enum OpenFailure: Sendable, Equatable {
    /// Another process holds the file's lock (checked with the lock itself).
    case locked
    /// HDF5 reported a lock error, but nobody holds the lock: the file system does not support locks.
    case lockingUnsupported
    /// The file is shorter than its superblock says.
    case truncated
    /// Anything else: damaged structures, permissions, a missing folder.
    case other
  }

  public init(operation: String, detail: String, openFailure: OpenFailure? = nil) {
    self.operation = operation
    self.detail = detail
    self.openFailure = openFailure
  }

  public var description: String {
    var text = detail.isEmpty ? "cannot \(operation)" : "cannot \(operation): \(detail)"
    if detail.contains("errno = 28") || detail.contains("errno = 27") || detail.contains("No space left") {
      text += " (the disk is full or the file is larger than allowed: free space, then rerun the same command)"
    }
    return text
  }
}

/// Turns HDF5's automatic error printing off for the calling thread (a per-thread setting in thread-safe
/// builds) before a call whose failure featx reports itself.
///
/// The corresponding C function is `H5Eset_auto2`.
@inline(__always)
func quietHDF5() { featx_h5_quiet_this_thread() }

/// Reads (and clears) the calling thread's HDF5 error stack as one line of text.
func takeErrorStack() -> String {
  final class Lines { var items: [String] = [] }
  let lines = Lines()
  let walker: H5E_walk2_t = { _, entry, client in
    guard let entry, let client else { return 0 }
    let box = Unmanaged<Lines>.fromOpaque(client).takeUnretainedValue()
    if let desc = entry.pointee.desc {
      let text = String(cString: desc)
      if !text.isEmpty { box.items.append(text) }
    }
    return 0
  }
  _ = H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, walker, Unmanaged.passUnretained(lines).toOpaque())
  _ = H5Eclear2(hid_t(H5E_DEFAULT))
  // The outermost entries repeat the API call ("unable to open file"); the innermost say why.
  var unique: [String] = []
  for item in lines.items where !unique.contains(item) { unique.append(item) }
  return unique.suffix(3).joined(separator: "; ")
}

/// Checks a status-returning HDF5 call (`herr_t`, negative on failure).
@inline(__always)
func h5check(_ call: @autoclosure () -> herr_t, _ operation: @autoclosure () -> String) throws(HDF5Error) {
  quietHDF5()
  if call() < 0 { throw HDF5Error(operation: operation(), detail: takeErrorStack()) }
}

/// Checks an identifier-returning HDF5 call (`hid_t`, negative on failure) and returns the identifier.
@inline(__always)
func h5id(_ call: @autoclosure () -> hid_t, _ operation: @autoclosure () -> String) throws(HDF5Error) -> hid_t {
  quietHDF5()
  let id = call()
  if id < 0 { throw HDF5Error(operation: operation(), detail: takeErrorStack()) }
  return id
}

/// Checks an `htri_t` (tri-state boolean) HDF5 call.
@inline(__always)
func h5bool(_ call: @autoclosure () -> htri_t, _ operation: @autoclosure () -> String) throws(HDF5Error) -> Bool {
  quietHDF5()
  let value = call()
  if value < 0 { throw HDF5Error(operation: operation(), detail: takeErrorStack()) }
  return value > 0
}

let h5pDefault = hid_t(H5P_DEFAULT)
let h5sAll = hid_t(H5S_ALL)
