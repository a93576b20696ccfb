// NumpyRandom.swift
//
// A bit-exact port of numpy's *legacy* random API (`numpy.random.RandomState` / `np.random.seed`):
// the MT19937 generator with numpy's integer seeding, `random_sample`, the legacy polar Box–Muller
// `standard_normal` (with its cached second value), `uniform`, `normal`, `random_interval`, and the
// legacy `shuffle` / `permutation`.
//
// Ported from numpy's C/Cython sources:
//   numpy/random/src/mt19937/mt19937.c, mt19937.h     (mt19937_seed, mt19937_gen, mt19937_next*)
//   numpy/random/src/legacy/legacy-distributions.c    (legacy_gauss, legacy_normal)
//   numpy/random/src/distributions/distributions.c    (random_uniform, random_interval)
//   numpy/random/mtrand.pyx                            (RandomState.shuffle, RandomState.permutation)
//   numpy/random/_mt19937.pyx                          (_legacy_seeding: an int seed -> mt19937_seed)
//
// Hand-written on purpose: no library reproduces numpy's legacy RandomState bit for bit (Swift's and
// GameplayKit's generators, and numpy's newer Generator, all draw differently), and the bird workflow's
// 80/20 split is `np.random.seed(2021); np.random.permutation(N)`.
//
// No Foundation: only `log` from the C math library is needed.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#elseif canImport(ucrt)
  import ucrt
#endif

/// numpy's legacy `RandomState`, bit for bit.
///
/// ```swift
/// var rs = NumpyRandomState(seed: 0)   // np.random.seed(0)  /  np.random.RandomState(0)
/// let p = rs.permutation(10)           // np.random.permutation(10) -> [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]
/// ```
///
/// Every method consumes generator output exactly as the numpy method of the same name does, so a
/// sequence of calls reproduces the same sequence of numpy calls on a freshly seeded `RandomState`.
/// Drawing arrays with numpy (`rs.uniform(a, b, size)`, `rs.normal(m, s, size)`) is the same as calling
/// the scalar method `size` times in C order.
///
/// A value type: copying it forks the stream (the copy continues from the same state).
public struct NumpyRandomState: Sendable {
  @usableFromInline static let stateLength = 624  // RK_STATE_LEN / _MT19937_N
  @usableFromInline static let shift = 397  // _MT19937_M

  /// The 624-word MT19937 state (`mt19937_state.key`).
  @usableFromInline var key: [UInt32]
  /// Index of the next state word to temper (`mt19937_state.pos`); 624 = regenerate first.
  @usableFromInline var pos: Int
  /// The legacy Box–Muller cache (`aug_bitgen_t.has_gauss` / `.gauss`).
  @usableFromInline var hasGauss: Bool
  @usableFromInline var gauss: Double

  /// `np.random.RandomState(seed)`, i.e. `np.random.seed(seed)` for an integer seed in 0 ... 2^32-1.
  public init(seed: UInt32) {
    key = [UInt32](repeating: 0, count: Self.stateLength)
    pos = Self.stateLength
    hasGauss = false
    gauss = 0
    self.seed(seed)
  }

  /// Reseeds like `RandomState.seed(seed)` with an integer: numpy's `mt19937_seed` (Knuth's
  /// initialisation from the MT reference `init_genrand`) and a cleared Gaussian cache.
  public mutating func seed(_ seed: UInt32) {
    key.withUnsafeMutableBufferPointer { mt in
      var s = seed
      for i in 0..<Self.stateLength {
        mt[i] = s
        s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
      }
    }
    pos = Self.stateLength
    hasGauss = false
    gauss = 0
  }

  // MARK: raw output

  /// Regenerates the 624 state words (`mt19937_gen`).
  @usableFromInline mutating func generate() {
    let n = Self.stateLength
    let m = Self.shift
    key.withUnsafeMutableBufferPointer { k in
      @inline(__always) func twist(_ i: Int, _ j: Int, _ l: Int) {
        let y = (k[i] & 0x8000_0000) | (k[j] & 0x7fff_ffff)
        k[i] = k[l] ^ (y >> 1) ^ ((0 &- (y & 1)) & 0x9908_b0df)
      }
      var i = 0
      while i < n - m {
        twist(i, i + 1, i + m)
        i += 1
      }
      while i < n - 1 {
        twist(i, i + 1, i + m - n)
        i += 1
      }
      twist(n - 1, 0, m - 1)
    }
    pos = 0
  }

  /// The next 32-bit output (`mt19937_next32`; what `_bit_generator.random_raw()` returns for MT19937).
  @inlinable public mutating func nextUInt32() -> UInt32 {
    if pos == Self.stateLength { generate() }
    var y = key[pos]
    pos += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c_5680
    y ^= (y << 15) & 0xefc6_0000
    y ^= y >> 18
    return y
  }

  /// The next 64-bit output (`mt19937_next64`): the first 32-bit draw is the high half.
  @inlinable public mutating func nextUInt64() -> UInt64 {
    let hi = UInt64(nextUInt32())
    let lo = UInt64(nextUInt32())
    return hi << 32 | lo
  }

  // MARK: floating point

  /// `random_sample()`: a double in [0, 1) with 53 random bits (`mt19937_next_double`:
  /// `((a >> 5) * 2^26 + (b >> 6)) / 2^53`, `a` drawn first).
  @inlinable public mutating func randomSample() -> Double {
    let a = nextUInt32() >> 5
    let b = nextUInt32() >> 6
    return (Double(a) * 67_108_864.0 + Double(b)) / 9_007_199_254_740_992.0
  }

  /// `standard_normal()`: numpy's legacy polar Box–Muller (`legacy_gauss`). Each accepted pair yields
  /// two values; the second is cached and returned by the next call (reseeding clears the cache).
  @inlinable public mutating func standardNormal() -> Double {
    if hasGauss {
      let temp = gauss
      hasGauss = false
      gauss = 0
      return temp
    }
    var x1: Double
    var x2: Double
    var r2: Double
    repeat {
      x1 = 2.0 * randomSample() - 1.0
      x2 = 2.0 * randomSample() - 1.0
      r2 = x1 * x1 + x2 * x2
    } while r2 >= 1.0 || r2 == 0.0
    // Polar method, a more efficient version of the Box-Muller approach.
    let f = (-2.0 * log(r2) / r2).squareRoot()
    gauss = f * x1
    hasGauss = true
    return f * x2
  }

  /// `uniform(low, high)`: `low + (high - low) * random_sample()` (`random_uniform` with the range
  /// computed in double precision first, as `RandomState.uniform` does).
  @inlinable public mutating func uniform(low: Double, high: Double) -> Double {
    let range = high - low
    return low + range * randomSample()
  }

  /// `normal(loc, scale)`: `loc + scale * standard_normal()` (`legacy_normal`).
  @inlinable public mutating func normal(mean: Double, std: Double) -> Double {
    mean + std * standardNormal()
  }

  /// Fills `out` like `uniform(low, high, out.count).astype(T)` (each value computed in double, then
  /// rounded to `T` to nearest, as numpy's `astype(float32)` does).
  @inlinable public mutating func fillUniform<T: BinaryFloatingPoint>(
    _ out: UnsafeMutableBufferPointer<T>, low: Double, high: Double
  ) {
    for i in out.indices { out[i] = T(uniform(low: low, high: high)) }
  }

  /// Fills `out` like `normal(mean, std, out.count).astype(T)`.
  @inlinable public mutating func fillNormal<T: BinaryFloatingPoint>(
    _ out: UnsafeMutableBufferPointer<T>, mean: Double, std: Double
  ) {
    for i in out.indices { out[i] = T(normal(mean: mean, std: std)) }
  }

  // MARK: integers, shuffling

  /// numpy's `random_interval(max)`: a uniform integer in `0 ... max` by rejection sampling under the
  /// smallest all-ones bit mask covering `max`. Draws 32-bit words while `max <= 0xffffffff` and
  /// 64-bit words (two 32-bit draws, high first) above that.
  @inlinable public mutating func interval(max: UInt64) -> UInt64 {
    if max == 0 { return 0 }
    var mask = max
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    var value: UInt64
    if max <= 0xffff_ffff {
      repeat { value = UInt64(nextUInt32()) & mask } while value > max
    } else {
      repeat { value = nextUInt64() & mask } while value > max
    }
    return value
  }

  /// `RandomState.shuffle(x)` for a one-dimensional array: for `i` from `n-1` down to 1, swap element
  /// `i` with element `random_interval(i)`.
  public mutating func shuffle<T>(_ array: inout [T]) {
    let n = array.count
    guard n > 1 else { return }
    array.withUnsafeMutableBufferPointer { buf in
      var i = n - 1
      while i >= 1 {
        let j = Int(truncatingIfNeeded: interval(max: UInt64(i)))
        buf.swapAt(i, j)
        i -= 1
      }
    }
  }

  /// `RandomState.permutation(n)`: `arange(n)` shuffled with `shuffle`. Empty for `n <= 0`.
  public mutating func permutation(_ n: Int) -> [Int] {
    guard n > 0 else { return [] }
    var a = Array(0..<n)
    shuffle(&a)
    return a
  }
}

/// 32-bit FNV-1a over the UTF-8 bytes of `s` (offset basis 2166136261, prime 16777619), as
/// `tools/make_weights.py`'s `fnv1a32(s.encode("utf-8"))`.
public func fnv1a32(_ s: String) -> UInt32 {
  var h: UInt32 = 2_166_136_261
  for b in s.utf8 {
    h ^= UInt32(b)
    h = h &* 16_777_619
  }
  return h
}
