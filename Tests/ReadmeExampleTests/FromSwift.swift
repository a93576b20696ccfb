// README.md's "From Swift" block, exactly: these import lines, a blank line, then `fromSwift`'s body
// (ReadmeExampleTests checks it and runs it). Only the README's imports, so that it compiles as it is shown.

import Backbones
import Extract
import Images
import Probe

/// README.md's "From Swift" block, line for line: `images` is a folder of class folders, `store` the
/// feature store to write.
func fromSwift(images: String, store: String) throws {
  let arch = Architecture.resnet18
  let known = KnownWeights.defaultFor(arch)  // resnet18-f37072fd.pth, torchvision's IMAGENET1K_V1
  // Seeded random weights (no download); torchvision's file instead: (.known(file), file.fileName) with file = known.
  let (source, weightsName) = (WeightsSource.random(seed: 0), "random:0")
  let backbone = try Backbone(arch: arch, weights: WeightsResolver().load(source, arch: arch.config), pooling: .avg)
  // The weights' own evaluation transform: Resize(256) + CenterCrop(224) here, Resize(342) + CenterCrop(299) for
  // Inception v3, Resize(232) for V2 ResNets, timm's for timm weights (timm: their config.json's data).
  let preprocessing = try Preprocessing.evaluation(arch: arch, known: known, timm: nil)
  let options = ExtractOptions(root: images, output: store, preprocessing: preprocessing, split: SplitConfig(mode: .random))
  let summary = try Extractor(options: options, backbone: backbone, weightsName: weightsName).run()

  let data = try ProbeDataset.load(path: store)
  let probe = try ProbeTrainer.train(data, settings: ProbeSettings())
  let report = try ProbeReport(probe: probe, data: data)  // top-1/top-5, per class, confusion matrix
  print("\(summary.rows) images, test top-1 \(report.test?.top1 ?? .nan)")
}
