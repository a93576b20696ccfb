import ArgumentParser
import FeatureStore
import Foundation

/// `featx info FILE`: a human (or JSON) summary of a feature store.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Summarise a feature store: rows, dimensions, classes, split, backbone, preprocessing.")

  @Argument(help: "Feature store written by `featx extract` (.h5).")
  var file: String

  @Flag(help: "Print the summary as JSON.")
  var json = false

  func run() throws {
    let summary = try HDF5Guard.read(file, as: .store) { try StoreSummary(FeatureStore(path: file)) }
    if json {
      print(try JSONText.encode(summary))
    } else {
      print(InfoText.render(summary), terminator: "")
    }
  }
}
