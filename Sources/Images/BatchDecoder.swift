// Decoding and preprocessing of whole batches on several cores, one batch ahead of the backbone.
//
// The next batch is decoded while the backbone runs the current one, so at most two batches of network
// input are in memory, and each worker holds one full-size decoded image at a time: memory stays bounded
// whatever the photos' size. The number of workers follows a measurement, not a guess: after each batch
// the caller reports how long the backbone took, and the decoder uses as many workers as it takes to
// decode a batch in that time (one for small images, every core for 12-megapixel photos). Which worker
// decodes an image never changes its pixels.

import Dispatch
import Foundation
import Support

/// A batch of decoded, preprocessed images (network input), with the rows that could not be read.
public final class DecodedBatch: @unchecked Sendable {
  // Sendable: filled by the workers (disjoint rows) before the pending batch's semaphore is signalled,
  // and only read afterwards by the thread that waited on it.
  public let range: Range<Int>
  /// `range.count` images of [3, H, W] float32; rows that failed stay zero.
  public var tensors: [Float]
  /// Row → why it could not be read.
  public var failures: [Int: ImageError] = [:]
  /// Seconds the workers spent decoding and preprocessing, summed over workers (CPU time, roughly).
  public var decodeSeconds = 0.0

  init(range: Range<Int>, plane: Int) {
    self.range = range
    tensors = [Float](repeating: 0, count: range.count * plane)
  }

  /// The rows that decoded, and their tensors one after another (the batch's own array when every row did).
  public func decodedRows() -> (rows: [Int], tensors: [Float]) {
    let rows = range.filter { failures[$0] == nil }
    guard rows.count < range.count else { return (rows, tensors) }
    let plane = range.isEmpty ? 0 : tensors.count / range.count
    var packed = [Float](repeating: 0, count: rows.count * plane)
    for (slot, row) in rows.enumerated() {
      let offset = (row - range.lowerBound) * plane
      packed.replaceSubrange((slot * plane)..<((slot + 1) * plane), with: tensors[offset..<(offset + plane)])
    }
    return (rows, packed)
  }

  /// The rows `part` of this batch as a batch of their own (their tensors and failures).
  public func rows(_ part: Range<Int>) -> DecodedBatch {
    precondition(
      range.lowerBound <= part.lowerBound && part.upperBound <= range.upperBound, "DecodedBatch.rows: \(part) outside \(range)")
    if part == range { return self }
    let plane = range.isEmpty ? 0 : tensors.count / range.count
    let slice = DecodedBatch(range: part, plane: 0)
    let offset = part.lowerBound - range.lowerBound
    slice.tensors = Array(tensors[(offset * plane)..<((offset + part.count) * plane)])
    slice.failures = failures.filter { part.contains($0.key) }
    return slice
  }
}

/// A batch being decoded in the background.
public final class PendingBatch: @unchecked Sendable {
  // Sendable: `batch` is written once before `done` is signalled and read after waiting on it.
  private let done = DispatchSemaphore(value: 0)
  fileprivate var batch: DecodedBatch?

  /// Blocks until the batch is decoded.
  @discardableResult
  public func wait() -> DecodedBatch {
    done.wait()
    done.signal()
    guard let batch else { preconditionFailure("PendingBatch.wait: signalled without a batch") }
    return batch
  }

  fileprivate func finish(_ batch: DecodedBatch) {
    self.batch = batch
    done.signal()
  }
}

/// Decodes and preprocesses batches of image files into network input, on up to `maxWorkers` cores.
public final class BatchDecoder: @unchecked Sendable {
  // Sendable: each decoder is used by one worker of the one batch in flight on the serial `queue`;
  // `workers` is only read and written under `lock`.
  private let queue = DispatchQueue(label: "featx.decode", qos: .userInitiated)
  private let decoders: [ImageDecoder]
  private let paths: [String]
  private let preprocessing: Preprocessing
  private let plane: Int
  private let size: (height: Int, width: Int)
  private let lock = NSLock()
  private var chosenWorkers: Int
  private let pinned: Bool

  /// - Parameters:
  ///   - paths: the files, one per row.
  ///   - maxWorkers: at most this many decoding threads (the CPUs the caller may use).
  ///   - workers: a fixed number of workers instead of the measured one (`FEATX_DECODE_WORKERS` also pins it).
  public init(
    paths: [String], preprocessing: Preprocessing, size: (height: Int, width: Int), maxPixels: Int, maxWorkers: Int,
    workers: Int? = nil
  ) {
    self.paths = paths
    self.preprocessing = preprocessing
    self.size = size
    plane = 3 * size.height * size.width
    let environment = ProcessInfo.processInfo.environment["FEATX_DECODE_WORKERS"].flatMap(Int.init).flatMap { $0 >= 1 ? $0 : nil }
    let limit = max(1, maxWorkers)
    let fixed = workers ?? environment
    decoders = (0..<max(limit, fixed ?? 1)).map { _ in ImageDecoder(maxPixels: maxPixels) }
    // The first batch decodes while nothing else runs: every worker. Later batches follow the measurement.
    chosenWorkers = min(fixed ?? decoders.count, decoders.count)
    pinned = fixed != nil
  }

  /// Workers the next batch will use.
  public var workers: Int { lock.withLock { chosenWorkers } }

  /// Tells the decoder how long the backbone took for `batch`: the next batch gets as many workers as it
  /// takes to decode it in that time (at least one, at most `maxWorkers`), unless the count is pinned.
  public func backboneTook(_ seconds: Double, for batch: DecodedBatch) {
    guard !pinned, seconds > 0 else { return }
    let needed = Int((batch.decodeSeconds / seconds).rounded(.up))
    lock.withLock { chosenWorkers = min(max(1, needed), decoders.count) }
  }

  /// Starts decoding rows `range` of `paths`.
  public func start(_ range: Range<Int>) -> PendingBatch {
    let pending = PendingBatch()
    let workers = self.workers
    queue.async { [self] in
      let batch = DecodedBatch(range: range, plane: plane)
      var failures = [[Int: ImageError]](repeating: [:], count: workers)
      var seconds = [Double](repeating: 0, count: workers)
      batch.tensors.withUnsafeMutableBufferPointer { all in
        nonisolated(unsafe) let base = all.baseAddress
        failures.withUnsafeMutableBufferPointer { failed in
          seconds.withUnsafeMutableBufferPointer { spent in
            nonisolated(unsafe) let (failed, spent) = (failed, spent)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
              let started = DispatchTime.now().uptimeNanoseconds
              // Worker w takes rows w, w + workers, …: each row's pixels go to its own slice.
              for row in stride(from: range.lowerBound + w, to: range.upperBound, by: workers) {
                let offset = (row - range.lowerBound) * plane
                let slice = UnsafeMutableBufferPointer(start: base.map { $0 + offset }, count: plane)
                if let error = decode(row, into: slice, with: decoders[w]) { failed[w][row] = error }
              }
              spent[w] = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            }
          }
        }
      }
      for part in failures { batch.failures.merge(part) { first, _ in first } }
      batch.decodeSeconds = seconds.reduce(0, +)
      pending.finish(batch)
    }
    return pending
  }

  /// Decodes, preprocesses and writes one row; returns why it failed, if it did.
  private func decode(_ row: Int, into slice: UnsafeMutableBufferPointer<Float>, with decoder: ImageDecoder) -> ImageError? {
    let path = paths[row]
    do {
      let image = try preprocessing.pixels(ofFileAt: path, decoder: decoder)
      guard image.width == size.width, image.height == size.height else {
        throw ImageError(path: path, kind: .unsupported, detail: "preprocessed to \(image.width)x\(image.height)")
      }
      preprocessing.tensor(image, into: slice)
      return nil
    } catch let error as ImageError {
      return error
    } catch {
      return ImageError(path: path, kind: .corrupt, detail: "\(error)")
    }
  }
}
