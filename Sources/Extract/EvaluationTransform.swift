// The evaluation transform that weights were published with, resolved in the library (as torchvision's
// `Weights.transforms` and timm's `pretrained_cfg`): extraction's default preprocessing, and predict's when it
// classifies with a network's own ImageNet classifier.

import Backbones
import Images

extension Preprocessing {
  /// The evaluation transform of weights, as their publisher gives it: timm's config (a config.json, or
  /// the published one of an architecture whose weights are timm's), else the known file's (torchvision's
  /// `Weights.transforms`: resize, crop, interpolation, mean, std), else ImageNet's Resize(256) + CenterCrop(224).
  /// `interpolation` replaces the publisher's before timm's config is checked (a config whose own
  /// interpolation featx does not reproduce works with another).
  ///
  /// - Throws: `PreprocessingError` for a timm config featx does not reproduce.
  public static func evaluation(
    arch: Architecture?, known: KnownWeights?, timm: TimmConfig.DataConfig?, interpolation: String? = nil
  ) throws -> Preprocessing {
    if let d = timm ?? arch.flatMap(TimmConfig.publishedData) {
      return try timmEval(
        height: d.height, width: d.width, cropPct: d.cropPct, cropMode: d.cropMode,
        interpolation: interpolation ?? d.interpolation, mean: d.mean, std: d.std)
    }
    var p = Preprocessing.imagenet
    if let known = known ?? arch.flatMap(KnownWeights.defaultFor) { p.apply(known) }
    return p
  }

  /// The resize, crop, interpolation and normalisation `known` was evaluated with.
  public mutating func apply(_ known: KnownWeights) {
    resize = .shorter(known.resizeSize)
    crop = [known.cropSize, known.cropSize]
    interpolation = known.interpolation
    (mean, std) = (known.mean, known.std)
  }
}
