import ArgumentParser
import Backbones
import Foundation

/// `featx layers --arch A`: every layer `--layer` accepts, with its shape and feature lengths.
struct LayersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "layers",
    abstract: "List the layers --layer can tap: output shape at an input size, feature length per pooling, the default.")

  @Option(help: "Backbone architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
  var arch: String = "densenet121"

  @Option(
    help:
      "Input size H,W (or S for S,S) after preprocessing (default: the crop of the architecture's weights, 224; 299 for inception_v3)."
  )
  var size: String?

  @Flag(help: "Print the list as JSON.")
  var json = false

  func validate() throws {
    do { _ = try Architecture.named(arch) } catch { throw ValidationError("--arch: \(error)") }
    _ = try inputSize()
  }

  func inputSize() throws -> (height: Int, width: Int) {
    guard let size else {
      let crop = (try? Architecture.named(arch))?.evaluationSize ?? 224
      return (crop, crop)
    }
    let parts = size.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard (1...2).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) >= 32 }) else {
      throw ValidationError("--size takes S or H,W of at least 32 pixels, not '\(size)'")
    }
    return (parts[0]!, parts.count == 2 ? parts[1]! : parts[0]!)
  }

  /// One row of `--json`.
  struct Row: Encodable {
    var layer: String
    var shape: [Int]
    var reduction: Int
    var flatten: Int
    var avg: Int
    var max: Int
    var `default`: Bool
  }

  func run() throws {
    let architecture = try Architecture.named(arch)
    let (h, w) = try inputSize()
    let layers = try architecture.config.layerInfo(height: h, width: w, arch: architecture.rawValue)
    if json {
      let rows = layers.map {
        Row(
          layer: $0.name, shape: $0.shape, reduction: $0.reduction, flatten: $0.featureLength(.flatten),
          avg: $0.featureLength(.avg), max: $0.featureLength(.max), default: $0.isDefault)
      }
      print(try JSONText.encode(rows))
      return
    }
    print("\(architecture.rawValue) at \(h)x\(w): layer, [C, H, W], reduction, features per image (flatten / avg or max)")
    let width = layers.map(\.name.count).max() ?? 0
    for l in layers {
      let shape = "[\(l.shape.map(String.init).joined(separator: ", "))]"
      let name = l.name.padding(toLength: width, withPad: " ", startingAt: 0)
      print(
        "  \(name)  \(shape.padding(toLength: 16, withPad: " ", startingAt: 0))  /\(l.reduction)\t"
          + "flatten \(l.featureLength(.flatten)), avg \(l.featureLength(.avg))\(l.isDefault ? "   (default)" : "")")
    }
  }
}
