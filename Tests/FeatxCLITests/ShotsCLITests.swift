// `featx probe --shots`: a series reports each point's train rows and test accuracy, its "all" point is the
// plain probe, and bad counts are refused.

import Foundation
import Testing
import TestSupport

@Suite struct ShotsCLITests {
  @Test func aSeriesEndsWithThePlainProbe() throws {
    let reference = KNNCase.document.cases[0]
    let dir = TemporaryDirectory()
    let store = try reference.store(in: dir)
    let plots = dir.path("plots")
    let series = try runFeatx([
      "probe", store, "-o", dir.path("few.h5"), "--shots", "2,30,all", "--json", "--plot", plots, "--quiet",
    ])
    #expect(series.status == 0, "\(series.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(series.stdout.utf8)) as? [String: Any])
    let points = try #require(json["shots"] as? [[String: Any]])
    #expect(points.map { $0["shots"] as? String } == ["2", "30", "all"])
    #expect(points.map { $0["train_rows"] as? Int } == [14, 196, reference.split.filter { $0 == 0 }.count])
    let plain = try runFeatx(["probe", store, "-o", dir.path("plain.h5"), "--json", "--quiet"])
    let report = try #require(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
    let top1 = try #require((report["test"] as? [String: Any])?["top1"] as? Double)
    #expect(abs((points.last?["top1"] as? Double ?? -1) - top1) < 1e-12)
    for name in ["shots.png", "shots.svg", "shots.pdf"] { #expect(FileManager.default.fileExists(atPath: plots + "/" + name)) }
    let bad = try runFeatx(["probe", store, "-o", dir.path("x.h5"), "--shots", "0,4"])
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("--shots takes images per class, e.g. 4 or 1,2,4,8,16,all; not '0,4'"))
  }
}
