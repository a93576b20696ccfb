// The CPU as featx's compute sees it: how many cores this process may use, what oneDNN can multiply
// natively, and OpenMP's thread count (oneDNN's parallel regions follow it).

import CDNNL
import Foundation
import Glibc

/// How many CPUs this process may use, and what they can do.
public enum CPU {
  /// CPUs this process may run on: the affinity mask (`taskset`, Slurm's binding, a cpuset cgroup),
  /// lowered to the cgroup's CPU quota where one is set (Kubernetes `limits.cpu`, `docker --cpus`),
  /// rounded up; at least 1. `_SC_NPROCESSORS_ONLN` would count the whole machine.
  public static let available: Int = {
    let affinity = affinityCount() ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    guard let quota = cgroupQuota() else { return affinity }
    return max(1, min(affinity, quota))
  }()

  /// CPUs in the calling thread's affinity mask (`sched_getaffinity`), or nil if it cannot be read.
  package static func affinityCount() -> Int? {
    let count = Int(featx_affinity_count())
    return count > 0 ? count : nil
  }

  /// The tightest CPU quota of this process's cgroup and its parents, in whole CPUs (rounded up), or
  /// nil if none is set. cgroup v2 `cpu.max` ("max 100000" or "150000 100000"), else cgroup v1
  /// `cpu.cfs_quota_us` / `cpu.cfs_period_us`.
  package static func cgroupQuota(root: String = "/sys/fs/cgroup", selfCgroup: String = "/proc/self/cgroup") -> Int? {
    let membership = readSmallFile(selfCgroup) ?? ""
    var quotas: [Int] = []
    for line in membership.split(separator: "\n") {
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      let path = String(fields[2])
      if fields[0] == "0" && fields[1].isEmpty {  // cgroup v2
        for folder in ancestors(root, path) {
          guard let text = readSmallFile(folder + "/cpu.max") else { continue }
          let parts = text.split(separator: " ")
          if parts.count == 2, let limit = Double(parts[0]), let period = Double(parts[1]), limit > 0, period > 0 {
            quotas.append(Int((limit / period).rounded(.up)))
          }
        }
      } else if fields[1].split(separator: ",").contains("cpu") {  // cgroup v1
        for folder in ancestors(root + "/cpu", path) + ancestors(root + "/cpu,cpuacct", path) {
          guard let q = readSmallFile(folder + "/cpu.cfs_quota_us").flatMap({ Double($0) }),
            let p = readSmallFile(folder + "/cpu.cfs_period_us").flatMap({ Double($0) }), q > 0, p > 0
          else { continue }
          quotas.append(Int((q / p).rounded(.up)))
        }
      }
    }
    return quotas.min()
  }

  /// `root + path` and every folder above it up to `root`.
  private static func ancestors(_ root: String, _ path: String) -> [String] {
    var parts = path.split(separator: "/").map(String.init)
    var folders: [String] = []
    while true {
      folders.append(root + (parts.isEmpty ? "" : "/" + parts.joined(separator: "/")))
      if parts.isEmpty { break }
      parts.removeLast()
    }
    return folders
  }

  /// A small text file's trimmed content, or nil.
  private static func readSmallFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = fread(&buffer, 1, buffer.count - 1, file)
    guard n > 0 else { return nil }
    let text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The CPU's model name (`/proc/cpuinfo`), e.g. "AMD EPYC 7B12"; "unknown CPU" if unreadable.
  public static var modelName: String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
      let colon = line.firstIndex(of: ":")
    else { return "unknown CPU" }
    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  }

  /// True when oneDNN has bfloat16 instructions (AVX512_BF16 or AMX); whether they are also faster than
  /// float32 is `BFloat16Speed.current`'s measurement.
  /// Follows `ONEDNN_MAX_CPU_ISA`.
  public static var nativeBFloat16: Bool { nativeBFloat16(isa: dnnl_get_effective_cpu_isa().rawValue) }

  /// True when the effective ISA `isa` includes every feature of `required`. oneDNN 2.6 numbers its ISAs
  /// as feature bitmasks, not in order (`avx2_vnni` = 0x407 is above `avx512_core` = 0x27 yet has no
  /// AVX-512), so inclusion is a mask test, never `>=`.
  package static func includes(_ isa: UInt32, _ required: UInt32) -> Bool { isa & required == required }

  /// oneDNN's name for the instruction set it uses, e.g. `avx512_core_bf16`.
  public static var isaName: String {
    let isa = dnnl_get_effective_cpu_isa()
    let names: [(dnnl_cpu_isa_t, String)] = [
      (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
      (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
      (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
      (dnnl_cpu_isa_sse41, "sse41"),
    ]
    return names.first { includes(isa.rawValue, $0.0.rawValue) }?.1 ?? "isa \(isa.rawValue)"
  }

  /// True when oneDNN uses AVX-512 kernels (16 floats per register).
  public static var avx512: Bool { avx512(isa: dnnl_get_effective_cpu_isa().rawValue) }

  /// Whether the oneDNN ISA value `isa` has AVX-512 kernels (`avx512_core` and above, not `avx2_vnni`).
  package static func avx512(isa: UInt32) -> Bool { includes(isa, dnnl_cpu_isa_avx512_core.rawValue) }

  /// Whether the oneDNN ISA value `isa` multiplies bfloat16 natively.
  package static func nativeBFloat16(isa: UInt32) -> Bool { includes(isa, dnnl_cpu_isa_avx512_core_bf16.rawValue) }
}

/// OpenMP's thread count of the calling thread, which oneDNN's primitives and sgemm use.
package enum OpenMP {
  /// Runs `body` with `threads` OpenMP threads on the calling thread (0 = `CPU.available`), then
  /// restores the previous count, so a thread lent by Dispatch goes back as it came.
  package static func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    let previous = omp_get_max_threads()
    omp_set_num_threads(Int32(threads > 0 ? threads : CPU.available))
    defer { omp_set_num_threads(previous) }
    return try body()
  }

  /// The calling thread's current OpenMP thread count.
  package static var threads: Int { Int(omp_get_max_threads()) }
}
