// Port of timm 1.0's `VisionTransformer` (timm/models/vision_transformer.py) and torchvision's
// `VisionTransformer` (torchvision/models/vision_transformer.py) as one compact description: the switches
// timm's model tags set (class and register tokens, `no_embed_class`, `pre_norm`, layer scale, the
// activation, biases, the pooling), with each layout's parameter names, so state_dict keys map 1:1.
//
// Tokens live in channels-last buffers of tokens × 1 pixels: an NHWC map is a [pixels, C] matrix, so the
// patch-embedding convolution writes tokens directly, LayerNorm normalises rows and every Linear layer is a
// matrix product over the rows. Attention is lowered to two batched products and a softmax per block.

import Weights

/// Vision transformers as timm and torchvision define them.
public enum VisionTransformer {
  /// Whose parameter names a state_dict uses.
  public enum Layout: String, Sendable, Equatable {
    /// timm's (`patch_embed.proj`, `blocks.N.attn.qkv`, …; the hub's DINOv2, CLIP, DeiT and AugReg weights).
    case timm
    /// torchvision's (`conv_proj`, `encoder.layers.encoder_layer_N.self_attention.in_proj_weight`, …).
    case torchvision
  }

  /// The MLP's activation.
  public enum Activation: String, Sendable, Equatable {
    /// GELU with the exact erf.
    case gelu
    /// `x * sigmoid(1.702 x)` (OpenAI CLIP's `QuickGELU`).
    case quickGelu
    /// GELU with the tanh approximation (timm's `gelu_tanh`).
    case geluTanh

    var step: PostStep {
      switch self {
      case .gelu: .gelu
      case .quickGelu: .quickGelu
      case .geluTanh: .geluTanh
      }
    }
  }

  /// What `pre_logits` (timm's `forward_head(pre_logits=True)`) reads.
  public enum GlobalPool: String, Sendable, Equatable {
    /// The class token after the final norm.
    case token
    /// The mean of the patch tokens, then `fc_norm`.
    case avg
    /// Multi-head attention pooling with one learned query, then a residual MLP (timm's
    /// `AttentionPoolLatent`: SigLIP).
    case map
  }

  /// The arguments of timm's `VisionTransformer(...)` that its tags set.
  public struct Config: Sendable, Equatable {
    public var layout: Layout = .timm
    public var patchSize: Int
    public var width: Int
    public var depth: Int
    public var heads: Int
    /// The MLP's hidden width (4 × width for every tag here).
    public var mlpWidth: Int
    /// The input side the position table was trained for (its grid is imageSize / patchSize).
    public var imageSize: Int
    public var classToken = true
    public var registerTokens = 0
    /// The position table covers only the patches (timm's `no_embed_class`: DINOv2 with registers).
    public var noEmbedClass = false
    /// A LayerNorm before the blocks (`norm_pre`: CLIP), and no patch-embedding bias.
    public var preNorm = false
    public var normEpsilon: Float = 1e-6
    /// `ls1.gamma` / `ls2.gamma` after attention and MLP (DINOv2).
    public var layerScale = false
    public var activation: Activation = .gelu
    public var qkvBias = true
    public var globalPool: GlobalPool = .token
    /// Outputs of the classifier `head` (0: none, as DINOv2's and SigLIP's feature checkpoints; 512 for
    /// OpenAI CLIP, whose image projection timm loads as the head).
    public var numClasses = 1000
    /// The head is CLIP's image projection (OpenAI's `proj`, loaded as timm does): a `proj` layer after
    /// `pre_logits` gives the image embedding (what CLIP's zero-shot classifier compares with text).
    public var projection = false

    public init(
      patchSize: Int, width: Int, depth: Int, heads: Int, imageSize: Int = 224, mlpRatio: Int = 4, layout: Layout = .timm
    ) {
      self.patchSize = patchSize
      self.width = width
      self.depth = depth
      self.heads = heads
      self.mlpWidth = width * mlpRatio
      self.imageSize = imageSize
      self.layout = layout
    }

    /// This model with the input size its position table in `weights` was trained for, when the table is
    /// the square grid of another size (a DINOv2 checkpoint saved at 224 rather than 518): featx then
    /// resamples it to the input grid, as timm does when it loads such a file.
    func trained(on weights: StateDict) -> Config {
      let name = layout == .torchvision ? "encoder.pos_embedding" : "pos_embed"
      guard let shape = weights.tensors[name]?.shape, shape.count == 3, shape[2] == width else { return self }
      let patches = shape[1] - (noEmbedClass ? 0 : prefixTokens)
      let side = Int(Double(max(patches, 0)).squareRoot().rounded())
      guard side > 0, side * side == patches else { return self }
      var c = self
      c.imageSize = side * patchSize
      return c
    }

    /// Class and register tokens before the patches.
    public var prefixTokens: Int { (classToken ? 1 : 0) + registerTokens }

    /// Tappable layers: `patch_embed`, every block, `norm` (timm's `forward_features`) and `pre_logits`.
    public var layers: [String] {
      ["patch_embed"] + (0..<depth).map { "blocks.\($0)" } + (finalNorm ? ["norm"] : []) + ["pre_logits"]
        + (lastBlocks > 0 ? ["last4_avg"] : []) + (projection ? ["proj"] : [])
    }

    /// Blocks whose normed class tokens `last4_avg` concatenates (DINOv2's linear evaluation with n = 4:
    /// the last four, or all of a shallower model), for models that read a class token.
    var lastBlocks: Int { classToken && globalPool == .token ? min(4, depth) : 0 }

    /// timm's `norm` after the blocks: replaced by `fc_norm` after the pooling when the pool is an average.
    var finalNorm: Bool { globalPool != .avg }

    // MARK: Tags

    static func dinov2(_ width: Int, depth: Int, heads: Int, registers: Int = 0) -> Config {
      var c = Config(patchSize: 14, width: width, depth: depth, heads: heads, imageSize: 518)
      c.layerScale = true
      c.registerTokens = registers
      c.noEmbedClass = registers > 0
      c.numClasses = 0
      return c
    }

    static func clip(patch: Int, quickGelu: Bool) -> Config {
      var c = Config(patchSize: patch, width: 768, depth: 12, heads: 12)
      c.preNorm = true
      c.normEpsilon = 1e-5
      c.activation = quickGelu ? .quickGelu : .gelu
      c.numClasses = 512
      c.projection = true
      return c
    }

    static func siglip(patch: Int) -> Config {
      var c = Config(patchSize: patch, width: 768, depth: 12, heads: 12)
      c.classToken = false
      c.globalPool = .map
      c.numClasses = 0
      return c
    }

    static func torchvision(patch: Int, width: Int, depth: Int, heads: Int, mlp: Int) -> Config {
      var c = Config(patchSize: patch, width: width, depth: depth, heads: heads, layout: .torchvision)
      c.mlpWidth = mlp
      return c
    }
  }

  // MARK: - Parameter names

  struct Names {
    let c: Config
    var tv: Bool { c.layout == .torchvision }
    var patchConv: String { tv ? "conv_proj" : "patch_embed.proj" }
    var classToken: String { tv ? "class_token" : "cls_token" }
    var positions: String { tv ? "encoder.pos_embedding" : "pos_embed" }
    func block(_ i: Int) -> String { tv ? "encoder.layers.encoder_layer_\(i)" : "blocks.\(i)" }
    func norm1(_ i: Int) -> String { block(i) + (tv ? ".ln_1" : ".norm1") }
    func norm2(_ i: Int) -> String { block(i) + (tv ? ".ln_2" : ".norm2") }
    func proj(_ i: Int) -> String { block(i) + (tv ? ".self_attention.out_proj" : ".attn.proj") }
    func fc1(_ i: Int) -> String { block(i) + (tv ? ".mlp.0" : ".mlp.fc1") }
    func fc2(_ i: Int) -> String { block(i) + (tv ? ".mlp.3" : ".mlp.fc2") }
    /// The fused query/key/value weight and bias.
    func qkv(_ i: Int) -> (weight: String, bias: String) {
      tv
        ? (block(i) + ".self_attention.in_proj_weight", block(i) + ".self_attention.in_proj_bias")
        : (block(i) + ".attn.qkv.weight", block(i) + ".attn.qkv.bias")
    }
    var finalNorm: String { tv ? "encoder.ln" : "norm" }
    var head: String { tv ? "heads.head" : "head" }
  }

  // MARK: - Graph

  static func graph(_ c: Config, height: Int, width: Int) -> Graph {
    var g = Graph(inputHeight: height, inputWidth: width)
    g.channelsLast = true
    g.stridedBatch = true
    g.layerNormEpsilon = c.normEpsilon
    let n = Names(c: c)
    let d = c.width
    let grid = Extent(height / c.patchSize, width / c.patchSize)
    let tokens = c.prefixTokens + grid.area
    let nativeGrid = c.imageSize / c.patchSize

    // Parameters before the blocks, in the reference's registration order.
    let positionCount = (c.noEmbedClass ? 0 : c.prefixTokens) + nativeGrid * nativeGrid
    var prefix: [String] = []
    if c.classToken { prefix.append(n.classToken) }
    if c.layout == .torchvision {
      g.registerTokens(n.classToken, count: 1, channels: d)
    } else {
      if c.classToken { g.registerTokens(n.classToken, count: 1, channels: d) }
      if c.registerTokens > 0 {
        g.registerTokens("reg_token", count: c.registerTokens, channels: d)
        prefix.append("reg_token")
      }
      g.registerTokens(n.positions, count: positionCount, channels: d)
    }

    // The image channels-last first: oneDNN has no fast convolution from NCHW to NHWC.
    let image = g.wholeBuffer(3, height, width)
    g.ops.append(.copy(CopyOp(src: g.input, dst: image)))
    let patches = g.wholeBuffer(d, grid.height, grid.width)
    g.conv(
      n.patchConv, norm: nil, from: image, to: patches, kernel: Extent(c.patchSize, c.patchSize), stride: c.patchSize,
      bias: !c.preNorm)
    g.tap("patch_embed", patches, prefixTokens: 0)
    if c.layout == .torchvision { g.registerTokens(n.positions, count: positionCount, channels: d) }

    var x = g.wholeBuffer(d, tokens, 1)
    g.ops.append(
      .tokens(
        TokensOp(
          patches: patches, dst: x, prefix: prefix, positions: n.positions, positionsCoverPrefix: !c.noEmbedClass,
          grid: grid)))
    if c.preNorm {
      let normed = g.wholeBuffer(d, tokens, 1)
      g.layerNorm("norm_pre", from: x, to: normed)
      x = normed
    }

    let size = Extent(tokens, 1)
    // DINOv2's n = 4 feature: each of the last blocks' class token through the final norm, then the last
    // block's patch-token mean (dinov2/eval/linear.py `create_linear_input`; `last4_avg`).
    let lastBlocks = c.lastBlocks
    let intermediate = lastBlocks > 0 ? g.wholeBuffer((lastBlocks + 1) * d, 1, 1) : nil
    let scale = 1 / Float(d / c.heads).squareRoot()
    let activation = c.activation.step
    for i in 0..<c.depth {
      let h = g.temporary(d, size)
      g.layerNorm(n.norm1(i), from: x, to: h)
      let (qkvWeight, qkvBias) = n.qkv(i)
      g.registerLinear(
        "", in: d, out: 3 * d, bias: c.qkvBias, forFeatures: true, weight: qkvWeight, biasName: qkvBias)
      let qkv = (1...3).map { _ in g.temporary(d, size) }
      for (part, view) in qkv.enumerated() {
        g.ops.append(
          .linear(
            LinearOp(
              weight: qkvWeight, bias: c.qkvBias ? qkvBias : nil, src: h, dst: view, rows: (part * d)..<((part + 1) * d),
              factor: part == 0 ? scale : 1)))
      }
      let context = g.temporary(d, size)
      let scores = g.temporary(tokens, Extent(c.heads * tokens, 1)).buffer
      g.ops.append(
        .attention(
          AttentionOp(queries: .view(qkv[0]), keys: qkv[1], values: qkv[2], heads: c.heads, scores: scores, dst: context)))
      g.linear(n.proj(i), from: context, to: x, post: [.sum])
      if c.layerScale { attachLayerScale(&g, n.block(i) + ".ls1.gamma", channels: d) }
      g.layerNorm(n.norm2(i), from: x, to: h)
      let hidden = g.temporary(c.mlpWidth, size)
      g.linear(n.fc1(i), from: h, to: hidden, post: [activation])
      g.linear(n.fc2(i), from: hidden, to: x, post: [.sum])
      if c.layerScale { attachLayerScale(&g, n.block(i) + ".ls2.gamma", channels: d) }
      g.tap("blocks.\(i)", x, prefixTokens: c.prefixTokens)
      if let intermediate, i >= c.depth - lastBlocks, i < c.depth - 1 {
        // The final norm (its tensors are registered below) on this block's output, class token kept.
        let normedBlock = g.temporary(d, size)
        g.ops.append(.layerNorm(LayerNormOp(norm: n.finalNorm, src: x, dst: normedBlock)))
        let slot = intermediate.slice((i - (c.depth - lastBlocks)) * d, d)
        g.ops.append(.copy(CopyOp(src: normedBlock.tokens(0, 1), dst: slot)))
      }
    }

    let preLogits = g.wholeBuffer(d, 1, 1)
    switch c.globalPool {
    case .token:
      let normed = g.wholeBuffer(d, tokens, 1)
      g.layerNorm(n.finalNorm, from: x, to: normed)
      g.tap("norm", normed, prefixTokens: c.prefixTokens)
      g.ops.append(.copy(CopyOp(src: normed.tokens(0, 1), dst: preLogits)))
      g.tap("pre_logits", preLogits, isVector: true)
      if let intermediate {
        g.ops.append(.copy(CopyOp(src: normed.tokens(0, 1), dst: intermediate.slice((lastBlocks - 1) * d, d))))
        g.ops.append(
          .meanRows(MeanRowsOp(src: normed.tokens(c.prefixTokens, grid.area), dst: intermediate.slice(lastBlocks * d, d))))
        g.tap("last4_avg", intermediate, isVector: true)
      }
    case .map:
      let normed = g.wholeBuffer(d, tokens, 1)
      g.layerNorm(n.finalNorm, from: x, to: normed)
      g.tap("norm", normed, prefixTokens: c.prefixTokens)
      attentionPool(&g, c, normed, into: preLogits)
    case .avg:
      let mean = g.wholeBuffer(d, 1, 1)
      g.ops.append(.meanRows(MeanRowsOp(src: x.tokens(c.prefixTokens, grid.area), dst: mean)))
      g.layerNorm("fc_norm", from: mean, to: preLogits)
    }
    if c.globalPool != .token { g.tap("pre_logits", preLogits, isVector: true) }
    if c.numClasses > 0 { g.registerLinear(n.head, in: d, out: c.numClasses) }
    if c.projection {
      let embedding = g.wholeBuffer(c.numClasses, 1, 1)
      g.ops.append(.linear(LinearOp(weight: n.head + ".weight", bias: n.head + ".bias", src: preLogits, dst: embedding)))
      g.tap("proj", embedding, isVector: true)
    }
    return g
  }

  /// timm's `AttentionPoolLatent` over `x` into `output`: one learned query attends over the tokens, then
  /// `proj`, then `out + mlp(norm(out))`.
  static func attentionPool(_ g: inout Graph, _ c: Config, _ x: View, into output: View) {
    let d = c.width
    let size = g.size(x)
    let tokens = size.area
    g.registerTokens("attn_pool.latent", count: 1, channels: d)
    g.registerLinear("attn_pool.q", in: d, out: d, forFeatures: true)
    g.registerLinear("attn_pool.kv", in: d, out: 2 * d, forFeatures: true)
    let (keys, values) = (g.temporary(d, size), g.temporary(d, size))
    for (part, view) in [keys, values].enumerated() {
      g.ops.append(
        .linear(
          LinearOp(
            weight: "attn_pool.kv.weight", bias: "attn_pool.kv.bias", src: x, dst: view, rows: (part * d)..<((part + 1) * d))))
    }
    let scores = g.temporary(tokens, Extent(c.heads, 1)).buffer
    let context = g.wholeBuffer(d, 1, 1)
    let query = AttentionOp.Queries.latent(
      latent: "attn_pool.latent", weight: "attn_pool.q.weight", bias: "attn_pool.q.bias",
      scale: 1 / Float(d / c.heads).squareRoot())
    g.ops.append(
      .attention(AttentionOp(queries: query, keys: keys, values: values, heads: c.heads, scores: scores, dst: context)))
    g.linear("attn_pool.proj", from: context, to: output)
    let normed = g.wholeBuffer(d, 1, 1)
    g.layerNorm("attn_pool.norm", from: output, to: normed)
    let hidden = g.wholeBuffer(c.mlpWidth, 1, 1)
    g.linear("attn_pool.mlp.fc1", from: normed, to: hidden, post: [c.activation.step])
    g.linear("attn_pool.mlp.fc2", from: hidden, to: output, post: [.sum])
  }

  /// Registers a layer scale and folds it into the Linear layer just appended (`x + γ ⊙ (W h + b)`).
  static func attachLayerScale(_ g: inout Graph, _ name: String, channels: Int) {
    g.registerVector(name, channels: channels, kind: .layerScale)
    guard case .linear(var op) = g.ops.removeLast() else { preconditionFailure("layer scale without a Linear layer") }
    op.layerScale = name
    g.ops.append(.linear(op))
  }
}
