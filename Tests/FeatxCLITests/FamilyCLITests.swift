import Backbones
import FeatureStore
import Foundation
import Testing
import TestSupport
import Weights

/// `featx extract` on the four parity images with each new family's default preprocessing (Inception's
/// Resize(342)/CenterCrop(299); RDNet's published timm transform, Resize(248) bicubic/CenterCrop(224))
/// gives the reference implementations' final features (family_<arch>.safetensors): the decoding, the resize
/// filter, the crop and the network, end to end.
@Suite(
  .serialized, .parityLog,
  .enabled(if: FileManager.default.fileExists(atPath: TestPaths.datasets.path), "the shared datasets are not available"))
struct FamilyCLITests {
  /// The four images of families.json's `image_order`, one class folder each, in that order.
  static func dataset(_ dir: TemporaryDirectory) throws -> String {
    let images = [
      "cub_birds50/001.Black_footed_Albatross/0000.jpg", "cub_birds50/047.American_Goldfinch/0000.jpg",
      "flower_photos_small/roses/269037241_07fceff56a_m.jpg", "flower_photos_small/daisy/173350276_02817aa8d5.jpg",
    ]
    let root = dir.path("data")
    for (i, image) in images.enumerated() {
      try FileManager.default.createDirectory(atPath: "\(root)/\(i)", withIntermediateDirectories: true)
      try FileManager.default.createSymbolicLink(
        atPath: "\(root)/\(i)/image.jpg", withDestinationPath: TestPaths.datasets.appendingPathComponent(image).path)
    }
    return root
  }

  @Test(arguments: [
    ("inception_v3", "avgpool", "{\"antialias\":true,\"crop\":[299,299],\"interpolation\":\"bilinear\""),
    ("rdnet_tiny", "pre_logits", "{\"antialias\":true,\"crop\":[224,224],\"interpolation\":\"bicubic\""),
  ])
  func defaultPreprocessingGivesTheReferenceFeatures(arch: String, tap: String, preprocess: String) throws {
    let dir = TemporaryDirectory()
    let root = try Self.dataset(dir)
    let out = dir.path("f.h5")
    let run = try runFeatx(["extract", root, "-o", out, "--arch", arch, "--weights", "random:0", "--split", "none", "--quiet"])
    #expect(run.status == 0, "\(run.stderr)")
    let store = try FeatureStore(path: out)
    #expect(store.metadata.preprocess.hasPrefix(preprocess), "\(store.metadata.preprocess)")
    let reference = try Checkpoint.load(path: TestPaths.fixture("backbones/family_\(arch).safetensors").path)
    let expected = try #require(reference.tensors["\(arch).\(tap)"]).values
    let report = ParityReport(actual: try store.allFeatures(), reference: expected, rows: 4, label: "\(arch) \(tap)")
    #expect(report.passes(), "\(arch) through featx extract: \(report)")
  }
}
