// The one decode-ahead loop from image files to feature rows: the next batch is decoded (on as many cores
// as keep up with the backbone, `BatchDecoder`) while the backbone runs the current one. `featx extract`
// and `featx predict` both run it.

import Backbones
import Dispatch
import Images

/// Image files → preprocessed batches → feature rows.
public struct FeaturePipeline {
  public let backbone: Backbone
  public let preprocessing: Preprocessing
  /// How the backbone shares its threads: whole images per thread (`perImage`, results independent of the
  /// batch, what extraction needs) or the automatic choice.
  public var parallelism: Backbone.Parallelism = .automatic
  public var maxPixels = ImageDecoder.defaultMaxPixels

  public init(backbone: Backbone, preprocessing: Preprocessing) {
    self.backbone = backbone
    self.preprocessing = preprocessing
  }

  /// Runs `paths[start...]` in batches of `batchSize`, calling `body` with each decoded batch and its
  /// feature rows (one per image of the batch; the rows of images that could not be decoded are zero and
  /// named in `batch.failures`). `body` returns false to stop after that batch; a throw from it stops too.
  /// Either way the batch being decoded ahead is waited for, so no decoding outlives the call.
  ///
  /// - Throws: `PreprocessingError` when the preprocessing has no fixed size; whatever the backbone or
  ///   `body` throws.
  public func run(
    _ paths: [String], from start: Int = 0, batchSize: Int, _ body: (DecodedBatch, [Float]) throws -> Bool
  ) throws {
    guard let size = preprocessing.fixedSize else { throw PreprocessingError(parameter: .crop, reason: "no fixed input size") }
    guard start < paths.count else { return }
    let width = try backbone.outputShape(height: size.height, width: size.width).reduce(1, *)
    let decoder = BatchDecoder(
      paths: paths, preprocessing: preprocessing, size: size, maxPixels: maxPixels, maxWorkers: backbone.threads)
    let runSize = try self.runSize(batchSize: batchSize, size: size)
    var pending: PendingBatch? = decoder.start(start..<min(paths.count, start + runSize))
    defer { _ = pending?.wait() }
    while let current = pending {
      let batch = current.wait()
      let next = batch.range.upperBound
      pending = next < paths.count ? decoder.start(next..<min(paths.count, next + runSize)) : nil
      var output = [Float](repeating: 0, count: batch.range.count * width)
      let forward = DispatchTime.now().uptimeNanoseconds
      try features(of: batch, size: size, width: width, into: &output)
      decoder.backboneTook(Double(DispatchTime.now().uptimeNanoseconds - forward) / 1e9, for: batch)
      for first in stride(from: batch.range.lowerBound, to: next, by: batchSize) {
        let part = first..<min(first + batchSize, next)
        let offset = (first - batch.range.lowerBound) * width
        let rows = part == batch.range ? output : Array(output[offset..<(offset + part.count * width)])
        guard try body(batch.rows(part), rows) else { return }
      }
    }
  }

  /// Images decoded and run at once: `batchSize`, or under `.perImage` enough whole batches to fill the
  /// backbone's fixed image group (`Backbone.imagesPerRun`). The backbone pads a smaller call to a whole
  /// group, so `--batch 1` on a ResNet computed 8 images per image; `body` still sees `batchSize` rows at a
  /// time, so commits, stops and resumes keep their granularity.
  private func runSize(batchSize: Int, size: (height: Int, width: Int)) throws -> Int {
    guard parallelism == .perImage else { return batchSize }
    let group = try backbone.imagesPerRun(height: size.height, width: size.width)
    return (group + batchSize - 1) / batchSize * batchSize
  }

  /// Runs the backbone on the decodable images of a batch; the rows of the others stay zero.
  private func features(of batch: DecodedBatch, size: (height: Int, width: Int), width: Int, into output: inout [Float]) throws {
    let (good, input) = batch.decodedRows()
    guard !good.isEmpty else { return }
    func run(into features: UnsafeMutableBufferPointer<Float>) throws {
      try input.withUnsafeBufferPointer {
        try backbone.run(
          images: $0, count: good.count, height: size.height, width: size.width, into: features, parallelism: parallelism)
      }
    }
    if good.count == batch.range.count {
      try output.withUnsafeMutableBufferPointer { try run(into: $0) }
      return
    }
    // Run the decoded images only, and scatter their rows back.
    var compact = [Float](repeating: 0, count: good.count * width)
    try compact.withUnsafeMutableBufferPointer { try run(into: $0) }
    for (i, row) in good.enumerated() {
      let offset = (row - batch.range.lowerBound) * width
      output.replaceSubrange(offset..<(offset + width), with: compact[(i * width)..<((i + 1) * width)])
    }
  }
}
