// libFuzzer harness: timm's config.json (TimmConfig.parse, the architecture, timm's evaluation transform
// as featx preprocessing) and timm's checkpoint key filter. Input: config.json bytes, optionally followed
// by a 0 byte and newline-separated state_dict keys (the filter runs on those keys with the config's
// architecture, or rdnet_tiny when the config is refused). Thrown errors are correct outcomes; a broken
// invariant traps.

import Backbones
import CFuzzer
import Images
import Weights

/// The entry point SwiftPM's `--defsym main=FuzzTimmConfig_main` points at: runs libFuzzer's driver.
@_cdecl("FuzzTimmConfig_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
  featx_fuzz_main(argc, argv)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let split = bytes.firstIndex(of: 0) ?? bytes.count
  var architecture = "rdnet_tiny"
  if let config = try? TimmConfig.parse(Array(bytes[..<split]), path: "config.json") {
    architecture = config.architecture
    _ = try? config.architecture(requested: "resnet18")
    let d = config.data
    precondition(d.height > 0 && d.width > 0 && d.cropPct > 0 && d.mean.count == 3 && d.std.count == 3, "resolved data config")
    if let p = try? Preprocessing.timmEval(
      height: d.height, width: d.width, cropPct: d.cropPct, cropMode: d.cropMode, interpolation: d.interpolation,
      mean: d.mean, std: d.std)
    {
      precondition(p.fixedSize.map { $0.height == d.height && $0.width == d.width } == true, "timm transform size")
      _ = try? Preprocessing.fromJSON(p.json)
    }
  }
  guard split < bytes.count else { return 0 }
  let keys = String(decoding: bytes[(split + 1)...], as: UTF8.self).split(separator: "\n").map(String.init)
  var tensors: [String: WeightTensor] = [:]
  var unique: [String] = []
  for key in keys where tensors[key] == nil {
    tensors[key] = WeightTensor(shape: [1], values: [Float(unique.count)])
    unique.append(key)
  }
  let filtered = TimmConfig.filterKeys(
    StateDict(keys: unique, tensors: tensors, source: "fuzz.pth", sha256: ""), architecture: architecture)
  precondition(Set(filtered.keys).count == filtered.keys.count, "duplicate keys after the filter")
  precondition(Set(filtered.keys) == Set(filtered.tensors.keys), "keys and tensors disagree after the filter")
  precondition(filtered.keys.count <= unique.count, "the filter made keys")
  return 0
}
