// `--precision auto` and `--gram auto` choose bfloat16 by measurement: each outcome can be forced through
// FEATX_BF16, a CPU without bfloat16 instructions never measures, and a measured verdict is cached per CPU
// model and oneDNN version.

import DNNL
import Foundation
import Testing
import TestSupport

@Suite struct BFloat16SpeedTests {
  @Test(arguments: [("faster", true), ("slower", false)])
  func theOverrideForcesEachOutcome(value: String, faster: Bool) {
    let verdict = BFloat16Speed.decide(environment: [BFloat16Speed.overrideVariable: value])
    #expect(verdict.faster == faster)
    #expect(verdict.reason == "FEATX_BF16=\(value)")
  }

  @Test func withoutBFloat16InstructionsNothingIsMeasuredOrCached() throws {
    let dir = TemporaryDirectory()
    let verdict = BFloat16Speed.decide(environment: ["XDG_CACHE_HOME": dir.path("cache")])
    if CPU.nativeBFloat16 {
      // Measured here, then read back from the cache.
      #expect(verdict.float32GFLOPS > 0 && verdict.bfloat16GFLOPS > 0)
      #expect(verdict.faster == (verdict.bfloat16GFLOPS > 1.1 * verdict.float32GFLOPS))
      let again = BFloat16Speed.decide(environment: ["XDG_CACHE_HOME": dir.path("cache")])
      #expect(again.reason.hasPrefix("cached in \(dir.path("cache"))/featx/bf16-speed.json"))
      #expect(again.faster == verdict.faster)
    } else {
      #expect(!verdict.faster)
      #expect(verdict.reason.hasPrefix("no native bfloat16 on this CPU"))
      #expect(!FileManager.default.fileExists(atPath: dir.path("cache/featx/bf16-speed.json")))
    }
  }
}
