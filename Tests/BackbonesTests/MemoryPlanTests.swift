import Backbones
import Testing
import TestSupport

/// The workspace's memory plan: buffers that a primitive uses at once never share bytes, and sharing by
/// liveness makes a network's activations a fraction of the sum of its buffers. (That the shared memory
/// computes the same features is every parity suite's job: they all run through it.)
@Suite struct MemoryPlanTests {
  static let cases: [(Architecture, String, Double)] = [
    // architecture, tap, the most of the shared buffers' sum the arena may take
    (.resnet50, "avgpool", 0.25), (.densenet121, "features", 0.5), (.inception_v3, "avgpool", 0.25),
    (.efficientnet_lite0, "head", 0.25), (.vit_small_patch14_dinov2, "norm", 0.25),
  ]

  @Test(arguments: cases)
  func buffersInUseAtOnceNeverShareBytes(arch: Architecture, layer: String, bound: Double) throws {
    let backbone = try Backbone(arch: arch, weights: RandomWeights.stateDict(config: arch.config, seed: 0), layer: layer)
    let size = arch.evaluationSize
    let memory = try backbone.activationMemory(height: size, width: size)
    print(
      "\(arch.rawValue) \(layer): arena \(memory.arenaBytes >> 10) KiB for \(memory.unsharedBytes >> 10) KiB of shared buffers, \(memory.separateBytes >> 10) KiB separate"
    )
    #expect(memory.conflicts == 0, "\(arch)")
    #expect(memory.unsharedBytes > 0)
    #expect(
      Double(memory.arenaBytes) <= bound * Double(memory.unsharedBytes),
      "\(arch): arena \(memory.arenaBytes) of \(memory.unsharedBytes) bytes")
  }
}
