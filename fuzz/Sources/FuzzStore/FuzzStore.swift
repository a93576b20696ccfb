// libFuzzer harness: feature stores and head files. The HDF5 readers take paths, so the input is written
// to a file in /dev/shm first and read as a store and as a head. libhdf5 itself is not instrumented.

import CFuzzer
import FeatureStore
import Glibc
import Probe

let scratch: String = {
  let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
  return "\(dir)/featx-fuzz-store-\(getpid()).h5"
}()

func writeScratch(_ data: UnsafePointer<UInt8>, _ size: Int) -> Bool {
  let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var done = 0
  while done < size {
    let n = write(fd, data + done, size - done)
    guard n > 0 else { return false }
    done += n
  }
  return true
}

/// The entry point SwiftPM's `--defsym main=FuzzStore_main` points at: runs libFuzzer's driver.
@_cdecl("FuzzStore_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
  featx_fuzz_main(argc, argv)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard writeScratch(data, size) else { fatalError("cannot write \(scratch)") }
  // Every section, but at most a few rows: a hostile header may claim billions.
  (try? FeatureStore(path: scratch))?.readEverySection()
  _ = try? Head.read(path: scratch)
  return 0
}
