import Backbones
import Foundation
import Support
import Testing
import TestSupport

/// `RandomWeights` must reproduce `tools/make_weights.py` bit for bit (fixture: random_rule.json), Linear biases
/// included: their bound is 1/√in, which their own shape does not say.
@Suite struct RandomWeightsTests {
  struct RuleFixture: Decodable {
    struct Arch: Decodable {
      var seed: UInt32
      var keys: [Key]
    }
    struct Key: Decodable {
      var key: String
      var shape: [Int]
      var fnv1a32: UInt32
      var first5_bits: [UInt32]?
    }
    var fnv1a32_vectors: [String: UInt32]
    var archs: [String: Arch]
  }

  func fixture() throws -> RuleFixture {
    try JSONDecoder().decode(RuleFixture.self, from: Data(contentsOf: TestPaths.fixture("backbones/random_rule.json")))
  }

  @Test func fnvVectors() throws {
    for (input, expected) in try fixture().fnv1a32_vectors { #expect(fnv1a32(input) == expected, "\(input)") }
  }

  @Test func firstValuesOfEveryKindMatchNumpy() throws {
    let rule = try fixture()
    #expect(rule.archs.count >= 2)
    for (name, arch) in rule.archs {
      let specs = try Architecture.named(name).config.parameters
      for key in arch.keys {
        guard let spec = specs.first(where: { $0.name == key.key }) else {
          Issue.record("\(name) has no parameter \(key.key)")
          continue
        }
        #expect(spec.shape == key.shape, "\(key.key)")
        #expect(fnv1a32("\(arch.seed):\(key.key)") == key.fnv1a32)
        guard let bits = key.first5_bits else { continue }
        let values = RandomWeights.values(for: spec, seed: arch.seed)
        #expect(values.prefix(5).map(\.bitPattern) == bits, "\(name) \(key.key)")
      }
    }
  }
}
