// L-BFGS for the L2-regularised softmax regression in the row space of the training features, used when
// there are more features than rows (DenseNet's 50176-d flattened maps on a few thousand images).
//
// Every iterate of L-BFGS started at W = 0 stays in the span of the training rows, so W = Zᵀ·A for an
// n×C matrix A (Z: the n×D training rows, standardised if asked). With the Gram matrix K = Z·Zᵀ the
// logits are K·A + b and the penalty is λ/2·⟨A, K·A⟩. Running L-BFGS on A with the inner product
// ⟨U, V⟩_K = tr(Uᵀ·K·V) reproduces the primal iterates exactly (same directions, same steps), but
// each iteration costs one n×n×C product (K·d is assembled from the K-images the solver keeps) instead
// of two n×D×C ones; K costs n²·D once (GramMatrix.swift) and is shared by the whole regularisation sweep.

import CKernels
import Foundation

/// L-BFGS on (A, b) with the ⟨·,·⟩_K geometry (see the file comment).
struct GramLBFGS {
  let gram: GramMatrix
  let labels: [Int]
  let classes: Int
  let lambda: Double
  /// Correction pairs kept: 5, not the primal solver's 10. The bookkeeping over the pairs' n·C vectors (and
  /// their K-images) is memory-bound and costs as much as the product with K at 10 pairs; at 5, a sweep
  /// iteration on cub_birds50 takes 4.2 ms instead of 5.0, with the same test accuracy (0.502).
  var memory = 5
  var maxIterations = 300
  /// Stop when the gradient's norm falls below this fraction of its norm at W = 0, b = 0.
  var relativeTolerance = 1e-3
  /// Iterations between exact recomputations of K·a.
  var refreshInterval = 10

  struct State {
    var a: [Float]
    var b: [Float]
  }

  struct Result {
    var state: State
    var iterations: Int
    var crossEntropy: Double
    var accuracy: Double
  }

  /// Loss pieces at logits `ka + b + step·(kd + db)` (the line search's trial point; `kd` nil: at `ka + b`):
  /// mean cross-entropy, accuracy, and R = (softmax - onehot) / n, in one pass (featx_softmax_residuals).
  private func softmax(_ ka: [Float], _ b: [Float], along kd: [Float]? = nil, _ db: [Float]? = nil, step: Double = 0)
    -> (crossEntropy: Double, accuracy: Double, residual: [Float])
  {
    let n = labels.count
    var correct: Int64 = 0
    var total = 0.0
    let residual = [Float](unsafeUninitializedCapacity: n * classes) { out, initialized in
      labels.withUnsafeBufferPointer { y in
        y.withMemoryRebound(to: Int64.self) { y in
          total = featx_softmax_residuals(
            ka, kd, Float(step), b, db, y.baseAddress, n, classes, Float(n), out.baseAddress, &correct)
        }
      }
      initialized = n * classes
    }
    return (total / Double(n), Double(correct) / Double(n), residual)
  }

  /// ⟨(U, u), (V, v)⟩ given K·U: tr((KU)ᵀ V) + uᵀv.
  private func inner(_ ku: [Float], _ v: [Float], _ ub: [Float], _ vb: [Float]) -> Double { dot(ku, v) + dot(ub, vb) }

  func minimize(from start: State, iteration: (Int, State, Double, Double) throws -> Void = { _, _, _, _ in }) throws -> Result {
    let n = labels.count
    var a = start.a
    var b = start.b
    var ka = try gram.times(a, k: classes)
    var (ce, accuracy, residual) = softmax(ka, b)
    var kr = try gram.times(residual, k: classes)
    func objective(_ ce: Double, _ a: [Float], _ ka: [Float]) -> Double { ce + lambda / 2 * dot(a, ka) }
    var value = objective(ce, a, ka)
    // Gradient (natural coordinates): G = R + λA, g_b = column sums of R; K·G = K·R + λ·K·A.
    func gradient(_ residual: [Float], _ a: [Float]) -> [Float] {
      var g = residual
      axpy(lambda, a, &g)
      return g
    }
    func biasGradient(_ residual: [Float]) -> [Float] {
      residual.withUnsafeBufferPointer { Softmax.columnSums($0, classes: classes) }
    }
    var g = gradient(residual, a)
    var gb = biasGradient(residual)
    var kg = kr
    axpy(lambda, ka, &kg)
    // Gradient norm at the origin: R0 = (uniform - onehot) / n.
    let zero = softmax([Float](repeating: 0, count: n * classes), [Float](repeating: 0, count: classes)).residual
    let referenceNorm = inner(try gram.times(zero, k: classes), zero, biasGradient(zero), biasGradient(zero)).squareRoot()
    var s: [(a: [Float], b: [Float], ka: [Float])] = []
    var y: [(a: [Float], b: [Float], ka: [Float])] = []
    var rho: [Double] = []
    var iterations = 0
    while iterations < maxIterations {
      let gradientNorm = inner(kg, g, gb, gb).squareRoot()
      // Relative to the gradient at W = 0, so warm starts along the regularisation path are judged by
      // the same yardstick as cold ones.
      if gradientNorm <= relativeTolerance * referenceNorm { break }
      // Two-loop recursion in the K geometry. The direction is a combination of g and the stored pairs, so
      // K·d is the same combination of K·g and their K-images: no product with K here.
      var q = g
      var kq = kg
      var qb = gb
      var alpha = [Double](repeating: 0, count: s.count)
      for i in stride(from: s.count - 1, through: 0, by: -1) {
        alpha[i] = rho[i] * inner(s[i].ka, q, s[i].b, qb)
        axpy(-alpha[i], y[i].a, &q)
        axpy(-alpha[i], y[i].ka, &kq)
        axpy(-alpha[i], y[i].b, &qb)
      }
      let gamma: Double
      if let ls = s.last, let ly = y.last {
        gamma = inner(ls.ka, ly.a, ls.b, ly.b) / max(inner(ly.ka, ly.a, ly.b, ly.b), 1e-30)
      } else {
        gamma = 1 / max(1, gradientNorm)
      }
      scale(&q, gamma)
      scale(&kq, gamma)
      scale(&qb, gamma)
      for i in 0..<s.count {
        let beta = rho[i] * inner(y[i].ka, q, y[i].b, qb)
        axpy(alpha[i] - beta, s[i].a, &q)
        axpy(alpha[i] - beta, s[i].ka, &kq)
        axpy(alpha[i] - beta, s[i].b, &qb)
      }
      var d = q
      var kd = kq
      var db = qb
      scale(&d, -1)
      scale(&kd, -1)
      scale(&db, -1)
      var slope = inner(kg, d, gb, db)
      if slope >= 0 {
        s.removeAll()
        y.removeAll()
        rho.removeAll()
        d = g
        db = gb
        let scaleDown = -1 / max(1, gradientNorm)
        scale(&d, scaleDown)
        scale(&db, scaleDown)
        kd = kg
        scale(&kd, scaleDown)
        slope = inner(kg, d, gb, db)
      }
      // Backtracking line search; logits and penalty along the line cost O(nC) per trial.
      let aKa = dot(a, ka)
      let dKa = dot(d, ka)
      let dKd = dot(d, kd)
      var step = 1.0
      var accepted = false
      var trial = (ce: ce, accuracy: accuracy, residual: residual, ka: ka, b: b, value: value)
      for _ in 0..<40 {
        let pieces = softmax(ka, b, along: kd, db, step: step)
        let penalty = lambda / 2 * (aKa + 2 * step * dKa + step * step * dKd)
        let candidate = pieces.crossEntropy + penalty
        if candidate.isFinite && candidate <= value + 1e-4 * step * slope {
          var kaT = ka
          axpy(step, kd, &kaT)
          var bT = b
          axpy(step, db, &bT)
          trial = (pieces.crossEntropy, pieces.accuracy, pieces.residual, kaT, bT, candidate)
          accepted = true
          break
        }
        let quadratic = -slope * step * step / (2 * (candidate - value - slope * step))
        step = candidate.isFinite && quadratic.isFinite ? min(max(quadratic, 0.1 * step), 0.5 * step) : 0.25 * step
      }
      guard accepted else { break }
      iterations += 1
      var newA = a
      axpy(step, d, &newA)
      let newKr = try gram.times(trial.residual, k: classes)
      let newG = gradient(trial.residual, newA)
      let newGb = biasGradient(trial.residual)
      var newKg = newKr
      axpy(lambda, trial.ka, &newKg)
      // Correction pair (with K·s and K·y, so later inner products need no product with K).
      var sa = d
      scale(&sa, step)
      var sb = db
      scale(&sb, step)
      var ks = kd
      scale(&ks, step)
      var ya = newG
      axpy(-1, g, &ya)
      var yb = newGb
      axpy(-1, gb, &yb)
      var ky = newKg
      axpy(-1, kg, &ky)
      let sy = inner(ks, ya, sb, yb)
      if sy > 1e-12 {
        s.append((sa, sb, ks))
        y.append((ya, yb, ky))
        rho.append(1 / sy)
        if s.count > memory {
          s.removeFirst()
          y.removeFirst()
          rho.removeFirst()
        }
      }
      let decrease = (value - trial.value) / max(abs(value), abs(trial.value), 1)
      (a, b, ka, ce, accuracy, residual, value) = (newA, trial.b, trial.ka, trial.ce, trial.accuracy, trial.residual, trial.value)
      (g, gb, kg, kr) = (newG, newGb, newKg, newKr)
      if iterations % refreshInterval == 0 {
        // K·a has been updated through combinations of K-images; rounding drifts it from the product (0.4 %
        // of the logits' size over 300 iterations on cub_birds50). Recompute it, and K·g with it.
        ka = try gram.times(a, k: classes)
        kg = kr
        axpy(lambda, ka, &kg)
      }
      try iteration(iterations, State(a: a, b: b), ce, accuracy)
      if decrease < 1e-10 { break }
    }
    return Result(state: State(a: a, b: b), iterations: iterations, crossEntropy: ce, accuracy: accuracy)
  }
}
