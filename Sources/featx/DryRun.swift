import Backbones
import Extract
import FeatureStore
import Foundation
import Images

/// `featx extract --dry-run`: the plan of an extraction, from the dataset walk, the split and the shard
/// arithmetic, with a time estimate from one batch of the backbone on random pixels. No image is decoded
/// and nothing is written.
enum DryRun {
  /// Images per second of `backbone` on one timed batch (after one warm-up batch) of random inputs of the
  /// preprocessing's size: the forward pass alone, so decoding makes a real run somewhat slower.
  static func imagesPerSecond(_ backbone: Backbone, preprocessing: Preprocessing, batch: Int) throws -> Double {
    guard let size = preprocessing.fixedSize else { return .nan }
    var timer = try ForwardTimer(backbone, height: size.height, width: size.width, batch: min(batch, 8))
    _ = try timer.seconds()
    return Double(timer.batch) / (try timer.seconds())
  }

  static func render(_ plan: ExtractPlan, options: ExtractOptions, imagesPerSecond rate: Double, threads: Int) -> String {
    let m = plan.metadata
    let items = plan.dataset.items.count
    let train = plan.split.filter { $0 == SplitPart.train.rawValue }.count
    var out = "plan for \(options.listFile ?? options.root) → \(options.output) (nothing decoded or written)\n"
    out += "files    \(items) images in \(plan.dataset.classes.count) classes"
    out += plan.dataset.ignored.isEmpty ? "\n" : "; \(plan.dataset.ignored.count) other entries skipped\n"
    out += "split    \(m.splitMode.rawValue): \(train) train, \(items - train) test\n"
    if plan.shards.count > 1 {
      out += "shards   \(plan.shards.count), rows [start, end) of the dataset:\n"
      for (i, r) in plan.shards.enumerated() {
        out += "  \(i)/\(plan.shards.count): \(r.lowerBound)..<\(r.upperBound) (\(r.count) images)"
        out += options.shard?.index == i ? "  ← this run\n" : "\n"
      }
    }
    let values = m.featureShape.reduce(1, *)
    let type = plan.dtype == .float16 ? "float16" : "float32"
    let rows = plan.rows.paths.count
    out += "store    \(values) \(type) per image (\(m.layer) \(m.featureShape), pooling \(m.pooling)) × \(rows) images = "
    out += bytes(plan.featureBytes)
    if let pooled = plan.pooledFeatureBytes, m.pooling == "flatten" { out += "; with --pool avg \(bytes(pooled))" }
    out += "\n"
    if rate.isFinite, rate > 0 {
      out += String(
        format: "time     %.1f images/s for %@ on this CPU (%d threads, forward pass only): about %@ for %d images\n", rate,
        m.arch, threads, duration(Double(rows) / rate), rows)
    }
    return out
  }

  /// 1.5 GB, 48 MB, 3.2 kB (powers of 1000, as disks are sold).
  static func bytes(_ n: Int) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(n)
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    return unit == 0 ? "\(n) B" : String(format: value >= 100 ? "%.0f %@" : "%.1f %@", value, units[unit])
  }

  static func duration(_ seconds: Double) -> String {
    if seconds < 1 { return "under 1 s" }
    if seconds < 90 { return String(format: "%.0f s", seconds) }
    if seconds < 90 * 60 { return String(format: "%.0f min", seconds / 60) }
    return String(format: "%.1f h", seconds / 3600)
  }
}
