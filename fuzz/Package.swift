// swift-tools-version:6.0
// libFuzzer harnesses for featx's readers of untrusted files. Not part of the default build or tests:
// see fuzz/README.md. Build with -sanitize=fuzzer,address (fuzz/run.sh does).

import PackageDescription

let package = Package(
  name: "featx-fuzz",
  dependencies: [.package(name: "featx", path: "..")],
  targets: [
    // libFuzzer's LLVMFuzzerRunDriver (see Sources/CFuzzer/shim.h for why it is needed).
    .systemLibrary(name: "CFuzzer"),
    // .pth (zip and legacy, restricted unpickler) and .safetensors, through Checkpoint.parse.
    .executableTarget(
      name: "FuzzCheckpoint",
      dependencies: ["CFuzzer", .product(name: "Weights", package: "featx")]),
    // JPEG/PNG decoding, PIL bilinear resize + crop, ToTensor + Normalize.
    .executableTarget(
      name: "FuzzImage",
      dependencies: ["CFuzzer", .product(name: "Images", package: "featx")]),
    // timm's config.json (data config, eval transform) and checkpoint key filter.
    .executableTarget(
      name: "FuzzTimmConfig",
      dependencies: [
        "CFuzzer", .product(name: "Backbones", package: "featx"), .product(name: "Weights", package: "featx"),
        .product(name: "Images", package: "featx"),
      ]),
    // Feature stores and heads (HDF5), read from a temporary file.
    .executableTarget(
      name: "FuzzStore",
      dependencies: [
        "CFuzzer", .product(name: "FeatureStore", package: "featx"), .product(name: "Probe", package: "featx"),
      ]),
  ],
  swiftLanguageModes: [.v6]
)
