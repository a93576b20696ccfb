import ArgumentParser
import Backbones
import Foundation

/// `featx bench`: forward-only speed of a backbone (images/s and GFLOPS).
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure a backbone's forward-only speed: images/s and GFLOPS (random weights unless --weights is given).")

  @OptionGroup var backbone: BackboneOptions

  @Option(help: "Images per batch.")
  var batch: Int = 32

  @Option(help: "Input size in pixels (square; default: the architecture's evaluation crop, 224, or 299 for inception_v3).")
  var size: Int?

  @Option(help: "Seconds to measure after warm-up.")
  var seconds: Double = 10

  @Flag(help: "Print one JSON object.")
  var json = false

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1 image, not \(batch)") }
    if let size, size < 32 { throw ValidationError("--size must be at least 32 pixels, not \(size)") }
    guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be a positive number, not \(seconds)") }
  }

  /// What `--json` prints.
  struct Result: Encodable {
    var arch: String
    var layer: String
    var batch: Int
    var threads: Int
    var precision: String
    /// With `--precision auto`: what it chose and why.
    var precisionChoice: String?
    var size: Int
    var imagesPerSecond: Double
    var bestImagesPerSecond: Double
    var gflops: Double
    var iterations: Int
    var warmupSeconds: Double
  }

  func run() throws {
    var options = backbone
    if options.weights == nil { options.weights = "random" }
    let loaded = try options.load()
    let net = loaded.backbone
    let size = self.size ?? (Architecture(rawValue: net.name)?.evaluationSize ?? 224)
    var timer = try ForwardTimer(net, height: size, width: size, batch: batch)
    func once() throws -> Double { try timer.seconds() }
    let warmup = try once()
    var times: [Double] = []
    var total = 0.0
    repeat {
      let t = try once()
      times.append(t)
      total += t
    } while total < seconds || times.count < 3
    times.sort()
    let median = times[times.count / 2]
    let imagesPerSecond = Double(batch) / median
    let gflops = 2 * Double(net.multiplyAdds(height: size, width: size)) * imagesPerSecond / 1e9
    let result = Result(
      arch: net.name, layer: net.layer, batch: batch, threads: net.threads, precision: net.precision.rawValue,
      precisionChoice: try backbone.precisionChoice(), size: size,
      imagesPerSecond: imagesPerSecond,
      bestImagesPerSecond: Double(batch) / times[0], gflops: gflops, iterations: times.count, warmupSeconds: warmup)
    if json {
      print(try JSONText.encode(result))
    } else {
      if let choice = result.precisionChoice { print(choice) }
      print(
        String(
          format: "%@ (%@, %@) batch %d, %d threads, %dx%d: %.1f img/s (best %.1f), %.0f GFLOPS, %d iterations",
          net.name, net.layer, net.precision.rawValue, batch, net.threads, size, size, imagesPerSecond, Double(batch) / times[0],
          gflops, times.count))
    }
  }
}

/// One batch of random pixels through a backbone, timed: `featx bench` and `extract --dry-run`'s estimate.
struct ForwardTimer {
  let backbone: Backbone
  let height: Int
  let width: Int
  let batch: Int
  private let input: [Float]
  private var output: [Float]

  init(_ backbone: Backbone, height: Int, width: Int, batch: Int) throws {
    (self.backbone, self.height, self.width, self.batch) = (backbone, height, width, batch)
    var rng = SystemRandomNumberGenerator()
    input = (0..<(batch * 3 * height * width)).map { _ in Float.random(in: 0..<1, using: &rng) }
    output = [Float](repeating: 0, count: batch * (try backbone.outputShape(height: height, width: width).reduce(1, *)))
  }

  /// Seconds of one forward pass of the batch.
  mutating func seconds() throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    let (backbone, height, width, batch) = (backbone, height, width, batch)
    try input.withUnsafeBufferPointer { i in
      try output.withUnsafeMutableBufferPointer {
        try backbone.run(images: i, count: batch, height: height, width: width, into: $0)
      }
    }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  }
}
