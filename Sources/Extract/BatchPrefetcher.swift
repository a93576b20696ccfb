import Dispatch
import Images

/// A batch of decoded, preprocessed images (network input), with the rows that could not be read.
final class DecodedBatch: @unchecked Sendable {
  // Sendable: filled on the decode queue before the pending batch's semaphore is signalled, and only
  // read afterwards by the thread that waited on it.
  let range: Range<Int>
  /// `range.count` images of [3, H, W] float32; rows that failed stay zero.
  var tensors: [Float]
  /// Row → why it could not be read.
  var failures: [Int: ImageError] = [:]

  init(range: Range<Int>, plane: Int) {
    self.range = range
    tensors = [Float](repeating: 0, count: range.count * plane)
  }
}

/// A batch being decoded in the background.
final class PendingBatch: @unchecked Sendable {
  // Sendable: `batch` is written once before `done` is signalled and read after waiting on it.
  private let done = DispatchSemaphore(value: 0)
  fileprivate var batch: DecodedBatch?

  /// Blocks until the batch is decoded.
  @discardableResult
  func wait() -> DecodedBatch {
    done.wait()
    done.signal()
    return batch!
  }

  fileprivate func finish(_ batch: DecodedBatch) {
    self.batch = batch
    done.signal()
  }
}

/// Decodes and preprocesses the next batch on its own thread while the backbone runs the current one.
final class BatchPrefetcher: @unchecked Sendable {
  // Sendable: the decoder is only touched on the serial `queue`; the rest is immutable.
  private let queue = DispatchQueue(label: "featx.decode", qos: .userInitiated)
  private let decoder: ImageDecoder
  private let root: String
  private let paths: [String]
  private let preprocessing: Preprocessing
  private let plane: Int
  private let size: (height: Int, width: Int)

  init(root: String, paths: [String], preprocessing: Preprocessing, size: (height: Int, width: Int), maxPixels: Int) {
    self.root = root
    self.paths = paths
    self.preprocessing = preprocessing
    self.size = size
    plane = 3 * size.height * size.width
    decoder = ImageDecoder(maxPixels: maxPixels)
  }

  /// Starts decoding rows `range`.
  func start(_ range: Range<Int>) -> PendingBatch {
    let pending = PendingBatch()
    queue.async { [self] in
      let batch = DecodedBatch(range: range, plane: plane)
      batch.tensors.withUnsafeMutableBufferPointer { all in
        for row in range {
          let path = root + "/" + paths[row]
          do {
            let image = try preprocessing.pixels(try decoder.decode(path: path), maxPixels: decoder.maxPixels, path: path)
            guard image.width == size.width, image.height == size.height else {
              throw ImageError(path: path, kind: .unsupported, detail: "preprocessed to \(image.width)x\(image.height)")
            }
            let offset = (row - range.lowerBound) * plane
            preprocessing.tensor(image, into: UnsafeMutableBufferPointer(rebasing: all[offset..<(offset + plane)]))
          } catch let error as ImageError {
            batch.failures[row] = error
          } catch {
            batch.failures[row] = ImageError(path: path, kind: .corrupt, detail: "\(error)")
          }
        }
      }
      pending.finish(batch)
    }
    return pending
  }
}
