// The bird workflow's probe (seeds/001): nn.Linear(D, C) with PyTorch's default initialisation,
// CrossEntropyLoss, Adam(lr 1e-5), batch 64 reshuffled every epoch, 50 epochs, and per epoch the
// numbers the seed prints. Differences, on purpose: shuffling uses numpy's permutation with --seed
// (torch's generator cannot be reproduced outside torch), and the loss and gradients run through
// featx's GEMMs.

import Backbones
import Dispatch
import Foundation
import Support

/// Minibatch Adam on the softmax loss, as `torch.optim.Adam` computes it.
struct AdamRecipe {
  let settings: ProbeSettings

  func train(_ data: ProbeDataset, progress: (ProbeEvent) -> Void) throws -> TrainedProbe {
    let s = settings
    guard s.epochs > 0, s.batchSize > 0, s.learningRate > 0 else {
      throw ProbeError.badOption("--epochs, --batch and --lr must be positive")
    }
    let d = data.train.dimension
    let c = data.classes.count
    var rng = NumpyRandomState(seed: s.seed)
    // nn.Linear's reset_parameters: kaiming_uniform(a=√5) gives U(-1/√D, 1/√D) for the weight, and the
    // bias uses the same bound.
    let bound = 1 / Double(d).squareRoot()
    var model = LinearModel(dimension: d, classes: c)
    model.weights.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: -bound, high: bound) }
    model.bias.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: -bound, high: bound) }
    var parameters = model.parameters
    let clock = Date()
    var firstMoment = [Float](repeating: 0, count: parameters.count)
    var secondMoment = [Float](repeating: 0, count: parameters.count)
    var gradient = [Float](repeating: 0, count: parameters.count)
    var step = 0
    var history: [HistoryPoint] = []
    let n = data.train.rows
    var batch = [Float](repeating: 0, count: s.batchSize * d)

    for epoch in 0..<s.epochs {
      let order = rng.permutation(n)
      var seedLoss = 0.0
      var correct = 0
      var start = 0
      while start < n {
        let rows = Array(order[start..<min(n, start + s.batchSize)])
        start += rows.count
        let m = rows.count
        try batch.withUnsafeMutableBufferPointer {
          try data.train.gather(rows, into: UnsafeMutableBufferPointer(rebasing: $0[0..<(m * d)]))
        }
        let current = LinearModel(dimension: d, classes: c, parameters: parameters)
        var residual = batch.withUnsafeBufferPointer { current.logits(UnsafeBufferPointer(rebasing: $0[0..<(m * d)]), rows: m) }
        // Loss (mean over the batch), predictions before the step, and dL/dlogits = (P - Y) / m.
        let pieces = residual.withUnsafeMutableBufferPointer {
          Softmax.residualsInPlace($0, labels: rows.map { data.train.labels[$0] }, classes: c, divisor: Float(m))
        }
        correct += pieces.correct
        let batchLoss = pieces.crossEntropy
        seedLoss += batchLoss / Double(m)
        gradient.withUnsafeMutableBufferPointer { g in
          batch.withUnsafeBufferPointer { x in
            residual.withUnsafeBufferPointer { r in
              GEMM.multiply(x.baseAddress!, transposeA: true, r.baseAddress!, into: g.baseAddress!, m: d, n: c, k: m)
            }
          }
          for k in 0..<c {
            var sum: Float = 0
            for row in 0..<m { sum += residual[row * c + k] }
            g[d * c + k] = sum
          }
        }
        step += 1
        update(&parameters, gradient: &gradient, m: &firstMoment, v: &secondMoment, step: step)
      }
      var point = HistoryPoint(
        step: epoch, trainLoss: .nan, trainAccuracy: Double(correct) / Double(n), seedLoss: seedLoss / Double(n))
      let current = LinearModel(dimension: d, classes: c, parameters: parameters)
      let trainLogits = try current.logits(data.train)
      point.trainLoss = Softmax.meanCrossEntropy(trainLogits, labels: data.train.labels, classes: c)
      if let test = data.test {
        let logits = try current.logits(test)
        point.testLoss = Softmax.meanCrossEntropy(logits, labels: test.labels, classes: c)
        point.testAccuracy = Metrics.accuracy(predicted: Metrics.argmax(logits, classes: c), labels: test.labels)
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
      model: LinearModel(dimension: d, classes: c, parameters: parameters), standardization: nil, lambda: nil, sweep: [],
      history: history, seconds: 0, settings: s)
  }

  /// One `torch.optim.Adam` step (PyTorch's formulation: `denom = sqrt(v) / sqrt(1 - β2^t) + eps`,
  /// `p -= lr / (1 - β1^t) * m / denom`; weight decay adds `wd * p` to the gradient), split across cores.
  private func update(_ p: inout [Float], gradient g: inout [Float], m: inout [Float], v: inout [Float], step t: Int) {
    let s = settings
    let b1 = Float(s.beta1)
    let b2 = Float(s.beta2)
    let eps = Float(s.epsilon)
    let wd = Float(s.weightDecay)
    let stepSize = Float(s.learningRate / (1 - pow(s.beta1, Double(t))))
    let correction2 = Float((1 - pow(s.beta2, Double(t))).squareRoot())
    let count = p.count
    let parts = max(1, min(Backbone.onlineCPUs, count / 65_536))
    p.withUnsafeMutableBufferPointer { pp in
      g.withUnsafeMutableBufferPointer { gg in
        m.withUnsafeMutableBufferPointer { mm in
          v.withUnsafeMutableBufferPointer { vv in
            nonisolated(unsafe) let (P, G, M, V) = (pp.baseAddress!, gg.baseAddress!, mm.baseAddress!, vv.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
              let range = (part * count / parts)..<((part + 1) * count / parts)
              for i in range {
                let grad = G[i] + wd * P[i]
                let mi = b1 * M[i] + (1 - b1) * grad
                let vi = b2 * V[i] + (1 - b2) * grad * grad
                M[i] = mi
                V[i] = vi
                P[i] -= stepSize * mi / (vi.squareRoot() / correction2 + eps)
              }
            }
          }
        }
      }
    }
  }
}
