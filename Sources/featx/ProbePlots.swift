import Foundation
import Charts
import Probe

/// The pictures `featx probe --plot DIR` writes: loss and accuracy curves, and the confusion matrix, each as
/// `<name>.png`, `<name>.svg` and `<name>.pdf`.
enum ProbePlots {
  static func write(_ r: ProbeReport, to folder: String) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let step = r.solver == "adam" ? "epoch" : "L-BFGS iteration (final fit)"
    let h = r.history
    try Plot.lineChart(
      title: "Loss (mean cross-entropy)", xLabel: step, yLabel: "loss",
      series: [
        PlotSeries(name: "train", values: h.map(\.trainLoss)), PlotSeries(name: "test", values: h.map { $0.testLoss ?? .nan }),
      ], to: folder + "/loss")
    try Plot.lineChart(
      title: "Accuracy", xLabel: step, yLabel: "top-1 accuracy",
      series: [
        PlotSeries(name: "train", values: h.map(\.trainAccuracy)),
        PlotSeries(name: "test", values: h.map { $0.testAccuracy ?? .nan }),
      ], to: folder + "/accuracy")
    try Plot.confusionMatrix(
      r.confusion, classes: r.classes, title: "Confusion matrix (\(r.confusionOf) rows)", to: folder + "/confusion")
  }
}
