// The checkpoint layouts of vision transformers published outside timm, converted to timm's keys as timm's
// own filters do (timm/models/vision_transformer.py `_convert_dinov2`, `_convert_openai_clip`), so a user's
// `dinov2_vits14_pretrain.pth` or OpenAI/OpenCLIP `ViT-B-16.pt` state_dict reads as the timm model.

import Weights

/// Converts Meta's DINOv2 and OpenAI's / OpenCLIP's CLIP state_dicts to timm's names.
enum TransformerCheckpoints {
  /// `dict` in timm's layout for a vision transformer `architecture`, converted when it is in Meta's DINOv2
  /// layout (`mask_token`, `register_tokens`) or CLIP's (`visual.*`); else unchanged.
  static func timmLayout(_ dict: StateDict, architecture: String) -> StateDict {
    if dict.tensors["visual.conv1.weight"] != nil { return openAICLIP(dict) }
    if architecture.hasSuffix("_dinov2"), dict.tensors["mask_token"] != nil || dict.tensors["register_tokens"] != nil {
      return dinov2(dict)
    }
    return dict
  }

  /// What is wrong with a CLIP checkpoint that holds no image tower (only the text transformer).
  static func textTowerOnly(_ dict: StateDict) -> String? {
    guard dict.tensors["visual.conv1.weight"] == nil,
      dict.tensors["token_embedding.weight"] != nil || dict.keys.contains(where: { $0.hasPrefix("transformer.resblocks.") })
    else { return nil }
    return "it holds only CLIP's text tower (token_embedding, transformer.resblocks.*) and no visual.* tensors: "
      + "give the full CLIP checkpoint, which has the image tower"
  }

  /// timm's `_convert_dinov2`: `mask_token` dropped; with registers, `register_tokens` becomes `reg_token`,
  /// the class token absorbs the table's first row (`cls_token + pos_embed[:, 0]`, a float32 sum) and the
  /// table keeps only the patch rows (timm's `no_embed_class` layout).
  static func dinov2(_ dict: StateDict) -> StateDict {
    var out = StateDict(keys: [], tensors: [:], source: dict.source, sha256: dict.sha256)
    func put(_ key: String, _ tensor: WeightTensor) {
      if out.tensors[key] == nil { out.keys.append(key) }
      out.tensors[key] = tensor
    }
    let registers = dict.tensors["register_tokens"]
    for key in dict.keys where key != "mask_token" {
      guard let tensor = dict.tensors[key] else { continue }
      switch key {
      case "register_tokens": put("reg_token", tensor)
      case "cls_token" where registers != nil:
        let width = tensor.values.count
        let table = dict.tensors["pos_embed"]?.values ?? []
        guard table.count >= width else {
          put(key, tensor)
          continue
        }
        put(key, WeightTensor(shape: tensor.shape, values: zip(tensor.values, table.prefix(width)).map { $0 + $1 }))
      case "pos_embed" where registers != nil && tensor.shape.count == 3:
        let width = tensor.shape[2]
        put(key, WeightTensor(shape: [1, tensor.shape[1] - 1, width], values: Array(tensor.values.dropFirst(width))))
      default: put(key, tensor)
      }
    }
    return out
  }

  /// timm's `_convert_openai_clip` for the image tower (`visual.*`; the text tower is dropped): OpenAI's
  /// module names become timm's, the class embedding a `[1, 1, D]` token, the position table `[1, T, D]`,
  /// and the image projection `proj` `[D, E]` the `[E, D]` head with a zero bias.
  static func openAICLIP(_ dict: StateDict) -> StateDict {
    let swaps = [
      ("conv1", "patch_embed.proj"), ("positional_embedding", "pos_embed"), ("transformer.resblocks.", "blocks."),
      ("ln_pre", "norm_pre"), ("ln_post", "norm"), ("ln_", "norm"), ("in_proj_", "qkv."), ("out_proj", "proj"),
      ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2"),
    ]
    var out = StateDict(keys: [], tensors: [:], source: dict.source, sha256: dict.sha256)
    func put(_ key: String, _ tensor: WeightTensor) {
      if out.tensors[key] == nil { out.keys.append(key) }
      out.tensors[key] = tensor
    }
    for key in dict.keys where key.hasPrefix("visual.") {
      guard var tensor = dict.tensors[key] else { continue }
      var name = String(key.dropFirst("visual.".count))
      for (from, to) in swaps { name = name.replacingOccurrences(of: from, with: to) }
      switch name {
      case "proj" where tensor.shape.count == 2:
        let (d, e) = (tensor.shape[0], tensor.shape[1])
        var transposed = [Float](repeating: 0, count: d * e)
        for i in 0..<d { for j in 0..<e { transposed[j * d + i] = tensor.values[i * e + j] } }
        put("head.weight", WeightTensor(shape: [e, d], values: transposed))
        put("head.bias", WeightTensor(shape: [e], values: [Float](repeating: 0, count: e)))
        continue
      case "class_embedding":
        name = "cls_token"
        tensor.shape = [1, 1] + tensor.shape
      case "pos_embed": tensor.shape = [1] + tensor.shape
      default: break
      }
      put(name, tensor)
    }
    return out
  }
}
