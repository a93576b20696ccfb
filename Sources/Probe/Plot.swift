// Placeholder until the plotting code lands (same API).
public struct PlotSeries: Sendable {
  public var name: String
  public var values: [Double]
  public init(name: String, values: [Double]) {
    self.name = name
    self.values = values
  }
}

public enum Plot {
  public static func lineChart(title: String, xLabel: String, yLabel: String, series: [PlotSeries], to base: String) throws {}
  public static func confusionMatrix(_ matrix: [[Int]], classes: [String], title: String, to base: String) throws {}
}
