import ArgumentParser
import Support

/// `featx`: extract CNN features once into HDF5, train a linear head in seconds, classify images.
@main
struct Featx: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "featx",
    abstract: "Extract CNN features once, train a linear head in seconds, classify images.",
    discussion: """
      A frozen ImageNet backbone (DenseNet or ResNet, from torchvision weight files) turns every image of a \
      dataset into a feature vector, stored in an HDF5 feature store; a linear/softmax head trains on the \
      stored features; backbone + head then classify new images.
      """,
    version: featxVersion,
    subcommands: [ExtractCommand.self, ProbeCommand.self, PredictCommand.self, MergeCommand.self, Info.self, BenchCommand.self]
  )
}
