// The backbone, weights and preprocessing a store's (or a head's) features were made with, loaded again
// from what the extraction recorded, so that new images get features made exactly the same way: `featx
// predict` classifies them with a head, `featx neighbors` searches a store with them.

import Backbones
import Extract
import FeatureStore
import Images
import Support

/// A backbone rebuilt from an extraction's record (arch, weights by sha256, layer, pooling, preprocessing,
/// precision).
public struct ExtractionBackbone {
  public let backbone: Backbone
  public let preprocessing: Preprocessing
  /// The weights file used (or `random:SEED`).
  public let weightsSource: String
  /// Weights files found on the way that hold other bytes than the features came from.
  public let rejectedWeights: [RejectedWeights]
  /// Values per image.
  public let dimension: Int

  /// Loads what `extraction` names; `owner` is the head or store that recorded it (for `WeightsLookup`), and
  /// `invalid` makes the error for a record that cannot be used (an unknown pooling or preprocessing).
  public init(
    extraction e: StoreMetadata, pooling: String, owner: String, weights: String?, threads: Int, precision: Precision?,
    resolver: WeightsResolver, invalid: (String) -> Error
  ) throws {
    let arch = try Architecture.named(e.arch)
    let lookup = try WeightsLookup.find(for: e, headPath: owner, given: weights, arch: arch, resolver: resolver)
    rejectedWeights = lookup.rejected
    weightsSource = lookup.weights.source
    guard let pooling = Pooling(rawValue: pooling) else { throw invalid("unknown pooling \(pooling)") }
    backbone = try Backbone(
      arch: arch, weights: lookup.weights, layer: e.layer, pooling: pooling, threads: threads,
      precision: precision ?? Precision(rawValue: e.precision) ?? .float32)
    do { preprocessing = try Preprocessing.fromJSON(e.preprocess) } catch {
      throw invalid("unreadable preprocessing \(e.preprocess)")
    }
    // An interpolation featx does not implement (a file written by another tool) is refused here, not image by image.
    do { _ = try preprocessing.filter() } catch let error as PreprocessingError { throw invalid(error.reason) }
    guard let size = preprocessing.fixedSize else { throw invalid("no fixed input size") }
    dimension = try backbone.outputShape(height: size.height, width: size.width).reduce(1, *)
  }

  /// The feature rows of `paths` (`FeaturePipeline`); an image that cannot be read gets its error instead.
  public func features(of paths: [String], batch: Int = 32, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws
    -> [(row: [Float]?, error: String?)]
  {
    var out: [(row: [Float]?, error: String?)] = []
    var pipeline = FeaturePipeline(backbone: backbone, preprocessing: preprocessing)
    pipeline.maxPixels = maxPixels
    try pipeline.run(paths, batchSize: batch) { decoded, rows in
      for (slot, index) in decoded.range.enumerated() {
        if let error = decoded.failures[index] {
          out.append((nil, error.reason))
        } else {
          out.append((Array(rows[(slot * dimension)..<((slot + 1) * dimension)]), nil))
        }
      }
      return true
    }
    return out
  }
}
