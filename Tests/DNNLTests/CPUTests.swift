import Foundation
import Testing
import TestSupport

import DNNL

@Suite struct CPUTests {
  /// oneDNN 2.6's ISA values (dnnl_types.h) are feature bitmasks: AVX2-VNNI (Alder Lake and later client
  /// parts) is numerically above AVX-512 yet has none, so a `>=` test picked 16-channel blocks there.
  @Test(arguments: [
    (UInt32(0x1), "sse41", false, false), (0x3, "avx", false, false), (0x7, "avx2", false, false),
    (0x407, "avx2_vnni", false, false), (0x27, "avx512_core", true, false), (0x67, "avx512_core_vnni", true, false),
    (0xe7, "avx512_core_bf16", true, true), (0x3e7, "avx512_core_amx", true, true),
  ])
  func isaFeaturesAreMaskTests(isa: UInt32, name: String, avx512: Bool, bf16: Bool) {
    #expect(CPU.avx512(isa: isa) == avx512, "\(name)")
    #expect(CPU.nativeBFloat16(isa: isa) == bf16, "\(name)")
  }

  @Test func availableCPUsFollowTheAffinityMask() throws {
    // The test process itself: its affinity mask is what `taskset` or a cpuset cgroup set.
    let mask = try #require(CPU.affinityCount())
    #expect(CPU.available >= 1 && CPU.available <= mask)
  }

  @Test func cgroupV2QuotaRoundsUpAndTheTightestParentWins() throws {
    let root = TemporaryDirectory()
    let membership = root.url.appendingPathComponent("self-cgroup")
    try "0::/job/step\n".write(to: membership, atomically: true, encoding: .utf8)
    let fs = root.url.appendingPathComponent("fs")
    try FileManager.default.createDirectory(at: fs.appendingPathComponent("job/step"), withIntermediateDirectories: true)
    try "max 100000\n".write(to: fs.appendingPathComponent("job/step/cpu.max"), atomically: true, encoding: .utf8)
    try "150000 100000\n".write(to: fs.appendingPathComponent("job/cpu.max"), atomically: true, encoding: .utf8)
    try "400000 100000\n".write(to: fs.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
    #expect(CPU.cgroupQuota(root: fs.path, selfCgroup: membership.path) == 2)
  }

  @Test func noQuotaMeansNoLimit() throws {
    let root = TemporaryDirectory()
    let membership = root.url.appendingPathComponent("self-cgroup")
    try "0::/\n".write(to: membership, atomically: true, encoding: .utf8)
    try "max 100000\n".write(to: root.url.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
    #expect(CPU.cgroupQuota(root: root.url.path, selfCgroup: membership.path) == nil)
  }

  @Test func cgroupV1QuotaIsRead() throws {
    let root = TemporaryDirectory()
    let membership = root.url.appendingPathComponent("self-cgroup")
    try "4:cpu,cpuacct:/pod\n".write(to: membership, atomically: true, encoding: .utf8)
    let folder = root.url.appendingPathComponent("cpu,cpuacct/pod")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try "50000\n".write(to: folder.appendingPathComponent("cpu.cfs_quota_us"), atomically: true, encoding: .utf8)
    try "100000\n".write(to: folder.appendingPathComponent("cpu.cfs_period_us"), atomically: true, encoding: .utf8)
    #expect(CPU.cgroupQuota(root: root.url.path, selfCgroup: membership.path) == 1)
  }

  @Test func openMPThreadCountIsRestoredAfterAScope() {
    let before = OpenMP.threads
    let inside = OpenMP.withThreads(before + 3) { OpenMP.threads }
    #expect(inside == before + 3)
    #expect(OpenMP.threads == before)
  }

  @Test func gemmMultipliesAndRefusesBadStrides() throws {
    let a: [Float] = [1, 2, 3, 4, 5, 6]  // 2x3
    let b: [Float] = [1, 0, 0, 1, 1, 1]  // 3x2
    var c = [Float](repeating: 0, count: 4)
    try GEMM.multiply(a, b, into: &c, m: 2, n: 2, k: 3)
    #expect(c == [4, 5, 10, 11])
    #expect(throws: DNNLError.self) { try GEMM.multiply(a, b, into: &c, m: 2, n: 2, k: 3, lda: 1) }
  }
}
