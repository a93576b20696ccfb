// Matrix products through oneDNN's sgemm (row-major, all cores): every heavy step of training and
// prediction is one of these calls, never a per-sample loop.

import Backbones
import CDNNL

/// Row-major single-precision matrix products.
public enum GEMM {
  /// `C = alpha * op(A) * op(B) + beta * C`, row-major, where op(A) is M×K and op(B) is K×N.
  ///
  /// The corresponding C function is `dnnl_sgemm`.
  @inline(__always)
  public static func multiply(
    _ a: UnsafePointer<Float>, transposeA: Bool = false, _ b: UnsafePointer<Float>, transposeB: Bool = false,
    into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
  ) {
    guard m > 0, n > 0 else { return }
    let status = dnnl_sgemm(
      transposeA ? 84 : 78, transposeB ? 84 : 78, dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a,
      dnnl_dim_t(lda ?? (transposeA ? m : k)), b, dnnl_dim_t(ldb ?? (transposeB ? k : n)), beta, c, dnnl_dim_t(ldc ?? n))
    precondition(status == dnnl_success, "GEMM.multiply: dnnl_sgemm failed for \(m)x\(n)x\(k)")
  }

  /// Sets the threads oneDNN's sgemm uses on the calling thread (0 = every core).
  public static func setThreads(_ n: Int) {
    omp_set_num_threads(Int32(n > 0 ? n : Backbone.onlineCPUs))
  }
}
