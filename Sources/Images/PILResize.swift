// PILResize.swift
//
// An exact port of Pillow's `Image.resize((w, h), Image.BILINEAR)` and `Image.resize((w, h),
// Image.BICUBIC)` for 8-bit RGB images, plus the torchvision size rules around it (`Resize(int)`,
// `CenterCrop`). Together they reproduce `torchvision.transforms.Resize(..., interpolation=...)` /
// `CenterCrop(...)` applied to a PIL RGB image byte for byte.
//
// Ported from Pillow 13.0.0 `src/libImaging/Resample.c` (`precompute_coeffs`, `normalize_coeffs_8bpc`,
// `_ImagingResampleHorizontal_8bpc`, `_ImagingResampleVertical_8bpc`, `ImagingResampleInner`) with the
// bilinear ("triangle", support 1) and bicubic (Keys' cubic convolution, a = -0.5, support 2) filters,
// and torchvision 0.28 `transforms/functional.py` (`_compute_resized_output_size`, `center_crop`).
// Pillow runs every filter through the same machinery; only `struct filter` (kernel and support)
// differs, and so here only `PILFilter` does.
//
// Hand-written on purpose: no C library resamples like Pillow (libswscale, pixman and cairo use other
// filter supports, tap positions and rounding), and features equal torchvision's only when every pixel
// equals PIL's.
//
// What has to match Pillow exactly (all reproduced below):
// - the filter support is widened by `filterscale = max(in/out, 1)` (antialiasing when shrinking);
// - tap positions: `center = (xx + 0.5) * scale`, `xmin = (int)(center - support + 0.5)` clamped to 0,
//   `xmax = (int)(center + support + 0.5)` clamped to the input size (C truncation toward zero);
// - tap weights `filter((x + xmin - center + 0.5) * (1 / filterscale))`, i.e. multiplied by the
//   reciprocal, not divided; normalised by their double sum (`k /= ww`);
// - fixed point: weights rounded half away from zero to `PRECISION_BITS = 32 - 8 - 2 = 22` fractional bits
//   (`(int)(0.5 + k * (1 << 22))`), accumulators start at `1 << 21` (rounding), results are `acc >> 22`
//   clamped to 0...255 (`clip8`). The bicubic kernel has negative lobes, so sums overshoot both ways at
//   hard edges and the clip decides those pixels (also in the 8-bit intermediate image);
// - two separable passes through an intermediate *8-bit* image (rounded and clipped in between), in
//   Pillow 13's order: horizontal first, except when the height shrinks by more than twice as many
//   pixels as the width (`inH - outH > 0 && inH - outH > (inW - outW) * 2`), then vertical first.
//   The order changes results by +-1 in places. (Pillow releases before that rule always ran the
//   horizontal pass first; the fixtures pin Pillow 13.0.0.)
// - horizontal first: the horizontal pass only produces the source rows the vertical pass reads
//   (`ybox_first ..< ybox_last` from the vertical bounds), and the vertical bounds are shifted by
//   `ybox_first` to index that intermediate image; vertical first: the vertical pass runs over the
//   full source width, then the horizontal pass over its `outH` rows;
// - a pass is skipped when its dimension is unchanged (no filtering at all, not an identity filter);
//   with both unchanged the image is copied.
//
// No Foundation.

/// An 8-bit RGB image: `pixels` holds `width * height * 3` bytes, interleaved R, G, B, rows top to
/// bottom, no padding between rows.
public struct RGBImage: Sendable, Equatable {
  public var width: Int
  public var height: Int
  public var pixels: [UInt8]

  /// Wraps existing interleaved RGB8 pixels (`pixels.count` must be `width * height * 3`).
  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0, "negative image size")
    precondition(
      pixels.count == width * height * 3, "RGBImage: expected \(width * height * 3) bytes, got \(pixels.count)")
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// A black image.
  public init(width: Int, height: Int) {
    self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
  }
}

// MARK: - Filters

/// A Pillow resampling filter (Resample.c's `struct filter`): a kernel and its support. The raw value is
/// the name torchvision and timm use (`Preprocessing.interpolation`).
public enum PILFilter: String, Sendable, CaseIterable {
  /// `Image.BILINEAR`: `bilinear_filter`, support 1.
  case bilinear
  /// `Image.BICUBIC`: `bicubic_filter` with a = -0.5, support 2.
  case bicubic

  /// Half-width of the kernel in input samples before widening by the scale.
  public var support: Double {
    switch self {
    case .bilinear: 1.0
    case .bicubic: 2.0
    }
  }

  /// The kernel at `x` (in input samples, already divided by the filter scale), in double precision as
  /// Pillow computes it (same operations in the same order; the constants fold exactly).
  @inline(__always) public func weight(_ x: Double) -> Double {
    var x = x
    if x < 0.0 { x = -x }
    switch self {
    case .bilinear:
      if x < 1.0 { return 1.0 - x }
      return 0.0
    case .bicubic:
      // https://en.wikipedia.org/wiki/Bicubic_interpolation#Bicubic_convolution_algorithm
      let a = -0.5
      if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
      if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
      return 0.0
    }
  }
}

// MARK: - Coefficients

/// Pillow's resampling coefficients for one axis (`precompute_coeffs` + `normalize_coeffs_8bpc`) for one
/// filter, source box = the whole input (`0 ..< inSize`).
///
/// Output sample `i` is `clip8((1 << 21 + Σ_t in[start(i) + t] * weight(i, t)) >> 22)` for
/// `t < count(i)`.
public struct PILResampleAxis: Sendable, Equatable {
  /// `PRECISION_BITS` of Pillow's 8-bit path.
  public static let precisionBits = 32 - 8 - 2

  public let inSize: Int
  public let outSize: Int
  public let filter: PILFilter
  /// Coefficient slots per output sample (`ksize = ceil(support) * 2 + 1`).
  public let kernelSize: Int
  /// `[start0, count0, start1, count1, ...]` (Pillow's `bounds`: `xmin`, `xmax - xmin`).
  public let bounds: [Int32]
  /// `outSize * kernelSize` fixed-point weights (row `i` at `i * kernelSize`; unused slots are 0).
  public let weights: [Int32]

  /// Computes the coefficients for resizing `inSize` samples to `outSize` samples with `filter`.
  public init(inSize: Int, outSize: Int, filter: PILFilter = .bilinear) {
    precondition(inSize > 0 && outSize > 0, "PILResampleAxis: sizes must be positive")
    self.inSize = inSize
    self.outSize = outSize
    self.filter = filter
    let (ksize, bounds, k) = Self.coefficients(inSize: inSize, outSize: outSize, filter: filter)
    kernelSize = ksize
    let one = Double(1 << Self.precisionBits)
    // normalize_coeffs_8bpc
    self.weights = k.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
    self.bounds = bounds
  }

  /// Pillow's `precompute_coeffs`: the slots per output sample, `[start, count]` per output sample, and
  /// `outSize * ksize` weights normalised to sum 1 (the float path uses them as they are).
  static func coefficients(inSize: Int, outSize: Int, filter: PILFilter) -> (ksize: Int, bounds: [Int32], weights: [Double]) {
    let support0 = filter.support
    // Pillow passes the box edges as C floats: in0 = 0, in1 = inSize.
    let in0: Float = 0
    let in1 = Float(inSize)
    let scale = Double(in1 - in0) / Double(outSize)
    var filterscale = scale
    if filterscale < 1.0 { filterscale = 1.0 }
    let support = support0 * filterscale
    let ksize = Int(support.rounded(.up)) * 2 + 1

    var bounds = [Int32](repeating: 0, count: outSize * 2)
    var weights = [Double](repeating: 0, count: outSize * ksize)
    var k = [Double](repeating: 0, count: ksize)
    for xx in 0..<outSize {
      let center = Double(in0) + (Double(xx) + 0.5) * scale
      var ww = 0.0
      let ss = 1.0 / filterscale
      // Round the value (C: (int) truncates toward zero)
      var xmin = Int(center - support + 0.5)
      if xmin < 0 { xmin = 0 }
      var xmax = Int(center + support + 0.5)
      if xmax > inSize { xmax = inSize }
      xmax -= xmin
      if xmax < 0 { xmax = 0 }
      for x in 0..<xmax {
        let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
        k[x] = w
        ww += w
      }
      for x in 0..<xmax where ww != 0.0 {
        k[x] /= ww
      }
      bounds[2 * xx] = Int32(xmin)
      bounds[2 * xx + 1] = Int32(xmax)
      for x in 0..<xmax { weights[xx * ksize + x] = k[x] }
    }
    return (ksize, bounds, weights)
  }
}

extension PILFilter {
  /// Pillow's resize of float ("F" mode) images, for `planes` planes of `from` (height, width) laid out one
  /// after another: the 32bpc passes of `ImagingResample` (horizontal, then vertical; each output the
  /// double sum of inputs times the normalised weights, stored as float). torch's antialiased
  /// `F.interpolate`, which timm resamples position tables with, computes the same function.
  public func resamplePlanes(_ input: [Float], planes: Int, from: (Int, Int), to: (Int, Int)) -> [Float] {
    let (inH, inW) = from
    let (outH, outW) = to
    var current = input
    var width = inW
    if outW != inW {
      let (ksize, bounds, k) = PILResampleAxis.coefficients(inSize: inW, outSize: outW, filter: self)
      var next = [Float](repeating: 0, count: planes * inH * outW)
      for row in 0..<(planes * inH) {
        for xx in 0..<outW {
          let (start, count) = (Int(bounds[2 * xx]), Int(bounds[2 * xx + 1]))
          var sum = 0.0
          for x in 0..<count { sum += Double(current[row * inW + start + x]) * k[xx * ksize + x] }
          next[row * outW + xx] = Float(sum)
        }
      }
      current = next
      width = outW
    }
    guard outH != inH else { return current }
    let (ksize, bounds, k) = PILResampleAxis.coefficients(inSize: inH, outSize: outH, filter: self)
    var next = [Float](repeating: 0, count: planes * outH * width)
    for plane in 0..<planes {
      for yy in 0..<outH {
        let (start, count) = (Int(bounds[2 * yy]), Int(bounds[2 * yy + 1]))
        for x in 0..<width {
          var sum = 0.0
          for y in 0..<count { sum += Double(current[(plane * inH + start + y) * width + x]) * k[yy * ksize + y] }
          next[(plane * outH + yy) * width + x] = Float(sum)
        }
      }
    }
    return next
  }
}

// MARK: - Resizer

/// `Image.resize((outputWidth, outputHeight), filter)` for RGB images of one input size, with the
/// coefficients computed once: build one per (input size, output size, filter) and reuse it for every
/// image of that size. Immutable and `Sendable`; `resize` may be called concurrently.
public struct PILResizer: Sendable {
  public let inputWidth: Int
  public let inputHeight: Int
  public let outputWidth: Int
  public let outputHeight: Int
  public let filter: PILFilter

  /// Horizontal coefficients, or nil when the width is unchanged (pass skipped).
  let horizontal: PILResampleAxis?
  /// Vertical coefficients, or nil when the height is unchanged (pass skipped).
  let vertical: PILResampleAxis?
  /// Pillow 13's pass order: horizontal then vertical, unless the height shrinks by more than twice
  /// as many pixels as the width.
  public let horizontalFirst: Bool
  /// Vertical bounds as the vertical pass uses them: shifted by `-rowFirst` when the horizontal pass
  /// ran first (they then index the intermediate image), unshifted otherwise.
  let verticalBounds: [Int32]
  /// Horizontal-first only: the source rows the vertical filter reads (`ybox_first ..< ybox_last`),
  /// i.e. the rows the horizontal pass produces.
  let rowFirst: Int
  let rowLast: Int

  public init(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, filter: PILFilter = .bilinear) {
    precondition(inputWidth > 0 && inputHeight > 0, "PILResizer: empty input")
    precondition(outputWidth > 0 && outputHeight > 0, "PILResizer: empty output")
    self.inputWidth = inputWidth
    self.inputHeight = inputHeight
    self.outputWidth = outputWidth
    self.outputHeight = outputHeight
    self.filter = filter

    // ImagingResampleInner with box = (0, 0, inputWidth, inputHeight):
    // need_horizontal = xsize != imIn->xsize || box[0] || box[2] != xsize
    let needHorizontal = outputWidth != inputWidth
    let needVertical = outputHeight != inputHeight
    // "If height is being scaled down more than twice the amount the width is, run the vertical pass
    // first, to make the horizontal pass faster"
    let dh = inputHeight - outputHeight
    let dw = inputWidth - outputWidth
    horizontalFirst = !(dh > 0 && dh > dw * 2)

    // With the horizontal pass first, the vertical coefficients are needed even when the height is
    // unchanged: their bounds give the rows the horizontal pass must produce (all of them then).
    let v = PILResampleAxis(inSize: inputHeight, outSize: outputHeight, filter: filter)
    if needHorizontal && horizontalFirst {
      rowFirst = Int(v.bounds[0])
      rowLast = Int(v.bounds[2 * outputHeight - 2] + v.bounds[2 * outputHeight - 1])
      var shifted = v.bounds
      if rowFirst != 0 {
        for i in 0..<outputHeight { shifted[2 * i] -= Int32(rowFirst) }
      }
      verticalBounds = shifted
    } else {
      rowFirst = 0
      rowLast = outputHeight
      verticalBounds = v.bounds
    }
    horizontal = needHorizontal ? PILResampleAxis(inSize: inputWidth, outSize: outputWidth, filter: filter) : nil
    vertical = needVertical ? v : nil
    if needHorizontal && !needVertical {
      // Unchanged height: the vertical filter is the identity, so the horizontal pass covers all rows
      // and is the result.
      precondition(rowFirst == 0 && rowLast == inputHeight)
    }
  }

  /// Resizes `image` (which must be `inputWidth` x `inputHeight`).
  public func resize(_ image: RGBImage) -> RGBImage {
    precondition(
      image.width == inputWidth && image.height == inputHeight,
      "PILResizer(\(inputWidth)x\(inputHeight)) got a \(image.width)x\(image.height) image")
    var out = [UInt8](repeating: 0, count: outputWidth * outputHeight * 3)
    image.pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        resize(pixels: src, into: dst)
      }
    }
    return RGBImage(width: outputWidth, height: outputHeight, pixels: out)
  }

  /// Resizes interleaved RGB8 `pixels` (`inputWidth * inputHeight * 3` bytes) into `output`
  /// (`outputWidth * outputHeight * 3` bytes). Allocates only the intermediate image (if both passes
  /// run) and one accumulator row; `pixels` and `output` must not overlap.
  public func resize(pixels: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) {
    precondition(pixels.count >= inputWidth * inputHeight * 3, "input buffer too small")
    precondition(output.count >= outputWidth * outputHeight * 3, "output buffer too small")
    guard let src = pixels.baseAddress, let dst = output.baseAddress else { return }

    switch (horizontal, vertical) {
    case (nil, nil):
      dst.update(from: src, count: outputWidth * outputHeight * 3)
    case (let h?, nil):
      Self.horizontalPass(h, src: src, srcWidth: inputWidth, rows: rowFirst..<rowLast, dst: dst)
    case (nil, let v?):
      Self.verticalPass(v, bounds: verticalBounds, src: src, width: outputWidth, dst: dst)
    case (let h?, let v?) where horizontalFirst:
      let temp = UnsafeMutablePointer<UInt8>.allocate(capacity: outputWidth * (rowLast - rowFirst) * 3)
      defer { temp.deallocate() }
      Self.horizontalPass(h, src: src, srcWidth: inputWidth, rows: rowFirst..<rowLast, dst: temp)
      Self.verticalPass(v, bounds: verticalBounds, src: UnsafePointer(temp), width: outputWidth, dst: dst)
    case (let h?, let v?):
      let temp = UnsafeMutablePointer<UInt8>.allocate(capacity: inputWidth * outputHeight * 3)
      defer { temp.deallocate() }
      Self.verticalPass(v, bounds: verticalBounds, src: src, width: inputWidth, dst: temp)
      Self.horizontalPass(h, src: UnsafePointer(temp), srcWidth: inputWidth, rows: 0..<outputHeight, dst: dst)
    }
  }

  /// `_ImagingResampleHorizontal_8bpc`, 3 bands: output row `r - rows.lowerBound` from source row `r`.
  static func horizontalPass(
    _ axis: PILResampleAxis, src: UnsafePointer<UInt8>, srcWidth: Int, rows: Range<Int>,
    dst: UnsafeMutablePointer<UInt8>
  ) {
    let outWidth = axis.outSize
    let ksize = axis.kernelSize
    let half = Int32(1) << (PILResampleAxis.precisionBits - 1)
    axis.bounds.withUnsafeBufferPointer { bounds in
      axis.weights.withUnsafeBufferPointer { weights in
        let b = bounds.baseAddress!
        let w = weights.baseAddress!
        var out = dst
        for y in rows {
          let row = src + y * srcWidth * 3
          for xx in 0..<outWidth {
            let xmin = Int(b[2 * xx])
            let count = Int(b[2 * xx + 1])
            let k = w + xx * ksize
            var p = row + xmin * 3
            var s0 = half
            var s1 = half
            var s2 = half
            for t in 0..<count {
              let c = k[t]
              s0 &+= Int32(p[0]) &* c
              s1 &+= Int32(p[1]) &* c
              s2 &+= Int32(p[2]) &* c
              p += 3
            }
            out[0] = clip8(s0)
            out[1] = clip8(s1)
            out[2] = clip8(s2)
            out += 3
          }
        }
      }
    }
  }

  /// `_ImagingResampleVertical_8bpc`, 3 bands, on an image `width` pixels wide. Loops are reordered
  /// (tap-major over a whole row) for vectorisation; integer sums are the same in any order.
  static func verticalPass(
    _ axis: PILResampleAxis, bounds: [Int32], src: UnsafePointer<UInt8>, width: Int,
    dst: UnsafeMutablePointer<UInt8>
  ) {
    let rowLength = width * 3
    let ksize = axis.kernelSize
    let half = Int32(1) << (PILResampleAxis.precisionBits - 1)
    let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
    defer { acc.deallocate() }
    bounds.withUnsafeBufferPointer { bounds in
      axis.weights.withUnsafeBufferPointer { weights in
        let b = bounds.baseAddress!
        let w = weights.baseAddress!
        for yy in 0..<axis.outSize {
          let ymin = Int(b[2 * yy])
          let count = Int(b[2 * yy + 1])
          let k = w + yy * ksize
          acc.update(repeating: half, count: rowLength)
          for t in 0..<count {
            let c = k[t]
            let row = src + (ymin + t) * rowLength
            for i in 0..<rowLength {
              acc[i] &+= Int32(row[i]) &* c
            }
          }
          let out = dst + yy * rowLength
          for i in 0..<rowLength {
            out[i] = clip8(acc[i])
          }
        }
      }
    }
  }

  /// Pillow's `clip8`: `acc >> PRECISION_BITS` clamped to 0...255.
  @inline(__always) static func clip8(_ acc: Int32) -> UInt8 {
    let v = acc >> Int32(PILResampleAxis.precisionBits)
    return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
  }
}

/// `image.resize((width, height), filter)` for a PIL RGB image (`Image.BILINEAR` by default). For many
/// images of one size, build a `PILResizer` once instead.
public func resizePIL(_ image: RGBImage, width: Int, height: Int, filter: PILFilter = .bilinear) -> RGBImage {
  if image.width == width && image.height == height { return image }  // PIL: self.copy()
  return PILResizer(
    inputWidth: image.width, inputHeight: image.height, outputWidth: width, outputHeight: height, filter: filter
  ).resize(image)
}

// MARK: - torchvision size rules

/// The output size of torchvision `Resize(shorter, max_size=maxSize)` (an int size) for a
/// `width` x `height` image (`_compute_resized_output_size`): the shorter side becomes `shorter`, the
/// longer `int(shorter * long / short)` (truncated); if that exceeds `maxSize`, the longer side becomes
/// `maxSize` and the shorter `int(maxSize * shorter / longer)`. When `width == height`, width counts
/// as the shorter side. torchvision requires `maxSize > shorter` (it raises otherwise; here it traps).
public func resizedSize(width: Int, height: Int, shorter: Int, maxSize: Int? = nil) -> (width: Int, height: Int) {
  precondition(width > 0 && height > 0 && shorter > 0, "resizedSize: sizes must be positive")
  let (short, long) = width <= height ? (width, height) : (height, width)
  var newShort = shorter
  // Python: int(requested_new_short * long / short): exact integer product, correctly rounded division.
  var newLong = Int(Double(shorter * long) / Double(short))
  if let maxSize {
    precondition(maxSize > shorter, "max_size = \(maxSize) must be strictly greater than the requested size \(shorter)")
    if newLong > maxSize {
      newShort = Int(Double(maxSize * newShort) / Double(newLong))
      newLong = maxSize
    }
  }
  return width <= height ? (newShort, newLong) : (newLong, newShort)
}

/// Where torchvision `CenterCrop((cropHeight, cropWidth))` takes its output from: the source coordinate
/// of output pixel (0, 0). `top = int(round((height - cropHeight) / 2.0))` with Python's round-half-even
/// (so an odd excess of 1 gives 0, 3 gives 2, 5 gives 2), and `left` likewise. When the crop is larger
/// than the image along an axis, torchvision first pads `(crop - size) // 2` zeros before (and the rest
/// after); the offset is then negative.
public func centerCropOrigin(width: Int, height: Int, cropWidth: Int, cropHeight: Int) -> (left: Int, top: Int) {
  func origin(_ size: Int, _ crop: Int) -> Int {
    if crop > size { return -((crop - size) / 2) }
    return Int((Double(size - crop) / 2.0).rounded(.toNearestOrEven))
  }
  return (origin(width, cropWidth), origin(height, cropHeight))
}

/// torchvision `CenterCrop((height, width))` on an RGB image, including its zero padding when the crop
/// is larger than the image.
public func centerCrop(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
  precondition(width > 0 && height > 0, "centerCrop: crop size must be positive")
  if image.width == width && image.height == height { return image }
  let (left, top) = centerCropOrigin(width: image.width, height: image.height, cropWidth: width, cropHeight: height)
  var out = [UInt8](repeating: 0, count: width * height * 3)
  // Columns of the output that fall inside the source.
  let x0 = max(0, -left)
  let x1 = min(width, image.width - left)
  image.pixels.withUnsafeBufferPointer { src in
    out.withUnsafeMutableBufferPointer { dst in
      guard x1 > x0 else { return }
      for y in 0..<height {
        let sy = y + top
        guard sy >= 0 && sy < image.height else { continue }
        let s = src.baseAddress! + (sy * image.width + x0 + left) * 3
        let d = dst.baseAddress! + (y * width + x0) * 3
        d.update(from: s, count: (x1 - x0) * 3)
      }
    }
  }
  return RGBImage(width: width, height: height, pixels: out)
}
