// swift-tools-version:6.0
// featx: extract CNN features once into HDF5, train a linear head in seconds, classify images.

import PackageDescription

let package = Package(
  name: "featx",
  products: [
    .executable(name: "featx", targets: ["featx"]),
    .library(name: "FeatureStore", targets: ["FeatureStore"]),
    .library(name: "Backbones", targets: ["Backbones"]),
    .library(name: "Extract", targets: ["Extract"]),
    .library(name: "Probe", targets: ["Probe"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // C libraries (Debian packages; see scripts/install-deps)
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

    // Libraries
    .target(name: "Support"),
    .target(name: "CKernels"),
    .target(name: "HDF5", dependencies: ["CHDF5"]),
    .target(name: "FeatureStore", dependencies: ["HDF5", "Support"]),
    .target(name: "Backbones", dependencies: ["CDNNL", "Support"]),
    .target(name: "Extract", dependencies: ["Backbones", "FeatureStore", "Support", "CTurboJPEG", "CPNG"]),
    .target(
      name: "Probe",
      dependencies: ["Backbones", "Extract", "FeatureStore", "HDF5", "Support", "CDNNL", "CPNG", "CKernels"]),

    // CLI
    .executableTarget(
      name: "featx",
      dependencies: [
        "Backbones", "Extract", "FeatureStore", "Probe", "Support",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // Tests
    .target(name: "TestSupport", dependencies: ["Support"], path: "Tests/TestSupport"),
    .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "CHDF5", "TestSupport"]),
    .testTarget(name: "FeatureStoreTests", dependencies: ["FeatureStore", "HDF5", "TestSupport"]),
    .testTarget(name: "BackbonesTests", dependencies: ["Backbones", "Extract", "Support", "TestSupport"]),
    .testTarget(name: "ExtractTests", dependencies: ["Extract", "Backbones", "FeatureStore", "Support", "TestSupport"]),
    .testTarget(name: "ProbeTests", dependencies: ["Probe", "Backbones", "Extract", "FeatureStore", "HDF5", "Support", "TestSupport", "CPNG"]),
    .testTarget(
      name: "FeatxCLITests", dependencies: ["featx", "Backbones", "Extract", "FeatureStore", "HDF5", "Probe", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
