// libFuzzer harness: PyTorch checkpoints (zip, legacy, restricted unpickler) and safetensors.
// Any thrown error is a correct outcome; only crashes, hangs, OOMs and sanitizer reports count.

import CFuzzer
import Weights

/// The entry point SwiftPM's `--defsym main=FuzzCheckpoint_main` points at: runs libFuzzer's driver.
@_cdecl("FuzzCheckpoint_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
  featx_fuzz_main(argc, argv)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  if let dict = try? Checkpoint.parse(bytes, path: "fuzz.pth") {
    // Touch every tensor so a wrong shape/count shows up here, not later.
    var total = 0
    for key in dict.keys {
      guard let t = dict.tensors[key] else { continue }
      total &+= t.shape.reduce(1, &*) &+ t.values.count &+ t.integers.count
    }
    if total == Int.min { print(total) }
  }
  return 0
}
