// `featx predict` on labelled folder trees (a folder per class, or split folders): the per-image output,
// then accuracy and the confusion summary like evaluate; unlabelled folders print no accuracy.

import FeatureStore
import Foundation
import Testing
import TestSupport

/// The numbers of a report line `name  rows  top-1  top-5  loss`.
private func reportLine(_ text: String, _ name: String) -> [Double]? {
  guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return nil }
  return line.split(separator: " ").dropFirst().compactMap { Double($0) }
}

@Suite(
  .serialized,
  .enabled(
    if: FileManager.default.fileExists(atPath: TestPaths.datasets.appendingPathComponent("flower_photos_small").path),
    "the shared datasets are not available"))
struct PredictFolderCLITests {
  static let extractArgs = ["--arch", "resnet18", "--weights", "random:0", "--quiet"]

  /// Split folders: every image classified, then train and test lines equal to evaluate's on the store of
  /// the same tree.
  @Test func splitFolderTreeGetsEvaluatesReport() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 6), ("val", 3)])
    let store = dir.path("f.h5")
    #expect(try runFeatx(["extract", root, "-o", store] + Self.extractArgs).status == 0)
    let head = dir.path("head.h5")
    #expect(try runFeatx(["probe", store, "-o", head, "--l2", "1e-2", "--quiet"]).status == 0)
    let evaluate = try runFeatx(["evaluate", head, store])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")

    let predict = try runFeatx(["predict", head, root, "--top-k", "1"])
    #expect(predict.status == 0, "\(predict.stderr)")
    let out = predict.stdout
    // 27 images, two lines each, then the summary.
    let images = out.split(separator: "\n").filter { $0.hasPrefix(root + "/") }
    #expect(images.count == 27, "\(out)")
    #expect(out.contains("\(head) on the labelled images of \(root): 27 images (split folders: train and test parts)"), "\(out)")
    for part in ["train", "test"] {
      let mine = try #require(reportLine(out, part), "\(out)")
      let theirs = try #require(reportLine(evaluate.stdout, part), "\(evaluate.stdout)")
      #expect(mine[0] == theirs[0])
      // The same images through the same backbone: equal up to the last bits of the features.
      #expect(abs(mine[1] - theirs[1]) <= 1.0 / mine[0] + 1e-9, "\(out)\n\(evaluate.stdout)")
      #expect(abs(mine[3] - theirs[3]) < 1e-3)
    }
    #expect(out.contains("worst classes (test):"))
  }

  /// A folder per class: all images scored as one part; JSON keeps stdout a document and names each
  /// image's folder class; an unlabelled folder and a folder of non-class folders print no accuracy.
  @Test func classFoldersJSONAndUnlabelledFolders() throws {
    let dir = TemporaryDirectory()
    let root = try flowerSplitTree(dir, parts: [("train", 4), ("val", 2)])
    let store = dir.path("f.h5")
    #expect(try runFeatx(["extract", root, "-o", store] + Self.extractArgs).status == 0)
    let head = dir.path("head.h5")
    #expect(try runFeatx(["probe", store, "-o", head, "--l2", "1e-2", "--quiet"]).status == 0)

    let classes = root + "/val"  // daisy/, dandelion/, roses/: a folder per class
    let text = try runFeatx(["predict", head, classes])
    #expect(text.status == 0, "\(text.stderr)")
    #expect(text.stdout.contains("\(head) on the labelled images of \(classes): 6 images\n"), "\(text.stdout)")
    #expect(reportLine(text.stdout, "test")?.first == 6)
    #expect(reportLine(text.stdout, "train") == nil)

    let json = try runFeatx(["predict", head, classes, "--format", "json"])
    #expect(json.status == 0)
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(rows.count == 6)
    #expect(rows.allSatisfy { ($0["path"] as? String)?.contains("/\($0["true_class"] as? String ?? "?")/") == true })
    #expect(json.stderr.contains("6 images"), "\(json.stderr)")

    // A flat folder: no labels, no accuracy.
    let flat = classes + "/daisy"
    let plain = try runFeatx(["predict", head, flat])
    #expect(plain.status == 0)
    #expect(!plain.stdout.contains("labelled images") && !plain.stdout.contains("top-1"), "\(plain.stdout)")
    let single = try runFeatx([
      "predict", head, flat + "/" + (try FileManager.default.contentsOfDirectory(atPath: flat).sorted()[0]),
    ])
    #expect(!single.stdout.contains("top-1"))

    // Subfolders that are no class of the head: classified, said so, no accuracy.
    let other = TemporaryDirectory()
    let dated = try flowerSplitTree(other, parts: [("x", 1)], classes: ["sunflowers", "tulips"]) + "/x"
    let notClasses = try runFeatx(["predict", head, dated])
    #expect(notClasses.status == 0, "\(notClasses.stderr)")
    #expect(notClasses.stderr.contains("note: \(dated): none of its folders (sunflowers, tulips) is a class of \(head)"))
    #expect(!notClasses.stdout.contains("top-1"))
    #expect(notClasses.stdout.split(separator: "\n").filter { $0.hasPrefix(dated) }.count == 2)
  }
}
