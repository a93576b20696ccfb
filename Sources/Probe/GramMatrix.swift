// The Gram matrices of the row-space probe: K = Z·Zᵀ over the training rows and Z_test·Zᵀ, the only
// step of the default probe that touches every feature (n²·D multiply-adds; 2359 rows of DenseNet's
// 50176-d maps: 2.8·10¹¹). It runs on oneDNN's matmul primitive over tiles of 256×256 (only the tiles on
// and below the diagonal of K) and column chunks of 4096 features, packed (and standardised) once per
// chunk. Where the CPU multiplies bfloat16 natively (AVX512_BF16, AMX) the packed features are rounded to
// bfloat16 and the products accumulate in float32: twice float32's rate, and K is then exactly the Gram
// matrix of the rounded features (a bfloat16 product is exact in float32), so it stays a Gram matrix.

import DNNL
import CKernels
import Dispatch
import Foundation

/// Which numbers the Gram matrix of the row-space probe multiplies.
public enum GramPrecision: String, Sendable, CaseIterable {
  /// bfloat16 where the CPU multiplies it natively (AVX512_BF16 or AMX) and measurably faster than float32
  /// (`BFloat16Speed.current`), float32 elsewhere.
  case automatic = "auto"
  /// The features as they are.
  case float32 = "f32"
  /// The features rounded to bfloat16 (8 significant bits), products summed in float32.
  case bfloat16 = "bf16"

  /// What `self` means on this CPU; an explicit bf16 on a CPU without native bfloat16 is refused.
  public func resolved() throws -> GramPrecision {
    switch self {
    case .automatic: return CPU.nativeBFloat16 && BFloat16Speed.current.faster ? .bfloat16 : .float32
    case .float32: return .float32
    case .bfloat16:
      guard CPU.nativeBFloat16 else {
        throw ProbeError.invalidSetting(
          .gramPrecision, reason: "bf16 needs a CPU with AVX512_BF16 or AMX, which this one lacks; use auto or f32")
      }
      return .bfloat16
    }
  }
}

/// A Gram matrix over some rows (`rows` × `columns`), row-major: the inner products the row-space probe
/// trains on.
public struct GramMatrix: Sendable {
  public var rows: Int
  public var columns: Int
  public var values: [Float]

  /// Rows and columns of one tile of the product.
  static let tileSize = 256
  /// Features packed per pass.
  static let chunkWidth = 4096

  /// The training rows' Gram matrix Z·Zᵀ and, with `test`, the test-by-train one Z_test·Zᵀ, where Z are the
  /// rows standardised with `standardization` (if any).
  public static func compute(
    train: FeatureMatrix, test: FeatureMatrix?, standardization: Standardization?, precision: GramPrecision
  ) throws -> (train: GramMatrix, test: GramMatrix?) {
    let bfloat16 = try precision.resolved() == .bfloat16
    let (n, m, d) = (train.rows, test?.rows ?? 0, train.dimension)
    let x = try train.values()
    let t = try test?.values() ?? []

    // The tiles: train row blocks against train column blocks on and below the diagonal, then every test
    // row block against every train column block.
    struct Tile {
      var test: Bool
      var row: Int
      var rows: Int
      var column: Int
      var columns: Int
      var sums: [Float]
    }
    var tiles: [Tile] = []
    for i in stride(from: 0, to: n, by: tileSize) {
      for j in stride(from: 0, through: i, by: tileSize) {
        let (r, c) = (min(tileSize, n - i), min(tileSize, n - j))
        tiles.append(Tile(test: false, row: i, rows: r, column: j, columns: c, sums: [Float](repeating: 0, count: r * c)))
      }
    }
    for i in stride(from: 0, to: m, by: tileSize) {
      for j in stride(from: 0, to: n, by: tileSize) {
        let (r, c) = (min(tileSize, m - i), min(tileSize, n - j))
        tiles.append(Tile(test: true, row: i, rows: r, column: j, columns: c, sums: [Float](repeating: 0, count: r * c)))
      }
    }

    let width = min(chunkWidth, d)
    let element = bfloat16 ? 2 : 4
    let trainChunk = UnsafeMutableRawPointer.allocate(byteCount: max(1, n * width * element), alignment: 64)
    defer { trainChunk.deallocate() }
    let testChunk = UnsafeMutableRawPointer.allocate(byteCount: max(1, m * width * element), alignment: 64)
    defer { testChunk.deallocate() }
    let products = try TileProducts(bfloat16: bfloat16)

    let packing: Packing = bfloat16 ? .bfloat16 : .float32
    var start = 0
    while start < d {
      let w = min(width, d - start)
      pack(x, rows: n, dimension: d, columns: start..<(start + w), standardization, as: packing, into: trainChunk)
      pack(t, rows: m, dimension: d, columns: start..<(start + w), standardization, as: packing, into: testChunk)
      for k in tiles.indices {
        let tile = tiles[k]
        let left = (tile.test ? testChunk : trainChunk) + tile.row * w * element
        let right = trainChunk + tile.column * w * element
        try tiles[k].sums.withUnsafeMutableBufferPointer {
          try products.accumulate(left, right, into: $0.baseAddress!, rows: tile.rows, columns: tile.columns, depth: w)
        }
      }
      start += w
    }
    try products.finish()

    // Assemble: K from its lower tiles (the diagonal tiles' lower triangles too, so K is exactly symmetric).
    var gram = [Float](repeating: 0, count: n * n)
    var cross = [Float](repeating: 0, count: m * n)
    for tile in tiles {
      for r in 0..<tile.rows {
        for c in 0..<tile.columns {
          let value = tile.sums[r * tile.columns + c]
          let (i, j) = (tile.row + r, tile.column + c)
          if tile.test {
            cross[i * n + j] = value
          } else if j <= i {
            gram[i * n + j] = value
            gram[j * n + i] = value
          }
        }
      }
    }
    return (
      GramMatrix(rows: n, columns: n, values: gram), test == nil ? nil : GramMatrix(rows: m, columns: n, values: cross)
    )
  }

  /// `Zᵀ·coefficients` (D × `classes`, row-major) for the rows Z of `train` as the Gram matrix saw them
  /// (standardised, and rounded to bfloat16 when `precision` resolves to it): the weights of a row-space
  /// solution. With other rows than the Gram matrix's, a badly conditioned solution (large coefficients
  /// that cancel) would not give the logits it was trained on.
  static func combineRows(
    _ train: FeatureMatrix, standardization: Standardization?, precision: GramPrecision, coefficients: [Float], classes: Int
  ) throws -> [Float] {
    let packing: Packing = try precision.resolved() == .bfloat16 ? .float32RoundedToBFloat16 : .float32
    let (n, d) = (train.rows, train.dimension)
    let x = try train.values()
    let width = min(chunkWidth, d)
    var chunk = [Float](repeating: 0, count: n * width)
    var weights = [Float](repeating: 0, count: d * classes)
    var start = 0
    while start < d {
      let w = min(width, d - start)
      chunk.withUnsafeMutableBytes {
        pack(x, rows: n, dimension: d, columns: start..<(start + w), standardization, as: packing, into: $0.baseAddress!)
      }
      try chunk.withUnsafeBufferPointer { z in
        try coefficients.withUnsafeBufferPointer { a in
          try weights.withUnsafeMutableBufferPointer { out in
            try GEMM.multiply(
              z.baseAddress!, transposeA: true, a.baseAddress!, into: out.baseAddress! + start * classes, m: w, n: classes,
              k: n, lda: w)
          }
        }
      }
      start += w
    }
    return weights
  }

  /// How `pack` stores the values.
  enum Packing { case float32, float32RoundedToBFloat16, bfloat16 }

  /// Packs `columns` of `rows` rows (row-major, `dimension` wide) densely into `target`, standardised if
  /// asked, on every core.
  private static func pack(
    _ source: [Float], rows: Int, dimension: Int, columns: Range<Int>, _ standardization: Standardization?, as packing: Packing,
    into target: UnsafeMutableRawPointer
  ) {
    guard rows > 0 else { return }
    let w = columns.count
    let pieces = min(rows, 4 * CPU.available)
    source.withUnsafeBufferPointer { s in
      func run(_ mean: UnsafePointer<Float>?, _ std: UnsafePointer<Float>?) {
        // Each piece writes its own rows of `target`.
        nonisolated(unsafe) let (s, mean, std, target) = (s.baseAddress!, mean, std, target)
        DispatchQueue.concurrentPerform(iterations: pieces) { piece in
          let first = rows * piece / pieces
          let count = rows * (piece + 1) / pieces - first
          let from = s + first * dimension + columns.lowerBound
          if packing == .bfloat16 {
            featx_pack_bf16(
              from, dimension, count, w, mean, std, target.assumingMemoryBound(to: UInt16.self) + first * w)
          } else {
            featx_pack_f32(
              from, dimension, count, w, mean, std, packing == .float32RoundedToBFloat16 ? 1 : 0,
              target.assumingMemoryBound(to: Float.self) + first * w)
          }
        }
      }
      if let standardization {
        standardization.mean.withUnsafeBufferPointer { mean in
          standardization.std.withUnsafeBufferPointer { std in
            run(mean.baseAddress! + columns.lowerBound, std.baseAddress! + columns.lowerBound)
          }
        }
      } else {
        run(nil, nil)
      }
    }
  }

  /// The submatrix of rows `r` and columns `c`.
  func submatrix(rows r: [Int], columns c: [Int]) -> GramMatrix {
    var out = [Float](repeating: 0, count: r.count * c.count)
    for (i, row) in r.enumerated() { for (j, column) in c.enumerated() { out[i * c.count + j] = values[row * columns + column] } }
    return GramMatrix(rows: r.count, columns: c.count, values: out)
  }

  /// `self · a` for an `columns × k` matrix.
  func times(_ a: [Float], k: Int) throws -> [Float] {
    var out = [Float](repeating: 0, count: rows * k)
    try values.withUnsafeBufferPointer { kk in
      try a.withUnsafeBufferPointer { aa in
        try out.withUnsafeMutableBufferPointer { o in
          try GEMM.multiply(kk.baseAddress!, aa.baseAddress!, into: o.baseAddress!, m: rows, n: k, k: columns)
        }
      }
    }
    return out
  }
}

/// `sums += left · rightᵀ` for packed blocks (left: rows × depth, right: columns × depth, both row-major),
/// on oneDNN's matmul primitive with a sum post-op; one primitive per distinct shape.
private final class TileProducts {
  private struct Shape: Hashable {
    var rows: Int
    var columns: Int
    var depth: Int
  }
  private struct Product {
    var primitive: DNNLPrimitive
    var left: MemoryDescriptor
    var right: MemoryDescriptor
    var sums: MemoryDescriptor
  }

  private let engine: DNNLEngine
  private let stream: DNNLStream
  private let type: ElementType
  private var products: [Shape: Product] = [:]

  init(bfloat16: Bool) throws {
    engine = try DNNLEngine.shared()
    stream = try DNNLStream(engine)
    type = bfloat16 ? .bfloat16 : .float32
  }

  private func product(_ shape: Shape) throws -> Product {
    if let known = products[shape] { return known }
    let left = try MemoryDescriptor([shape.rows, shape.depth], type, .ab)
    // Weights depth × columns stored column by column: exactly the packed right rows.
    let right = try MemoryDescriptor([shape.depth, shape.columns], type, .ba)
    let sums = try MemoryDescriptor([shape.rows, shape.columns], .float32, .ab)
    let attributes = try DNNLAttributes(userScratchpad: false)
    try attributes.setPostOps(sum: true, relu: false)
    let primitive = try DNNLPrimitive.matmul(
      source: left, weights: right, destination: sums, attributes: attributes, engine: engine,
      what: "a Gram matrix tile product")
    let made = Product(primitive: primitive, left: left, right: right, sums: sums)
    products[shape] = made
    return made
  }

  func accumulate(
    _ left: UnsafeMutableRawPointer, _ right: UnsafeMutableRawPointer, into sums: UnsafeMutablePointer<Float>, rows: Int,
    columns: Int, depth: Int
  ) throws {
    let p = try product(Shape(rows: rows, columns: columns, depth: depth))
    let arguments = ExecutionArguments([
      (.source, try DNNLMemory(p.left, engine, left, "Gram tile rows")),
      (.weights, try DNNLMemory(p.right, engine, right, "Gram tile columns")),
      (.destination, try DNNLMemory(p.sums, engine, UnsafeMutableRawPointer(sums), "Gram tile sums")),
    ])
    try p.primitive.execute(stream, arguments)
  }

  /// Waits for every product to finish.
  func finish() throws { try stream.wait() }
}
