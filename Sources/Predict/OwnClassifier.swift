// A network's own ImageNet classifier (the `fc` / `classifier` / `head.fc` / `_fc` tensors that feature
// extraction ignores), used as a head: `featx predict --weights W IMAGE` without a trained head prints
// ImageNet labels, the quickest proof that a weights file is genuine (timm's inference.py, torchvision's docs).

import Backbones
import Images
import Probe
import Support
import Weights

/// The classifier a weights file carries, and the layer it reads.
public struct OwnClassifier: Sendable {
  /// The layer whose output the classifier reads (the pooled vector; DenseNet's `features` map).
  public var layer: String
  /// DenseNet's classifier reads `mean(relu(features))`: the tap is its map, pooled here.
  public var reluThenAverage: Bool
  /// `[D, 1000]`, the classifier's weight transposed, and its bias.
  public var model: LinearModel
  /// The classifier's key, e.g. `fc.weight`.
  public var key: String

  /// Reads the classifier of `weights` for `config`.
  /// - Throws: `BackboneError.noClassifier` when the file has no classifier, or not ImageNet's.
  public init(config: ArchitectureConfig, weights: StateDict, name: String) throws {
    let config = config.adapted(toKeys: Set(weights.keys))
    let module: String
    switch config {
    case .denseNet: module = "classifier"
    case .resNet, .inceptionV3, .googLeNet: module = "fc"
    case .rdNet: module = "head.fc"
    case .efficientNet(let c): module = c.classifier
    case .visionTransformer(let c): module = c.layout == .torchvision ? "heads.head" : "head"
    case .convNeXt(let c): module = c.layout == .torchvision ? "classifier.2" : "head.fc"
    }
    layer = config.defaultLayer
    reluThenAverage = if case .denseNet = config { true } else { false }
    key = module + ".weight"
    func missing(_ what: String) -> BackboneError { .noClassifier(path: weights.source, problem: what) }
    guard let w = weights.tensors[key], w.isFloatingPoint, w.shape.count == 2 else { throw missing("no classifier \(key)") }
    guard let b = weights.tensors[module + ".bias"], b.isFloatingPoint, b.shape == [w.shape[0]] else {
      throw missing("no classifier bias \(module).bias")
    }
    let (classes, dimension) = (w.shape[0], w.shape[1])
    guard classes == ImageNetClasses.names.count else {
      throw missing("\(key) has \(classes) classes, not ImageNet's \(ImageNetClasses.names.count)")
    }
    var transposed = [Float](repeating: 0, count: dimension * classes)
    let values = w.values
    for c in 0..<classes {
      for d in 0..<dimension { transposed[d * classes + c] = values[c * dimension + d] }
    }
    model = LinearModel(dimension: dimension, classes: classes, weights: transposed, bias: b.values)
  }

  /// DenseNet's classifier input from rows of its `features` map: ReLU, then the mean of each channel.
  static func reluThenAverage(_ features: [Float], rows: Int, channels: Int) -> [Float] {
    guard rows > 0 else { return [] }
    let width = features.count / rows
    let plane = width / channels
    var out = [Float](repeating: 0, count: rows * channels)
    for r in 0..<rows {
      for c in 0..<channels {
        let start = r * width + c * plane
        out[r * channels + c] = Float(features[start..<(start + plane)].reduce(0.0) { $0 + Double(max($1, 0)) } / Double(plane))
      }
    }
    return out
  }
}
