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
    var max: Int?
    /// Token maps: the class token, and the class token beside the patch tokens' mean.
    var token: Int?
    var tokenAvg: Int?
    /// Token maps: the class and register tokens before the patch tokens.
    var prefixTokens: Int?
    var `default`: Bool
  }

  func run() throws {
    let architecture = try Architecture.named(arch)
    let (h, w) = try inputSize()
    let layers = try architecture.config.layerInfo(height: h, width: w, arch: architecture.rawValue)
    if json {
      let rows = layers.map {
        let tokens = $0.prefixTokens != nil
        let classToken = ($0.prefixTokens ?? 0) > 0
        return Row(
          layer: $0.name, shape: $0.shape, reduction: $0.reduction, flatten: $0.featureLength(.flatten),
          avg: $0.featureLength(.avg), max: tokens ? nil : $0.featureLength(.max),
          token: classToken ? $0.featureLength(.token) : nil, tokenAvg: classToken ? $0.featureLength(.tokenAvg) : nil,
          prefixTokens: $0.prefixTokens, default: $0.isDefault)
      }
      print(try JSONText.encode(rows))
      return
    }
    let tokens = layers.contains { $0.prefixTokens != nil }
    let shapeName = tokens ? "[C, H, W] or [tokens, D]" : "[C, H, W]"
    print("\(architecture.rawValue) at \(h)x\(w): layer, \(shapeName), reduction, features per image (flatten / avg or max)")
    let width = layers.map(\.name.count).max() ?? 0
    for l in layers {
      let shape = "[\(l.shape.map(String.init).joined(separator: ", "))]"
      let name = l.name.padding(toLength: width, withPad: " ", startingAt: 0)
      var lengths = "flatten \(l.featureLength(.flatten)), avg \(l.featureLength(.avg))"
      if let prefix = l.prefixTokens, prefix > 0 {
        lengths += ", token \(l.featureLength(.token)), token+avg \(l.featureLength(.tokenAvg)) (\(prefix) prefix)"
      }
      print(
        "  \(name)  \(shape.padding(toLength: 16, withPad: " ", startingAt: 0))  /\(l.reduction)\t"
          + lengths + (l.isDefault ? "   (default)" : ""))
    }
  }
}
