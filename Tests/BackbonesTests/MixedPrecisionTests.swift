import Backbones
import DNNL
import Foundation
import Testing
import TestSupport
import Weights

/// A transformer's bfloat16 plan (`MixedPrecision`): LayerNorm into a float32 staging buffer and one conversion,
/// softmax into a probabilities buffer of its own, products reading their own buffers. Run with float32 as the
/// products' type, the plan does every one of those steps on any CPU, and must give the float32 network's numbers
/// bit for bit: a wrong view, offset, buffer size or missing step shows here, where bfloat16 itself cannot run.
/// (bfloat16's own numbers: BFloat16FidelityTests, on CPUs that have it.)
@Suite(.serialized) struct MixedPrecisionTests {
  @Test(arguments: VisionTransformerParityTests.models)
  func planInFloat32GivesTheFloat32NumbersAtEveryTap(model: VisionTransformerParityTests.Model) throws {
    let weights = RandomWeights.stateDict(config: model.config, seed: 0, classifier: true)
    let input = try VisionTransformerParityTests.inputs(model.key)
    for layer in try model.config.layerInfo(height: 224, width: 224, arch: model.key) {
      for pooling in layer.poolings {
        func backbone(_ products: ElementType?) throws -> Backbone {
          try Backbone(
            name: model.key, config: model.config, weights: weights, layer: layer.name, pooling: pooling, threads: 2,
            productType: products)
        }
        let (plain, mixed) = (try backbone(nil), try backbone(.float32))
        let expected = try FamilyParityTests.run(plain, input, size: 224)
        let actual = try FamilyParityTests.run(mixed, input, size: 224)
        #expect(actual == expected, "\(model) \(layer.name) \(pooling): the mixed plan changed the numbers")
        let memory = try mixed.activationMemory(height: 224, width: 224)
        #expect(memory.conflicts == 0, "\(model) \(layer.name): buffers in use at once share bytes")
      }
    }
  }

  /// The plan really stages: every block's normed input is converted for its products, and each attention
  /// writes its probabilities apart from its scores (one more step than in float32: none; the conversions are
  /// the extra steps).
  @Test(arguments: VisionTransformerParityTests.models)
  func planConvertsEachNormForItsProducts(model: VisionTransformerParityTests.Model) throws {
    let weights = RandomWeights.stateDict(config: model.config, seed: 0, classifier: true)
    func steps(_ products: ElementType?) throws -> [String] {
      try Backbone(name: model.key, config: model.config, weights: weights, threads: 1, productType: products)
        .implementations(height: 224, width: 224).map(\.what)
    }
    let (plain, mixed) = (try steps(nil), try steps(.float32))
    let conversions = mixed.filter { $0.hasSuffix("to the products' type") }
    // Two per block (before attention and before the MLP) in a ViT, and two in SigLIP's attention pool (its keys
    // and values, its MLP); one per block (before the MLP) in ConvNeXt.
    let expected: Int
    switch model.config {
    case .visionTransformer(let c): expected = 2 * c.depth + (c.globalPool == .map ? 2 : 0)
    case .convNeXt(let c): expected = c.depths.reduce(0, +)
    default: expected = -1
    }
    #expect(conversions.count == expected, "\(model): \(conversions)")
    #expect(mixed.count == plain.count + conversions.count, "\(model)")
  }
}
