import Foundation
import Testing
import TestSupport

@Suite struct LayersCLITests {
  @Test func listsEveryLayerWithShapesLengthsAndTheDefault() throws {
    let text = try runFeatx(["layers", "--arch", "densenet121"])
    #expect(text.status == 0, "\(text.stderr)")
    #expect(text.stdout.contains("features     [1024, 7, 7]      /32\tflatten 50176, avg 1024   (default)"), "\(text.stdout)")
    let json = try runFeatx(["layers", "--arch", "resnet18", "--size", "64,96", "--json"])
    #expect(json.status == 0, "\(json.stderr)")
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(rows.map { $0["layer"] as? String } == ["layer1", "layer2", "layer3", "layer4", "avgpool"])
    #expect(rows.last?["default"] as? Bool == true)
    #expect(rows[3]["shape"] as? [Int] == [512, 2, 3])
    #expect(rows[3]["flatten"] as? Int == 3072)
  }

  @Test func refusesUnknownArchitecturesAndTinySizes() throws {
    let arch = try runFeatx(["layers", "--arch", "vgg16"])
    #expect(arch.status == 64)
    #expect(arch.stderr.contains("unknown architecture 'vgg16'"), "\(arch.stderr)")
    let size = try runFeatx(["layers", "--size", "16"])
    #expect(size.status == 64)
    #expect(size.stderr.contains("--size takes S or H,W of at least 32 pixels"), "\(size.stderr)")
  }
}
