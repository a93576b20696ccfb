import Support
import Weights

/// Seeded random weights (`featx-random-v1`, docs/RANDOM_WEIGHTS.md): the exact values
/// `tools/make_weights.py --seed SEED` writes into a torchvision model, for smoke runs and tests where
/// genuine ImageNet weights are unavailable. Networks with them compute nothing meaningful.
public enum RandomWeights {
  /// The state_dict of `config` filled by the rule (`num_batches_tracked`, which features never use, is
  /// left out, and so is the classifier unless `classifier`: what predict without a head reads).
  public static func stateDict(config: ArchitectureConfig, seed: UInt32, classifier: Bool = false) -> StateDict {
    var keys: [String] = []
    var tensors: [String: WeightTensor] = [:]
    let linear: Set<ParameterKind> = [.linearWeight, .linearBias]
    for spec in config.parameters where spec.usedForFeatures || (classifier && linear.contains(spec.kind)) {
      keys.append(spec.name)
      tensors[spec.name] = WeightTensor(shape: spec.shape, values: values(for: spec, seed: seed))
    }
    let label = "random:\(seed)"
    return StateDict(keys: keys, tensors: tensors, source: label, sha256: label)
  }

  /// The values of one state_dict entry that features use (convolutions and BatchNorms).
  public static func values(for spec: ParameterSpec, seed: UInt32) -> [Float] {
    precondition(
      spec.usedForFeatures || spec.kind == .linearWeight || spec.fanIn != nil,
      "RandomWeights.values: \(spec.name) needs its layer's fan-in")
    var rng = NumpyRandomState(seed: fnv1a32("\(seed):\(spec.name)"))
    let count = spec.shape.reduce(1, *)
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { buffer in
      switch spec.kind {
      case .convWeight:
        let fanIn = spec.shape.dropFirst().reduce(1, *)
        rng.fillNormal(buffer, mean: 0, std: (2.0 / Double(fanIn)).squareRoot())
      case .bnWeight, .bnRunningVar, .lnWeight, .layerScale:
        rng.fillUniform(buffer, low: 0.5, high: 1.5)
      case .bnBias, .bnRunningMean, .convBias, .lnBias:
        rng.fillUniform(buffer, low: -0.1, high: 0.1)
      case .token:
        rng.fillUniform(buffer, low: -0.5, high: 0.5)
      case .linearWeight, .linearBias:
        // nn.Linear's fan-in: the weight's last dimension, recorded separately for the bias.
        let bound = 1 / Double(spec.fanIn ?? spec.shape.last ?? 1).squareRoot()
        rng.fillUniform(buffer, low: -bound, high: bound)
      case .bnBatchesTracked:
        break
      }
    }
    return out
  }
}
