// Matrix products through oneDNN's sgemm (row-major): every heavy step of training and prediction is one
// of these calls, never a per-sample loop.

import CDNNL

/// Row-major single-precision matrix products.
public enum GEMM {
  /// `C = alpha * op(A) * op(B) + beta * C`, row-major, where op(A) is M×K and op(B) is K×N. Runs on the
  /// calling thread's OpenMP thread count (`OpenMP.withThreads`).
  ///
  /// The corresponding C function is `dnnl_sgemm`.
  /// - Throws: `DNNLError` if oneDNN refuses the shapes or strides.
  @inline(__always)
  public static func multiply(
    _ a: UnsafePointer<Float>, transposeA: Bool = false, _ b: UnsafePointer<Float>, transposeB: Bool = false,
    into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
  ) throws {
    guard m > 0, n > 0 else { return }
    let status = dnnl_sgemm(
      transposeA ? transposed : notTransposed, transposeB ? transposed : notTransposed, dnnl_dim_t(m), dnnl_dim_t(n),
      dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda ?? (transposeA ? m : k)), b, dnnl_dim_t(ldb ?? (transposeB ? k : n)), beta, c,
      dnnl_dim_t(ldc ?? n))
    try dnnl(status, "multiply a \(m)x\(k) by a \(k)x\(n) matrix (sgemm)")
  }

  /// `dnnl_sgemm`'s transpose flags are the characters 'T' and 'N'.
  private static let transposed = CChar(UInt8(ascii: "T"))
  private static let notTransposed = CChar(UInt8(ascii: "N"))

  /// Runs `body` with `threads` threads for every product it makes on this thread (0 = `CPU.available`),
  /// then restores the previous count.
  public static func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    try OpenMP.withThreads(threads, body)
  }
}
