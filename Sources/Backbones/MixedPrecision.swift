// Which graph buffers a transformer stores in bfloat16.
//
// A CNN in bfloat16 keeps every activation in bfloat16 (oneDNN's convolutions, BatchNorm and pooling read
// and write it). A transformer cannot: oneDNN 2.6's LayerNorm has one type in and out and no post-ops, and
// its residual stream, summed over every block, would lose a bit per block in bfloat16. So a transformer
// (any graph with Linear, attention or token operations) runs as PyTorch's autocast splits it:
// - matrix products (Linear layers and both attention products) read bfloat16 and sum in float32;
// - the residual stream, LayerNorm, the attention scores before the softmax, token assembly, means and
//   convolutions (the patch embedding, ConvNeXt's depthwise and downsampling layers) stay float32;
// - a buffer is stored in bfloat16 when every reader is a product, and every writer can write bfloat16: a
//   product that itself reads bfloat16, a copy, or a LayerNorm (through a float32 staging buffer and one
//   conversion, `Lowering.layerNorm`). That is each block's normed input, Q, K, V, the attention
//   probabilities and context, and the MLP's hidden layer.

import DNNL

/// The graph buffers a transformer's matrix products read in their own element type.
struct MixedPrecision {
  /// Buffers stored in `productType`.
  let products: Set<Int>
  /// bfloat16 in use; float32 only in tests, which run this plan's staging and conversions on CPUs without
  /// bfloat16 and expect the float32 network's numbers exactly.
  let productType: ElementType

  /// The plan for `ops` of `graph`, with `tap` read by the output (a float32 reader).
  init(graph: Graph, ops: ArraySlice<GraphOp>, tap: Tap, productType: ElementType) {
    self.productType = productType
    var productRead = Set<Int>()
    var blocked: Set<Int> = [0, tap.view.buffer]  // the caller's float32 image; the output's source
    for op in ops {
      switch op {
      case .linear(let l):
        productRead.insert(l.src.buffer)
        if l.post.contains(where: { if case .sum = $0 { true } else { false } }) { blocked.insert(l.dst.buffer) }
      case .attention(let a):
        productRead.formUnion(MixedPrecision.inputs(of: a))
        blocked.insert(a.scores)
      case .layerNorm(let l): blocked.insert(l.src.buffer)
      case .copy(let c): blocked.insert(c.src.buffer)
      case .conv(let c): blocked.formUnion([c.src.buffer, c.dst.buffer])
      case .tokens(let t): blocked.formUnion([t.patches.buffer, t.dst.buffer])
      case .meanRows(let m): blocked.formUnion([m.src.buffer, m.dst.buffer])
      case .norm(let n): blocked.formUnion([n.src.buffer, n.dst.buffer])
      case .pool(let p): blocked.formUnion([p.src.buffer, p.dst.buffer])
      case .affine(let a): blocked.formUnion([a.src.buffer, a.dst.buffer])
      case .gate(let g): blocked.formUnion([g.src.buffer, g.gate.buffer, g.dst.buffer])
      }
    }
    var products = productRead.subtracting(blocked)
    // A product writes bfloat16 only from bfloat16 inputs, and an attention's inputs share one type: drop
    // what breaks either rule until nothing changes.
    var changed = true
    while changed {
      changed = false
      for op in ops {
        switch op {
        case .linear(let l) where products.contains(l.dst.buffer) && !products.contains(l.src.buffer):
          products.remove(l.dst.buffer)
          changed = true
        case .attention(let a):
          let inputs = MixedPrecision.inputs(of: a)
          if !inputs.isSubset(of: products), !products.isDisjoint(with: inputs.union([a.dst.buffer])) {
            products.subtract(inputs.union([a.dst.buffer]))
            changed = true
          }
        default: break
        }
      }
    }
    self.products = products
  }

  /// The buffers an attention reads its queries (unless a constant), keys and values from.
  static func inputs(of a: AttentionOp) -> Set<Int> {
    var inputs: Set<Int> = [a.keys.buffer, a.values.buffer]
    if case .view(let q) = a.queries { inputs.insert(q.buffer) }
    return inputs
  }
}
