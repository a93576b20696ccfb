// Limited-memory BFGS (Nocedal & Wright, "Numerical Optimization", algorithms 7.4 and 7.5) with a
// backtracking line search on the Armijo condition. The objectives here are smooth and convex, for
// which this is the standard, robust choice.

import CKernels

/// Minimises a smooth function of a float vector.
struct LBFGS {
  /// Correction pairs kept.
  var memory = 10
  var maxIterations = 500
  /// Stop when `max |g| <= gradientTolerance * max(1, |f|)`.
  var gradientTolerance = 1e-5
  /// Stop when the relative decrease of f in one iteration is below this.
  var functionTolerance = 1e-10

  struct Result {
    var x: [Float]
    var value: Double
    var iterations: Int
    var evaluations: Int
    var converged: Bool
  }

  /// Minimises `f` from `x0`. `iteration` is called after each step with (iteration, value, x) and may
  /// return false to stop early.
  func minimize(
    _ x0: [Float], _ f: ([Float]) throws -> (Double, [Float]), iteration: (Int, Double, [Float]) -> Bool = { _, _, _ in true }
  ) throws -> Result {
    var x = x0
    var (value, gradient) = try f(x)
    var evaluations = 1
    var s: [[Float]] = []
    var y: [[Float]] = []
    var rho: [Double] = []
    for k in 0..<maxIterations {
      if maxAbs(gradient) <= gradientTolerance * max(1, abs(value)) {
        return Result(x: x, value: value, iterations: k, evaluations: evaluations, converged: true)
      }
      // Two-loop recursion: direction = -H·g.
      var q = gradient
      var alpha = [Double](repeating: 0, count: s.count)
      for i in stride(from: s.count - 1, through: 0, by: -1) {
        alpha[i] = rho[i] * dot(s[i], q)
        axpy(-alpha[i], y[i], &q)
      }
      var gamma = 1.0
      if let lastS = s.last, let lastY = y.last {
        gamma = dot(lastS, lastY) / max(dot(lastY, lastY), 1e-30)
      } else {
        gamma = 1 / max(1, norm(gradient))
      }
      scale(&q, gamma)
      for i in 0..<s.count {
        let beta = rho[i] * dot(y[i], q)
        axpy(alpha[i] - beta, s[i], &q)
      }
      var direction = q
      scale(&direction, -1)
      var slope = dot(gradient, direction)
      if slope >= 0 {
        // Not a descent direction (numerical trouble): restart from steepest descent.
        s.removeAll()
        y.removeAll()
        rho.removeAll()
        direction = gradient
        scale(&direction, -1 / max(1, norm(gradient)))
        slope = dot(gradient, direction)
      }
      // Backtracking line search on the Armijo condition, with quadratic interpolation.
      var step = 1.0
      var candidate = x
      var newValue = value
      var newGradient = gradient
      var accepted = false
      for _ in 0..<40 {
        candidate = x
        axpy(step, direction, &candidate)
        (newValue, newGradient) = try f(candidate)
        evaluations += 1
        if newValue.isFinite && newValue <= value + 1e-4 * step * slope {
          accepted = true
          break
        }
        let quadratic = -slope * step * step / (2 * (newValue - value - slope * step))
        step = newValue.isFinite && quadratic.isFinite ? min(max(quadratic, 0.1 * step), 0.5 * step) : 0.25 * step
      }
      guard accepted else {
        return Result(x: x, value: value, iterations: k, evaluations: evaluations, converged: false)
      }
      var sk = candidate
      axpy(-1, x, &sk)
      var yk = newGradient
      axpy(-1, gradient, &yk)
      let sy = dot(sk, yk)
      if sy > 1e-12 * norm(sk) * norm(yk) {
        s.append(sk)
        y.append(yk)
        rho.append(1 / sy)
        if s.count > memory {
          s.removeFirst()
          y.removeFirst()
          rho.removeFirst()
        }
      }
      let decrease = (value - newValue) / max(abs(value), abs(newValue), 1)
      (x, value, gradient) = (candidate, newValue, newGradient)
      if !iteration(k + 1, value, x) {
        return Result(x: x, value: value, iterations: k + 1, evaluations: evaluations, converged: false)
      }
      if decrease < functionTolerance {
        return Result(x: x, value: value, iterations: k + 1, evaluations: evaluations, converged: true)
      }
    }
    return Result(x: x, value: value, iterations: maxIterations, evaluations: evaluations, converged: false)
  }
}

// MARK: - Vector helpers (double accumulation)

@inline(__always) func dot(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count)
  return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in featx_dot(pa.baseAddress, pb.baseAddress, pa.count) }
  }
}

@inline(__always) func norm(_ a: [Float]) -> Double { dot(a, a).squareRoot() }

@inline(__always) func maxAbs(_ a: [Float]) -> Double {
  var m: Float = 0
  for v in a { m = max(m, abs(v)) }
  return Double(m)
}

/// y += a·x
@inline(__always) func axpy(_ a: Double, _ x: [Float], _ y: inout [Float]) {
  let fa = Float(a)
  x.withUnsafeBufferPointer { px in
    y.withUnsafeMutableBufferPointer { py in
      for i in py.indices { py[i] += fa * px[i] }
    }
  }
}

@inline(__always) func scale(_ x: inout [Float], _ a: Double) {
  let fa = Float(a)
  x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= fa } }
}
