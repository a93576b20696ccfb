import FeatureStore
import Support

/// The human-readable rendering of `featx info`.
enum InfoText {
  static func render(_ s: StoreSummary) -> String {
    var out = ""
    func line(_ key: String, _ value: String) { out += key.padding(toLength: 14, withPad: " ", startingAt: 0) + value + "\n" }
    line("file", s.path)
    line("format", "\(s.format) v\(s.formatVersion) (featx \(s.featxVersion))")
    line(
      "status",
      s.complete
        ? "complete" : "INCOMPLETE: \(s.rowsComplete) of \(s.rows) rows written; rerun the same `featx extract` to resume")
    line("rows", "\(s.rows) (train \(s.train), test \(s.test)\(s.unlabelled > 0 ? ", unlabelled \(s.unlabelled)" : ""))")
    line("features", "\(s.dimension) values per row, \(s.dtype), feature_shape \(s.featureShape)")
    line("backbone", "\(s.arch), layer \(s.layer), pooling \(s.pooling), precision \(s.precision)")
    line(
      "weights",
      s.randomWeights
        ? "SEEDED RANDOM WEIGHTS (\(s.weightsFile)): features carry no ImageNet knowledge"
        : "\(s.weightsFile) (sha256 \(s.weightsSHA256))" + (s.weightsPath.map { $0.isEmpty ? "" : " at \($0)" } ?? ""))
    line("preprocess", s.preprocess)
    switch s.splitMode {
    case "none": line("split", "none (all train)")
    case "folders": line("split", "folders: " + (s.splitFolders?.summary ?? "(not recorded)"))
    default: line("split", "\(s.splitMode), ratio \(s.splitRatio), seed \(s.splitSeed)")
    }
    if !s.shard.isEmpty { line("shard", s.shard) }
    line("source", s.source)
    line("created", s.created)
    line("skipped", "\(s.skipped.count) image(s)")
    for (path, reason) in s.skipped.sorted(by: { $0.key < $1.key }).prefix(20) { out += "  \(path): \(reason)\n" }
    out += "classes       \(s.classes.count)\n"
    // Columns by display width: a CJK character takes two terminal columns, a combining accent none.
    let width = max(5, s.classes.map(\.name.displayWidth).max() ?? 0)
    out += "  label  " + "name".padded(toWidth: width) + "   rows  train   test\n"
    for c in s.classes {
      out +=
        "  " + pad(c.label, 5) + "  " + c.name.padded(toWidth: width)
        + " " + pad(c.rows, 6) + " " + pad(c.train, 6) + " " + pad(c.test, 6) + "\n"
    }
    return out
  }

  private static func pad(_ n: Int, _ width: Int) -> String {
    let s = String(n)
    return String(repeating: " ", count: max(0, width - s.count)) + s
  }
}
