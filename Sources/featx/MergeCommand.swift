import ArgumentParser
import FeatureStore

/// `featx merge shard*.h5 -o features.h5`: join shard stores into one.
struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Join the shard stores of `featx extract --shard k/N` into the store one process would have written.")

  @Argument(help: "Shard stores, in any order.")
  var shards: [String]

  @Option(name: .shortAndLong, help: "Merged feature store to write.")
  var output: String

  func validate() throws {
    guard !shards.isEmpty else { throw ValidationError("give the shard stores to merge") }
  }

  func run() throws {
    try HDF5Guard.check(shards, as: .store)
    let rows = try StoreMerge.merge(shards, into: output)
    print("wrote \(output): \(rows) rows from \(shards.count) shards")
  }
}
