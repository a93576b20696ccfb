// The bird workflow's probe (seeds/001): nn.Linear(D, C) with PyTorch's default initialisation,
// CrossEntropyLoss, Adam(lr 1e-5), batch 64 reshuffled every epoch, 50 epochs, and per epoch the
// numbers the seed prints. Differences, on purpose: shuffling uses numpy's permutation with --seed
// (torch's generator cannot be reproduced outside torch), and the loss and gradients run through
// featx's GEMMs.

import DNNL
import CKernels
import Dispatch
import Foundation
import Support

/// Minibatch Adam on the softmax loss, as `torch.optim.Adam` computes it.
///
/// A step is memory-bound at the seed's shape (the [D, C] weights, both moments and the gradient are 40 MB
/// each), so it runs block by block of weight rows, each block while it is in cache: its gradient, its
/// Adam update, and its share of the next batch's logits. Threads own disjoint row ranges; their partial
/// logits are summed in a fixed order, so results depend on the thread count only by float rounding.
struct AdamRecipe {
  let settings: ProbeSettings

  /// Weight rows per block: weights, moments and gradient of 256 rows x 200 classes are 800 KB, an L2.
  static let blockRows = 256

  func train(_ data: ProbeDataset, progress: (ProbeEvent) -> Void) throws -> TrainedProbe {
    let s = settings
    try s.validate()
    let d = data.train.dimension
    let c = data.classes.count
    var rng = NumpyRandomState(seed: s.seed)
    // nn.Linear's reset_parameters: kaiming_uniform(a=√5) gives U(-1/√D, 1/√D) for the weight, and the
    // bias uses the same bound.
    let bound = 1 / Double(d).squareRoot()
    var model = LinearModel(dimension: d, classes: c)
    model.weights.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: -bound, high: bound) }
    model.bias.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: -bound, high: bound) }
    let threads = s.threads > 0 ? s.threads : CPU.available
    let state = AdamState(
      parameters: model.parameters, dimension: d, classes: c, batchSize: s.batchSize,
      parts: max(1, min(threads, d / Self.blockRows)))
    let clock = Date()
    var step = 0
    var history: [HistoryPoint] = []
    let n = data.train.rows

    for epoch in 0..<s.epochs {
      let order = rng.permutation(n)
      let batches = stride(from: 0, to: n, by: s.batchSize).map { Array(order[$0..<min(n, $0 + s.batchSize)]) }
      var seedLoss = 0.0
      var crossEntropy = 0.0
      var correct = 0
      try data.train.gather(batches[0], into: state.batch(0, rows: batches[0].count))
      try state.logits(batch: 0, rows: batches[0].count)
      for (b, rows) in batches.enumerated() {
        let m = rows.count
        // Loss (summed over the batch), predictions before the step, and dL/dlogits = (P - Y) / m.
        let pieces = Softmax.residualsInPlace(
          state.residual(rows: m), labels: rows.map { data.train.labels[$0] }, classes: c, divisor: Float(m))
        correct += pieces.correct
        crossEntropy += pieces.crossEntropy
        seedLoss += pieces.crossEntropy / Double(m)
        let next = b + 1 < batches.count ? batches[b + 1] : nil
        if let next { try data.train.gather(next, into: state.batch((b + 1) % 2, rows: next.count)) }
        step += 1
        try descend(state, batch: b % 2, rows: m, nextRows: next?.count ?? 0, step: step)
      }
      // Train loss and accuracy as the epoch ran (each batch before its step), as PyTorch loops report them:
      // a separate pass over the train rows would cost as much as the epoch's forward passes.
      var point = HistoryPoint(
        step: epoch, trainLoss: crossEntropy / Double(n), trainAccuracy: Double(correct) / Double(n),
        seedLoss: seedLoss / Double(n))
      if let test = data.test {
        let logits = try state.model.logits(test)
        point.record(test: SplitMetrics.scoring(logits, labels: test.labels, classes: c).0)
        // The seed's test_loss: batch-mean losses (batches of 64 in order) summed, divided by rows.
        var sum = 0.0
        var b = 0
        while b < test.rows {
          let rows = b..<min(test.rows, b + s.batchSize)
          sum += Softmax.meanCrossEntropy(
            Array(logits[(rows.lowerBound * c)..<(rows.upperBound * c)]), labels: Array(test.labels[rows]), classes: c)
          b = rows.upperBound
        }
        point.seedTestLoss = sum / Double(test.rows)
      }
      point.seconds = Date().timeIntervalSince(clock)
      history.append(point)
      progress(.epoch(point))
    }
    return TrainedProbe(
      model: state.model, standardization: nil, lambda: nil, sweep: [], history: history, seconds: 0, settings: s)
  }

  /// One step for the batch in slot `batch` (its residual in `state.residual`): per block of weight rows, the
  /// gradient, the Adam update and, when `nextRows` > 0, the next batch's (other slot) logits with the
  /// updated rows; then the bias, and the next logits into `state.residual`.
  private func descend(_ state: AdamState, batch: Int, rows m: Int, nextRows: Int, step t: Int) throws {
    let (d, c, parts) = (state.dimension, state.classes, state.parts)
    nonisolated(unsafe) let x = UnsafePointer(state.batch(batch, rows: m).baseAddress!)
    nonisolated(unsafe) let next = UnsafePointer(state.batch(1 - batch, rows: max(nextRows, 1)).baseAddress!)
    nonisolated(unsafe) let r = UnsafePointer(state.residual(rows: m).baseAddress!)
    let blocks = (d + Self.blockRows - 1) / Self.blockRows
    let failure = FirstError()
    DispatchQueue.concurrentPerform(iterations: parts) { part in
      do {
        try GEMM.withThreads(1) {
          try descendPart(
            state, part: part, of: parts, blocks: blocks, x: x, next: next, r: r, rows: m, nextRows: nextRows, step: t)
        }
      } catch { failure.set(error) }
    }
    try failure.rethrow()
    let biasGradient = Softmax.columnSums(UnsafeBufferPointer(start: r, count: m * c), classes: c)
    adam(state, offset: d * c, gradient: biasGradient, count: c, step: t)
    guard nextRows > 0 else { return }
    try state.logits(batch: nil, rows: nextRows)
  }

  /// Part `part` of `descend`: the gradient, update and next logits of its share of the blocks of weight rows.
  private func descendPart(
    _ state: AdamState, part: Int, of parts: Int, blocks: Int, x: UnsafePointer<Float>, next: UnsafePointer<Float>,
    r: UnsafePointer<Float>, rows m: Int, nextRows: Int, step t: Int
  ) throws {
    let (d, c) = (state.dimension, state.classes)
    let g = state.gradientScratch(part)
    let columns = state.columnScratch(part).baseAddress!
    let partial = state.partialLogits(part)
    partial.update(repeating: 0)
    for block in (part * blocks / parts)..<((part + 1) * blocks / parts) {
      let first = block * Self.blockRows
      let count = min(Self.blockRows, d - first)
      let offset = first * c
      // g[count, C] = x[:, first..<first+count]^T · residual, from the block's columns packed as rows
      featx_pack_transposed_f32(x + first, d, m, count, columns)
      try GEMM.multiply(columns, r, into: g.baseAddress!, m: count, n: c, k: m)
      adam(state, offset: offset, gradient: UnsafePointer(g.baseAddress!), count: count * c, step: t)
      if nextRows > 0 {
        try GEMM.multiply(
          next + first, state.parameters.baseAddress! + offset, into: partial.baseAddress!, m: nextRows, n: c, k: count,
          beta: 1, lda: d)
      }
    }
  }

  /// One `torch.optim.Adam` step over parameters `offset..<offset+count` (PyTorch's formulation:
  /// `denom = sqrt(v) / sqrt(1 - β2^t) + eps`, `p -= lr / (1 - β1^t) * m / denom`; weight decay adds
  /// `wd * p` to the gradient), in CKernels.
  private func adam(_ state: AdamState, offset: Int, gradient G: UnsafePointer<Float>, count: Int, step t: Int) {
    let s = settings
    let b1 = Float(s.beta1)
    let b2 = Float(s.beta2)
    let eps = Float(s.epsilon)
    let wd = Float(s.weightDecay)
    let stepSize = Float(s.learningRate / (1 - pow(s.beta1, Double(t))))
    let correction2 = Float((1 - pow(s.beta2, Double(t))).squareRoot())
    featx_adam_step(
      state.parameters.baseAddress! + offset, G, state.firstMoment.baseAddress! + offset,
      state.secondMoment.baseAddress! + offset, count, b1, b2, eps, wd, stepSize, correction2)
  }
}

/// The buffers of an Adam run, allocated once: parameters (weights [D, C], then bias [C]) and both moments,
/// two batch slots (the current batch and the next one), the residual/logits of a batch, and per thread a
/// gradient block, its batch columns packed as rows, and partial logits.
private final class AdamState: @unchecked Sendable {
  let dimension: Int
  let classes: Int
  let batchSize: Int
  let parts: Int
  let parameters: UnsafeMutableBufferPointer<Float>
  let firstMoment: UnsafeMutableBufferPointer<Float>
  let secondMoment: UnsafeMutableBufferPointer<Float>
  private let batches: UnsafeMutableBufferPointer<Float>
  private let residuals: UnsafeMutableBufferPointer<Float>
  private let scratch: UnsafeMutableBufferPointer<Float>
  private let columns: UnsafeMutableBufferPointer<Float>
  private let partials: UnsafeMutableBufferPointer<Float>

  init(parameters values: [Float], dimension: Int, classes: Int, batchSize: Int, parts: Int) {
    (self.dimension, self.classes, self.batchSize, self.parts) = (dimension, classes, batchSize, parts)
    func zeros(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
      buffer.initialize(repeating: 0)
      return buffer
    }
    parameters = zeros(values.count)
    _ = parameters.update(fromContentsOf: values)
    firstMoment = zeros(values.count)
    secondMoment = zeros(values.count)
    batches = zeros(2 * batchSize * dimension)
    residuals = zeros(batchSize * classes)
    scratch = zeros(parts * AdamRecipe.blockRows * classes)
    columns = zeros(parts * AdamRecipe.blockRows * batchSize)
    partials = zeros(parts * batchSize * classes)
  }

  deinit {
    for buffer in [parameters, firstMoment, secondMoment, batches, residuals, scratch, columns, partials] { buffer.deallocate() }
  }

  /// Batch slot 0 or 1, `rows` rows of D values.
  func batch(_ slot: Int, rows: Int) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(rebasing: batches[(slot * batchSize * dimension)..<((slot * batchSize + rows) * dimension)])
  }

  func residual(rows: Int) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(rebasing: residuals[0..<(rows * classes)])
  }

  func gradientScratch(_ part: Int) -> UnsafeMutableBufferPointer<Float> {
    let size = AdamRecipe.blockRows * classes
    return UnsafeMutableBufferPointer(rebasing: scratch[(part * size)..<((part + 1) * size)])
  }

  /// Part `part`'s block of batch columns, packed as `[blockRows, batchSize]` rows for the gradient product.
  func columnScratch(_ part: Int) -> UnsafeMutableBufferPointer<Float> {
    let size = AdamRecipe.blockRows * batchSize
    return UnsafeMutableBufferPointer(rebasing: columns[(part * size)..<((part + 1) * size)])
  }

  func partialLogits(_ part: Int) -> UnsafeMutableBufferPointer<Float> {
    let size = batchSize * classes
    return UnsafeMutableBufferPointer(rebasing: partials[(part * size)..<((part + 1) * size)])
  }

  /// The residual buffer := bias + the logits of batch slot `batch` (one GEMM over the current weights), or,
  /// with `batch` nil, bias + the threads' partial logits summed in order.
  func logits(batch: Int?, rows: Int) throws {
    let out = residual(rows: rows)
    let bias = parameters.baseAddress! + dimension * classes
    for row in 0..<rows { (out.baseAddress! + row * classes).update(from: bias, count: classes) }
    if let batch {
      try GEMM.multiply(
        UnsafePointer(self.batch(batch, rows: rows).baseAddress!), UnsafePointer(parameters.baseAddress!),
        into: out.baseAddress!, m: rows, n: classes, k: dimension, beta: 1)
      return
    }
    for part in 0..<parts {
      let partial = partialLogits(part)
      for i in out.indices { out[i] += partial[i] }
    }
  }

  /// The current parameters as a model (a copy).
  var model: LinearModel {
    LinearModel(dimension: dimension, classes: classes, parameters: Array(parameters))
  }
}
