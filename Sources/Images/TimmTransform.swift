// timm's evaluation transform as featx preprocessing: `timm.data.transforms_factory.transforms_imagenet_eval`
// (what `create_transform(**resolve_data_config(model=model))` builds with is_training False), for the crop
// modes whose steps are torchvision's own: `Resize` + `CenterCrop` + `ToTensor` + `Normalize`.

extension Preprocessing {
  /// timm's evaluation transform for a resolved data config (see `TimmConfig.DataConfig`):
  /// `scale = floor(size / cropPct)` per side; `center`: `Resize(scale)` on the shorter side (timm
  /// requires a square scale for that; others use its ResizeKeepRatio, refused here), `squash`:
  /// `Resize((scaleH, scaleW))`; then `CenterCrop((height, width))`, ToTensor and Normalize(mean, std)
  /// (float32, as `torch.tensor(mean)` makes them).
  ///
  /// - Throws: `PreprocessingError` for what featx does not reproduce (crop mode `border`, a non-square
  ///   `center` resize, an interpolation other than bilinear or bicubic) or that cannot work.
  public static func timmEval(
    height: Int, width: Int, cropPct: Double, cropMode: String, interpolation: String, mean: [Double], std: [Double]
  ) throws -> Preprocessing {
    func scaled(_ size: Int) throws -> Int {
      let scale = (Double(size) / cropPct).rounded(.down)
      guard scale.isFinite, scale >= 1, scale <= Double(1 << 20) else {
        throw PreprocessingError(parameter: .resize, reason: "crop_pct \(cropPct) gives a resize of \(scale) pixels")
      }
      return Int(scale)
    }
    let (scaleHeight, scaleWidth) = (try scaled(height), try scaled(width))
    let resize: Resize
    switch cropMode {
    case "squash":
      resize = .exact(height: scaleHeight, width: scaleWidth)
    case "center":
      guard scaleHeight == scaleWidth else {
        throw PreprocessingError(
          parameter: .resize,
          reason: "crop_mode center with the non-square input_size \(height)x\(width) resizes with timm's ResizeKeepRatio, "
            + "which featx does not reproduce (squash does)")
      }
      resize = .shorter(scaleHeight)
    case "border":
      throw PreprocessingError(
        parameter: .resize, reason: "crop_mode border (timm's ResizeKeepRatio + CenterCropOrPad) is not reproduced by featx")
    default:
      throw PreprocessingError(
        parameter: .resize, reason: "crop_mode '\(cropMode)' is not one of timm's (center, squash, border)")
    }
    var p = Preprocessing(resize: resize, crop: [height, width], mean: mean.map(Float.init), std: std.map(Float.init))
    p.interpolation = interpolation
    try p.validate()
    return p
  }
}
