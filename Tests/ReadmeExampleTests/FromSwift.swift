// README.md's "From Swift" block, exactly: these import lines, a blank line, then `fromSwift`'s body
// (ReadmeExampleTests checks it and runs it). Only the README's imports, so that it compiles as it is shown.

import Backbones
import Extract
import Images
import Probe

/// README.md's "From Swift" block, line for line: `images` is a folder of class folders, `store` the
/// feature store to write.
func fromSwift(images: String, store: String) throws {
  // As `featx extract --arch resnet18 --weights random:0` resolves them: seeded random weights, no download.
  // "auto" is torchvision's resnet18-f37072fd.pth when it is in the caches, else these (randomWarning says so).
  let weights = try WeightsResolver().resolve("random:0", arch: "resnet18")
  let backbone = try Backbone(arch: weights.architecture, weights: weights.stateDict, pooling: .avg)
  // The weights' own evaluation transform: Resize(256) + CenterCrop(224) here, Resize(342) + CenterCrop(299) for
  // Inception v3, Resize(232) for V2 ResNets, timm's for timm weights (their config.json's data).
  let preprocessing = try Preprocessing.evaluation(
    arch: weights.architecture, known: weights.known, timm: weights.timm?.config.featxData)
  let options = ExtractOptions(root: images, output: store, preprocessing: preprocessing, split: SplitConfig(mode: .random))
  let summary = try Extractor(options: options, backbone: backbone, weightsName: weights.name).run()

  let data = try ProbeDataset.load(path: store)
  let probe = try ProbeTrainer.train(data, settings: ProbeSettings())
  let report = try ProbeReport(probe: probe, data: data)  // top-1/top-5, per class, confusion matrix
  print("\(summary.rows) images, test top-1 \(report.test?.top1 ?? .nan)")
}
