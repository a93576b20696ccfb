/// The backbones featx knows by name, with torchvision's hyper-parameters.
public enum Architecture: String, CaseIterable, Sendable {
  case densenet121, densenet161, densenet169, densenet201
  case resnet18, resnet34, resnet50, resnet101, resnet152
  case resnext50_32x4d, resnext101_32x8d

  /// The architecture's hyper-parameters.
  public var config: ArchitectureConfig {
    switch self {
    case .densenet121: .denseNet(.densenet121)
    case .densenet161: .denseNet(.densenet161)
    case .densenet169: .denseNet(.densenet169)
    case .densenet201: .denseNet(.densenet201)
    case .resnet18: .resNet(.resnet18)
    case .resnet34: .resNet(.resnet34)
    case .resnet50: .resNet(.resnet50)
    case .resnet101: .resNet(.resnet101)
    case .resnet152: .resNet(.resnet152)
    case .resnext50_32x4d: .resNet(.resnext50_32x4d)
    case .resnext101_32x8d: .resNet(.resnext101_32x8d)
    }
  }

  /// Parses a name, with a helpful error listing the choices.
  public static func named(_ name: String) throws -> Architecture {
    guard let arch = Architecture(rawValue: name.lowercased()) else {
      throw BackboneError.unknown(kind: "architecture", value: name, choices: allCases.map(\.rawValue))
    }
    return arch
  }
}

/// Hyper-parameters of a DenseNet or ResNet (any width: tests use reduced-width models).
public enum ArchitectureConfig: Sendable, Equatable {
  case denseNet(DenseNet.Config)
  case resNet(ResNet.Config)

  /// Tappable layers, shallow to deep.
  public var layers: [String] {
    switch self {
    case .denseNet(let c): c.layers
    case .resNet(let c): c.layerNames
    }
  }

  /// The layer used when none is given: `features` (DenseNet, as the bird workflow) or `avgpool` (ResNet).
  public var defaultLayer: String {
    switch self {
    case .denseNet: "features"
    case .resNet: "avgpool"
    }
  }

  func graph(height: Int, width: Int) -> Graph {
    switch self {
    case .denseNet(let c): DenseNet.graph(c, height: height, width: width)
    case .resNet(let c): ResNet.graph(c, height: height, width: width)
    }
  }

  /// Every state_dict entry the architecture defines, in torchvision's order.
  public var parameters: [ParameterSpec] { graph(height: 224, width: 224).parameters }
}

/// How a layer's `[C, H, W]` map becomes the stored vector.
public enum Pooling: String, CaseIterable, Sendable {
  /// Keep every value, channel-major (PyTorch's `view(N, -1)`): C·H·W values.
  case flatten
  /// Mean over H and W: C values.
  case avg
  /// Maximum over H and W: C values.
  case max
}
