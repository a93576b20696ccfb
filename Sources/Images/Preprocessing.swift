// torchvision's transforms for PIL images, reproduced exactly: Resize (PIL bilinear or bicubic with
// antialiasing, Pillow 13), CenterCrop (torchvision's rounding), ToTensor (÷255), Normalize ((x - mean) / std), all in
// float32 as torch computes them.

import Foundation

/// Every preprocessing parameter; written as JSON into each feature store and head.
public struct Preprocessing: Codable, Equatable, Sendable {
  /// How images are resized first.
  public enum Resize: Codable, Equatable, Sendable {
    /// `transforms.Resize((height, width))`.
    case exact(height: Int, width: Int)
    /// `transforms.Resize(size)`: the shorter side becomes `size`, the longer keeps the aspect ratio.
    case shorter(Int)

    private enum Keys: String, CodingKey { case mode, size }

    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: Keys.self)
      switch self {
      case .exact(let h, let w):
        try c.encode("exact", forKey: .mode)
        try c.encode([h, w], forKey: .size)
      case .shorter(let s):
        try c.encode("shorter", forKey: .mode)
        try c.encode([s], forKey: .size)
      }
    }

    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: Keys.self)
      let size = try c.decode([Int].self, forKey: .size)
      switch (try c.decode(String.self, forKey: .mode), size.count) {
      case ("exact", 2): self = .exact(height: size[0], width: size[1])
      case ("shorter", 1): self = .shorter(size[0])
      default: throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "unknown resize \(size)")
      }
    }
  }

  public var resize: Resize?
  /// `transforms.CenterCrop((height, width))`.
  public var crop: [Int]?
  /// `transforms.Normalize(mean, std)` after ToTensor; nil for none.
  public var mean: [Float]?
  public var std: [Float]?
  /// The resize's interpolation: `bilinear` (torchvision's default) or `bicubic` (most timm weights), as
  /// PIL does them (antialiased when shrinking); `validate()` refuses any other name.
  public var interpolation = "bilinear"
  public var antialias = true
  /// `--draft`: JPEGs are decoded like PIL's `Image.draft("RGB", size)` with the size the resize produces
  /// (libjpeg's scaled IDCT at 1/2, 1/4 or 1/8), then resized as usual. nil (absent from the JSON) is off,
  /// so the preprocessing of stores written before it existed is unchanged.
  public var draft: Bool?

  public init(resize: Resize?, crop: [Int]?, mean: [Float]?, std: [Float]?) {
    self.resize = resize
    self.crop = crop
    self.mean = mean
    self.std = std
  }

  /// The bird workflow's test-time pipeline: `Resize((224, 224))`, `ToTensor()`, no normalisation.
  public static let seed = Preprocessing(resize: .exact(height: 224, width: 224), crop: nil, mean: nil, std: nil)

  /// torchvision's ImageNet evaluation transform (IMAGENET1K_V1 weights): `Resize(256)`,
  /// `CenterCrop(224)`, `ToTensor()`, `Normalize(ImageNet mean, std)`.
  public static let imagenet = Preprocessing(
    resize: .shorter(256), crop: [224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

  /// Named presets.
  public static let presets: [String: Preprocessing] = ["seed": .seed, "imagenet": .imagenet]

  /// The network input size, if every image gets the same one (a crop or an exact resize).
  public var fixedSize: (height: Int, width: Int)? {
    if let crop { return (crop[0], crop[1]) }
    if case .exact(let h, let w)? = resize { return (h, w) }
    return nil
  }

  /// What `Image.draft` is given for a `width` × `height` image: the size the resize step produces, or
  /// nil (no draft) without `draft` or a resize.
  public func draftTarget(width: Int, height: Int) -> (width: Int, height: Int)? {
    guard draft == true else { return nil }
    switch resize {
    case .exact(let h, let w)?: return (w, h)
    case .shorter(let s)?: return resizedSize(width: width, height: height, shorter: s)
    case nil: return nil
    }
  }

  /// `draftTarget` as the decoder takes it, or nil without `draft`.
  public var draftTargets: ((Int, Int) -> (width: Int, height: Int)?)? {
    guard draft == true else { return nil }
    let preprocessing = self
    return { preprocessing.draftTarget(width: $0, height: $1) }
  }

  /// Canonical JSON (sorted keys), as stored in the `preprocess` attribute.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// Parses the `preprocess` attribute of a store or head.
  public static func fromJSON(_ text: String) throws -> Preprocessing {
    try JSONDecoder().decode(Preprocessing.self, from: Data(text.utf8))
  }

  /// The PIL filter `interpolation` names.
  /// - Throws: `PreprocessingError` (parameter `interpolation`) for a name featx does not implement.
  public func filter() throws -> PILFilter {
    guard let filter = PILFilter(rawValue: interpolation) else {
      throw PreprocessingError(
        parameter: .interpolation,
        reason: "'\(interpolation)' is not supported; use \(PILFilter.allCases.map(\.rawValue).joined(separator: " or "))")
    }
    return filter
  }

  /// Checks the parameters before any image is read: a known interpolation, positive sizes, a crop no
  /// larger than the resize, three finite means and non-zero stds, and a fixed output size.
  /// - Throws: `PreprocessingError` naming the parameter.
  public func validate() throws {
    func bad(_ parameter: PreprocessingError.Parameter, _ why: String) -> PreprocessingError {
      PreprocessingError(parameter: parameter, reason: why)
    }
    _ = try filter()
    switch resize {
    case .exact(let h, let w)?: guard h > 0, w > 0 else { throw bad(.resize, "sizes must be positive") }
    case .shorter(let s)?: guard s > 0 else { throw bad(.resize, "the size must be positive") }
    case nil: break
    }
    if let crop {
      guard crop.count == 2, crop.allSatisfy({ $0 > 0 }) else { throw bad(.crop, "needs two positive sizes") }
      switch resize {
      case .exact(let h, let w)?:
        guard crop[0] <= h, crop[1] <= w else {
          throw bad(.crop, "\(crop[1])x\(crop[0]) is larger than the \(w)x\(h) resize, so no image could be cropped")
        }
      case .shorter(let s)?:
        guard crop[0] <= s, crop[1] <= s else {
          throw bad(.crop, "\(crop[1])x\(crop[0]) is larger than the resized shorter side \(s)")
        }
      case nil: break
      }
    }
    guard (mean == nil) == (std == nil) else { throw bad(.normalization, "give both mean and std, or neither") }
    if let mean, let std {
      guard mean.count == 3, std.count == 3 else { throw bad(.normalization, "mean and std need three values (R,G,B)") }
      guard mean.allSatisfy(\.isFinite) else { throw bad(.normalization, "mean must be finite") }
      guard std.allSatisfy({ $0 != 0 && $0.isFinite }) else { throw bad(.normalization, "std must be finite and non-zero") }
    }
    guard fixedSize != nil else {
      throw bad(.crop, "every image must end up the same size: add a crop or resize to an exact size")
    }
  }

  /// The file at `path` decoded (drafted when `draft` is on) and resized and cropped: the one way every
  /// caller turns a file into the network's uint8 image.
  public func pixels(ofFileAt path: String, decoder: ImageDecoder) throws -> RGBImage {
    try pixels(try decoder.decode(path: path, draftTo: draftTargets), maxPixels: decoder.maxPixels, path: path)
  }

  /// Resizes and crops a decoded image as torchvision would (uint8 RGB, before ToTensor).
  ///
  /// - Parameter maxPixels: refuse a resize whose result would exceed this many pixels (a 1×999999
  ///   image resized on its shorter side to 256 would need 256×255999744).
  /// - Throws: `ImageError` for an image that cannot be resized or cropped so; `PreprocessingError` for an
  ///   unknown interpolation (which `validate()` refuses before any image is read).
  public func pixels(_ image: RGBImage, maxPixels: Int = ImageDecoder.defaultMaxPixels, path: String = "") throws -> RGBImage {
    var out = image
    let filter = try filter()
    switch resize {
    case .exact(let h, let w)?:
      out = resizePIL(out, width: w, height: h, filter: filter)
    case .shorter(let s)?:
      let size = resizedSize(width: out.width, height: out.height, shorter: s)
      let (area, overflow) = size.width.multipliedReportingOverflow(by: size.height)
      guard !overflow, area <= maxPixels else {
        throw ImageError(
          path: path, kind: .tooLarge,
          detail: "\(out.width)x\(out.height) resized to a shorter side of \(s) would be \(size.width)x\(size.height) pixels")
      }
      out = resizePIL(out, width: size.width, height: size.height, filter: filter)
    case nil:
      break
    }
    if let crop {
      guard out.height >= crop[0], out.width >= crop[1] else {
        throw ImageError(
          path: path, kind: .tooSmall, detail: "\(out.width)x\(out.height) is smaller than the \(crop[1])x\(crop[0]) crop")
      }
      out = centerCrop(out, width: crop[1], height: crop[0])
    }
    return out
  }

  /// ToTensor + Normalize: interleaved RGB uint8 → planar float32 [3, H, W], written to `output`.
  public func tensor(_ image: RGBImage, into output: UnsafeMutableBufferPointer<Float>) {
    let plane = image.width * image.height
    precondition(output.count == 3 * plane, "Preprocessing.tensor: output holds \(output.count) values, need \(3 * plane)")
    image.pixels.withUnsafeBufferPointer { px in
      for c in 0..<3 {
        let m = mean?[c] ?? 0
        let s = std?[c] ?? 1
        let normalize = mean != nil
        let base = c * plane
        for i in 0..<plane {
          let x = Float(px[3 * i + c]) / 255
          output[base + i] = normalize ? (x - m) / s : x
        }
      }
    }
  }
}

/// Preprocessing parameters that cannot work. The description says which parameter and why; the CLI
/// maps `parameter` to its option.
public struct PreprocessingError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The parameter at fault.
  public enum Parameter: String, Sendable {
    case resize, crop
    /// The mean and std of Normalize.
    case normalization
    /// The resize's filter.
    case interpolation
  }

  public var parameter: Parameter
  public var reason: String

  public init(parameter: Parameter, reason: String) {
    self.parameter = parameter
    self.reason = reason
  }

  public var description: String { "invalid preprocessing: \(parameter.rawValue): \(reason)" }
}
