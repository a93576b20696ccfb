// `featx predict`: backbone + head on new images, with the exact backbone, weights, layer, pooling and
// preprocessing the head's features were extracted with (read from the head, never from options).

import Backbones
import Extract
import Images
import Probe
import FeatureStore
import Dispatch
import Foundation
import Support
import Weights

/// One classified image.
public struct Prediction: Sendable {
  public var path: String
  /// Probabilities of every class (softmax of the head's logits), or nil if the image could not be read.
  public var probabilities: [Float]?
  public var error: String?
  /// The head's logits (what accuracy and loss are computed from), nil if the image could not be read.
  public var logits: [Float]?

  /// The `k` most probable (class index, probability) pairs, most probable first (all for k = 0).
  public func top(_ k: Int) -> [(index: Int, probability: Float)] {
    guard let probabilities else { return [] }
    let ranked = probabilities.indices.sorted { (probabilities[$0], $1) > (probabilities[$1], $0) }
    return (k > 0 ? Array(ranked.prefix(k)) : ranked).map { ($0, probabilities[$0]) }
  }
}

/// Classifies images with a head and the backbone it was trained for, or with the network's own ImageNet
/// classifier.
public final class Predictor {
  /// The linear model applied to each image's features, and its classes.
  public let model: LinearModel
  public let classes: [String]
  /// DenseNet's own classifier reads `mean(relu(features))` of the tapped map.
  private let reluThenAverage: Bool
  public let backbone: Backbone
  public let preprocessing: Preprocessing
  /// The weights file used (or `random:SEED`).
  public let weightsSource: String
  /// Weights files found on the way that hold other bytes than the head's features came from (see `WeightsLookup`).
  public let rejectedWeights: [RejectedWeights]

  /// Loads the backbone the head names and checks that the weights are the very ones its features came from.
  ///
  /// - Parameters:
  ///   - weights: weights to use when neither the path recorded at extraction nor the caches hold the file
  ///     named in the head (same sha256 required).
  public init(
    head: Head, headPath: String, weights: String? = nil, threads: Int = 0, precision: Precision? = nil,
    resolver: WeightsResolver = WeightsResolver()
  )
    throws
  {
    (model, classes, reluThenAverage) = (head.model, head.classes, false)
    let loaded = try ExtractionBackbone(
      extraction: head.extraction, pooling: head.effectivePooling, owner: headPath, weights: weights, threads: threads,
      precision: precision, resolver: resolver, invalid: { ProbeError.notAHead(path: headPath, reason: $0) })
    (backbone, preprocessing) = (loaded.backbone, loaded.preprocessing)
    (weightsSource, rejectedWeights) = (loaded.weightsSource, loaded.rejectedWeights)
    guard loaded.dimension == head.model.dimension else {
      throw ProbeError.dimensionMismatch(head: headPath, expected: head.model.dimension, got: loaded.dimension)
    }
  }

  /// Classifies with `backbone`'s own ImageNet classifier (its weights' `fc`/`classifier` tensors) on
  /// images preprocessed as `preprocessing`; the classes are ImageNet's.
  /// - Throws: `BackboneError.weightsMismatch` when the weights carry no ImageNet classifier.
  public init(ownClassifierOf arch: Architecture, weights: StateDict, preprocessing: Preprocessing, threads: Int = 0) throws {
    let own = try OwnClassifier(config: arch.config, weights: weights, name: arch.rawValue)
    (model, classes, reluThenAverage) = (own.model, ImageNetClasses.names, own.reluThenAverage)
    backbone = try Backbone(arch: arch, weights: weights, layer: own.layer, threads: threads)
    self.preprocessing = preprocessing
    weightsSource = weights.source
    rejectedWeights = []
  }

  /// Classifies images in batches of `batch` (`FeaturePipeline`); unreadable images get an error instead
  /// of probabilities.
  public func classify(_ paths: [String], batch: Int = 32, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws -> [Prediction]
  {
    var predictions: [Prediction] = []
    var pipeline = FeaturePipeline(backbone: backbone, preprocessing: preprocessing)
    pipeline.maxPixels = maxPixels
    try pipeline.run(paths, batchSize: batch) { decoded, rows in
      var features = rows
      if reluThenAverage {
        features = OwnClassifier.reluThenAverage(features, rows: decoded.range.count, channels: model.dimension)
      }
      let logits = try features.withUnsafeBufferPointer { try model.logits($0, rows: decoded.range.count) }
      let probabilities = Softmax.probabilities(logits, classes: model.classes)
      let c = model.classes
      for (slot, row) in decoded.range.enumerated() {
        if let error = decoded.failures[row] {
          predictions.append(Prediction(path: paths[row], probabilities: nil, error: error.reason))
        } else {
          let range = (slot * c)..<((slot + 1) * c)
          predictions.append(
            Prediction(
              path: paths[row], probabilities: Array(probabilities[range]), error: nil, logits: Array(logits[range])))
        }
      }
      return true
    }
    return predictions
  }
}
