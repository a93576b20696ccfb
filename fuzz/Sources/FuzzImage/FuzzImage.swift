// libFuzzer harness: JPEG/PNG decoding, PIL-exact bilinear and bicubic resize + center crop, ToTensor + Normalize.
// maxPixels is small so that a decompression bomb is refused instead of exhausting memory.

import CFuzzer
import Images

nonisolated(unsafe) let decoder = ImageDecoder(maxPixels: 4_000_000)
// The code paths of --preset imagenet (Resize(shorter side) + CenterCrop + Normalize) and --preset seed
// (Resize((H, W)), no crop, no Normalize), at small sizes so that the debug build runs fast: the resize
// code does not depend on the target size, only on the ratio, which the fuzzed image's size varies. The
// third is timm's usual evaluation recipe (bicubic, whose negative lobes need the clip), in miniature.
let recipes: [Preprocessing] = [
  Preprocessing(
    resize: .shorter(20), crop: [16, 16], mean: Preprocessing.imagenet.mean, std: Preprocessing.imagenet.std),
  Preprocessing(resize: .exact(height: 9, width: 13), crop: nil, mean: nil, std: nil),
  {
    var p = Preprocessing(resize: .shorter(17), crop: [16, 16], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
    p.interpolation = "bicubic"
    return p
  }(),
]

/// The entry point SwiftPM's `--defsym main=FuzzImage_main` points at: runs libFuzzer's driver.
@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
  featx_fuzz_main(argc, argv)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  guard let image = try? decoder.decode(bytes, path: "fuzz.img") else { return 0 }
  precondition(image.pixels.count == image.width * image.height * 3, "decoded pixel count")
  for recipe in recipes {
    guard let out = try? recipe.pixels(image) else { continue }
    var tensor = [Float](repeating: 0, count: 3 * out.width * out.height)
    tensor.withUnsafeMutableBufferPointer { recipe.tensor(out, into: $0) }
  }
  return 0
}
