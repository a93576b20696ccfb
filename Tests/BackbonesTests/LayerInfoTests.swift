import Backbones
import Testing

/// `featx layers` lists what `--layer` accepts; its shapes and lengths must be what extraction writes.
@Suite struct LayerInfoTests {
  @Test func densenet121AtTheBirdWorkflowsSize() throws {
    let layers = try Architecture.densenet121.config.layerInfo(height: 224, width: 224, arch: "densenet121")
    #expect(layers.map(\.name) == Architecture.densenet121.config.layers)
    let features = try #require(layers.first { $0.name == "features" })
    #expect(features.shape == [1024, 7, 7])
    #expect(features.featureLength(.flatten) == 50176)
    #expect(features.featureLength(.avg) == 1024)
    #expect(features.reduction == 32)
    #expect(layers.filter(\.isDefault).map(\.name) == ["features"])
    #expect(layers.first { $0.name == "denseblock1" }?.shape == [256, 56, 56])
  }

  @Test func resnetShapesFollowANonSquareInput() throws {
    let layers = try Architecture.resnet50.config.layerInfo(height: 224, width: 320, arch: "resnet50")
    #expect(layers.first { $0.name == "layer4" }?.shape == [2048, 7, 10])
    let avgpool = try #require(layers.first { $0.name == "avgpool" })
    #expect(avgpool.shape == [2048, 1, 1])
    #expect(avgpool.featureLength(.flatten) == 2048)
    #expect(avgpool.isDefault)
  }

  @Test(arguments: [Architecture.resnet18, .resnet50, .densenet121, .deit_small_patch16_224, .convnext_tiny])
  func lengthsEqualWhatTheBackboneProduces(arch: Architecture) throws {
    let weights = RandomWeights.stateDict(config: arch.config, seed: 0)
    for info in try arch.config.layerInfo(height: 256, width: 192, arch: arch.rawValue) {
      for pooling in info.poolings {
        let backbone = try Backbone(arch: arch, weights: weights, layer: info.name, pooling: pooling)
        #expect(
          try backbone.outputShape(height: 256, width: 192).reduce(1, *) == info.featureLength(pooling),
          "\(arch) \(info.name) \(pooling)")
      }
    }
  }

  /// A token map lists the token poolings, and the others are refused when the backbone runs.
  @Test func tokenMapsListTheirPoolings() throws {
    let layers = try Architecture.vit_small_patch14_reg4_dinov2.config.layerInfo(height: 224, width: 224, arch: "dinov2")
    let block = try #require(layers.first { $0.name == "blocks.11" })
    #expect(block.shape == [261, 384] && block.prefixTokens == 5)
    #expect(block.poolings == [.flatten, .avg, .token, .tokenAvg])
    #expect(block.featureLength(.tokenAvg) == 768 && block.featureLength(.flatten) == 261 * 384)
    let patches = try #require(layers.first { $0.name == "patch_embed" })
    #expect(patches.shape == [256, 384] && patches.poolings == [.flatten, .avg])
  }

  @Test func tooSmallAnInputIsRefused() {
    #expect(throws: BackboneError.self) { try Architecture.resnet18.config.layerInfo(height: 16, width: 224, arch: "resnet18") }
  }
}
