// swift-tools-version:6.0
// featx: extract CNN features once into HDF5, train a linear head in seconds, classify images.
//
// Data flows one way: Images → Backbones → Extract → FeatureStore → Probe → Predict (Weights reads the
// weight files Backbones computes with); Search finds neighbours among a store's rows (k-NN, image search);
// Charts draws what Probe reports. DNNL is the only target that imports oneDNN, Images the only one that
// imports the image codecs (libjpeg, zlib), HDF5 the only one that imports libhdf5, Weights the only one
// that imports libcrypto.

import PackageDescription

let package = Package(
  name: "featx",
  products: [
    .executable(name: "featx", targets: ["featx"]),
    .library(name: "FeatureStore", targets: ["FeatureStore"]),
    .library(name: "Images", targets: ["Images"]),
    .library(name: "Weights", targets: ["Weights"]),
    .library(name: "Backbones", targets: ["Backbones"]),
    .library(name: "Extract", targets: ["Extract"]),
    .library(name: "Probe", targets: ["Probe"]),
    .library(name: "Predict", targets: ["Predict"]),
    .library(name: "Search", targets: ["Search"]),
    .library(name: "Charts", targets: ["Charts"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // C libraries (Debian packages; see scripts/install-deps)
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
    .systemLibrary(name: "CMalloc"),
    .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
    .systemLibrary(name: "CCairo", pkgConfig: "pangocairo", providers: [.apt(["libcairo2-dev", "libpango1.0-dev"])]),

    // Libraries
    .target(name: "Support"),
    .target(name: "CKernels"),
    .target(name: "CFileMap"),
    .target(name: "HDF5", dependencies: ["CHDF5"]),
    .target(name: "DNNL", dependencies: ["CDNNL"]),
    .target(name: "Images", dependencies: ["Support", "CJPEG", "CZlib"]),
    .target(name: "FeatureStore", dependencies: ["HDF5", "Support"]),
    // Weight files and where they come from: .pth/.safetensors reading, the Hugging Face cache, downloads.
    .target(name: "Weights", dependencies: ["COpenSSL", "CFileMap", "Support"]),
    // The compute: architectures, the graph and its compiler on oneDNN, Backbone.
    .target(name: "Backbones", dependencies: ["DNNL", "Images", "Weights", "Support"]),
    .target(name: "Extract", dependencies: ["Images", "Backbones", "FeatureStore", "Support"]),
    .target(name: "Probe", dependencies: ["DNNL", "CKernels", "FeatureStore", "HDF5", "Support"]),
    .target(name: "Search", dependencies: ["DNNL", "CKernels", "HDF5", "FeatureStore", "Probe", "Support"]),
    .target(name: "Predict", dependencies: ["Images", "Backbones", "Weights", "Extract", "FeatureStore", "Probe", "Support"]),
    .target(name: "Charts", dependencies: ["CCairo", "Support"]),

    // CLI
    .executableTarget(
      name: "featx",
      dependencies: [
        "Images", "Backbones", "Weights", "Extract", "FeatureStore", "Probe", "Search", "Predict", "Charts", "DNNL",
        "Support", "CMalloc",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // Tests
    .target(name: "TestSupport", dependencies: ["Support", "Weights", "FeatureStore"], path: "Tests/TestSupport"),
    .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
    .testTarget(name: "WeightsTests", dependencies: ["Weights", "TestSupport"]),
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "CHDF5", "TestSupport"]),
    .testTarget(name: "DNNLTests", dependencies: ["DNNL", "TestSupport"]),
    .testTarget(name: "ImagesTests", dependencies: ["Images", "Weights", "TestSupport"]),
    .testTarget(name: "FeatureStoreTests", dependencies: ["FeatureStore", "HDF5", "TestSupport"]),
    .testTarget(name: "BackbonesTests", dependencies: ["Backbones", "Weights", "DNNL", "Images", "Support", "TestSupport"]),
    .testTarget(
      name: "ExtractTests",
      dependencies: ["Extract", "Images", "Backbones", "Weights", "FeatureStore", "Support", "TestSupport"]),
    .testTarget(
      name: "ProbeTests",
      dependencies: ["Probe", "Backbones", "Weights", "DNNL", "FeatureStore", "HDF5", "Support", "TestSupport"]),
    .testTarget(name: "SearchTests", dependencies: ["Search", "Probe", "FeatureStore", "TestSupport"]),
    .testTarget(name: "ChartsTests", dependencies: ["Charts", "CCairo", "TestSupport"]),
    // README.md's "From Swift" example, compiled, run and compared with the README.
    .testTarget(
      name: "ReadmeExampleTests", dependencies: ["Backbones", "Extract", "FeatureStore", "Images", "Probe", "TestSupport"]),
    .testTarget(
      name: "FeatxCLITests",
      dependencies: [
        "featx", "DNNL", "Images", "Backbones", "Weights", "Extract", "FeatureStore", "HDF5", "Probe", "Predict", "Support",
        "TestSupport",
      ]),
  ],
  swiftLanguageModes: [.v6]
)
