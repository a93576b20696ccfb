// Whether bfloat16 is worth using on this CPU, decided by measurement rather than by instruction set: on
// an Intel CPU with AVX512_BF16 but no usable AMX, oneDNN's bfloat16 kernels run at about half of float32
// (resnet50: 19.3 against 33.9 images/s), on Zen 4 at twice. One layer-shaped product in both precisions
// decides, once per CPU model and oneDNN version: the figures are cached under the user's cache folder.

import CDNNL
import Foundation

/// The bfloat16 verdict of this machine: `auto` precisions choose bfloat16 only when `faster`.
public struct BFloat16Speed: Codable, Sendable, Equatable {
  /// True when bfloat16 products ran measurably faster (at least 10%) than float32 ones.
  public var faster: Bool
  /// GFLOPS of the calibration product in each precision (0 when not measured).
  public var float32GFLOPS: Double
  public var bfloat16GFLOPS: Double
  /// Why, in words: "measured …", "cached …", "no native bfloat16 …" or the override.
  public var reason: String

  /// The verdict for this process (measured, read from the cache, or overridden), computed once.
  public static let current: BFloat16Speed = decide()

  /// `FEATX_BF16=faster` or `slower` overrides the measurement (tests force each outcome with it).
  public static let overrideVariable = "FEATX_BF16"

  /// The verdict for `environment` (the override, the instruction set, the cache, else a measurement).
  public static func decide(environment: [String: String] = ProcessInfo.processInfo.environment) -> BFloat16Speed {
    if let forced = environment[overrideVariable], forced == "faster" || forced == "slower" {
      return BFloat16Speed(
        faster: forced == "faster", float32GFLOPS: 0, bfloat16GFLOPS: 0, reason: "\(overrideVariable)=\(forced)")
    }
    guard CPU.nativeBFloat16 else {
      return BFloat16Speed(
        faster: false, float32GFLOPS: 0, bfloat16GFLOPS: 0,
        reason: "no native bfloat16 on this CPU (oneDNN sees \(CPU.isaName))")
    }
    let file = cacheFile(environment)
    if let data = FileManager.default.contents(atPath: file),
      let cached = try? JSONDecoder().decode([String: BFloat16Speed].self, from: data), var known = cached[key]
    {
      known.reason = "cached in \(file): " + known.reason
      return known
    }
    guard let measured = try? measure() else {
      return BFloat16Speed(faster: false, float32GFLOPS: 0, bfloat16GFLOPS: 0, reason: "the calibration product failed to run")
    }
    var all =
      (FileManager.default.contents(atPath: file)).flatMap { try? JSONDecoder().decode([String: BFloat16Speed].self, from: $0) }
      ?? [:]
    all[key] = measured
    if let data = try? JSONEncoder().encode(all) {
      try? FileManager.default.createDirectory(
        atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: file, contents: data)
    }
    return measured
  }

  /// `$XDG_CACHE_HOME/featx/bf16-speed.json`, default `~/.cache/featx/bf16-speed.json`.
  static func cacheFile(_ environment: [String: String]) -> String {
    let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
    return base + "/featx/bf16-speed.json"
  }

  /// The cache key: CPU model, oneDNN version and instruction set.
  static var key: String {
    let version = dnnl_version().pointee
    return "\(CPU.modelName) | oneDNN \(version.major).\(version.minor).\(version.patch) | \(CPU.isaName)"
  }

  /// A 256 × 1024 by 1024 × 1024 product (a ResNet bottleneck's 1×1 convolution on a 16 × 16 map) in float32,
  /// then with bfloat16 inputs and float32 output; the best of 5 runs each, after one warm-up.
  static func measure() throws -> BFloat16Speed {
    let (m, k, n) = (256, 1024, 1024)
    func rate(_ type: ElementType) throws -> Double {
      let engine = try DNNLEngine.shared()
      let stream = try DNNLStream(engine)
      let a = try MemoryDescriptor([m, k], type, .ab)
      let b = try MemoryDescriptor([k, n], type, .ab)
      let c = try MemoryDescriptor([m, n], .float32, .ab)
      let primitive = try DNNLPrimitive.matmul(
        source: a, weights: b, destination: c, attributes: try DNNLAttributes(), engine: engine,
        what: "the bfloat16 calibration product")
      let bytes = type == .float32 ? 4 : 2
      var left = [UInt8](repeating: 0x3f, count: m * k * bytes)
      var right = [UInt8](repeating: 0x3f, count: k * n * bytes)
      var out = [Float](repeating: 0, count: m * n)
      var best = Double.infinity
      try left.withUnsafeMutableBytes { l in
        try right.withUnsafeMutableBytes { r in
          try out.withUnsafeMutableBytes { o in
            let arguments = ExecutionArguments([
              (.source, try DNNLMemory(a, engine, l.baseAddress, "calibration rows")),
              (.weights, try DNNLMemory(b, engine, r.baseAddress, "calibration columns")),
              (.destination, try DNNLMemory(c, engine, o.baseAddress, "calibration sums")),
            ])
            for run in 0..<6 {
              let start = DispatchTime.now().uptimeNanoseconds
              try primitive.execute(stream, arguments)
              try stream.wait()
              if run > 0 { best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
          }
        }
      }
      return 2 * Double(m * n * k) / best / 1e9
    }
    let f32 = try rate(.float32)
    let bf16 = try rate(.bfloat16)
    let faster = bf16 > 1.1 * f32
    return BFloat16Speed(
      faster: faster, float32GFLOPS: f32, bfloat16GFLOPS: bf16,
      reason: String(format: "measured: bf16 %.0f GFLOPS against f32 %.0f (%.2f×)", bf16, f32, bf16 / f32))
  }
}
