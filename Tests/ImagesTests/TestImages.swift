import Images
import Foundation

/// Reads an 8-bit RGB reference PNG written by the fixture scripts.
func loadReferenceRGB(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
  let image = try ImageDecoder().decode(path: url.path)
  return (image.width, image.height, image.pixels)
}

/// featx's production decoder.
func decodeImageFile(_ url: URL) throws -> RGBImage {
  try ImageDecoder().decode(path: url.path)
}
