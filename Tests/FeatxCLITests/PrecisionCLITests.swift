// `--precision` from the command line (issue #13): recorded in the store and the head, used by predict,
// refused where the CPU has no native bfloat16, and part of the configuration a resume must match.

import DNNL
import FeatureStore
import Foundation
import Probe
import Testing
import TestSupport

@Suite(.serialized) struct PrecisionCLITests {
  /// oneDNN limited to AVX2 sees no bfloat16, whatever this CPU is.
  static let withoutBFloat16 = ["ONEDNN_MAX_CPU_ISA": "AVX2"]

  static func birds(_ dir: TemporaryDirectory) throws -> String {
    let root = dir.path("data")
    for (folder, sources) in [("a", ["bird_albatross"]), ("b", ["bird_goldfinch"])] {
      try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
      for (i, id) in sources.enumerated() {
        for copy in 0..<3 {
          try FileManager.default.copyItem(
            atPath: TestPaths.fixture("backbones/pixels/\(id).imagenet.png").path, toPath: "\(root)/\(folder)/\(i)-\(copy).png")
        }
      }
    }
    return root
  }

  @Test func bf16IsRefusedWhereTheCPUHasNoNativeBFloat16() throws {
    for command in [["bench", "--precision", "bf16"], ["extract", "D", "-o", "S", "--precision", "bf16"]] {
      let result = try runFeatx(command, environment: Self.withoutBFloat16)
      #expect(result.status == 64, "\(result.stderr)")
      #expect(result.stderr.contains("--precision: precision bf16 needs a CPU with AVX512_BF16 or AMX"), "\(result.stderr)")
    }
    let auto = try runFeatx(
      ["bench", "--arch", "resnet18", "--size", "32", "--batch", "1", "--seconds", "0.01", "--precision", "auto", "--json"],
      environment: Self.withoutBFloat16)
    #expect(auto.status == 0, "\(auto.stderr)")
    #expect(auto.stdout.contains("\"precision\" : \"f32\""), "\(auto.stdout)")
  }

  @Test(.enabled(if: CPU.nativeBFloat16, "this CPU has no native bfloat16 (AVX512_BF16 or AMX)"))
  func bf16IsRecordedInStoreAndHeadAndUsedByPredict() throws {
    let dir = TemporaryDirectory()
    let data = try Self.birds(dir)
    let store = dir.path("bf16.h5")
    let common = ["--arch", "resnet18", "--weights", "random", "--pool", "avg", "--quiet"]
    let extract = try runFeatx(["extract", data, "-o", store, "--precision", "bf16"] + common)
    #expect(extract.status == 0, "\(extract.stderr)")
    #expect(try FeatureStore(path: store).metadata.precision == "bf16")
    let info = try runFeatx(["info", store])
    #expect(info.stdout.contains("pooling avg, precision bf16"), "\(info.stdout)")

    // The same store in f32 is another configuration: no silent mix of precisions.
    let resume = try runFeatx(["extract", data, "-o", store] + common)
    #expect(resume.status == 1)
    #expect(resume.stderr.contains("precision was bf16, now f32"), "\(resume.stderr)")

    let head = dir.path("head.h5")
    let probe = try runFeatx(["probe", store, "-o", head, "--quiet"])
    #expect(probe.status == 0, "\(probe.stderr)")
    #expect(try Head.read(path: head).extraction.precision == "bf16")

    let image = "\(data)/a/0-0.png"
    let same = try runFeatx(["predict", head, image, "--top-k", "0", "--format", "csv"])
    #expect(same.status == 0, "\(same.stderr)")
    #expect(!same.stderr.contains("slightly different features"), "\(same.stderr)")
    let f32 = try runFeatx(["predict", head, image, "--top-k", "0", "--format", "csv", "--precision", "f32"])
    #expect(f32.status == 0, "\(f32.stderr)")
    #expect(f32.stderr.contains("was trained on bf16 features; predicting in f32 gives slightly different features"))
    // Both classify; the probabilities differ in the last digits only.
    func probabilities(_ csv: String) -> [Double] {
      csv.split(separator: "\n").dropFirst().first.map { line in
        line.split(separator: ",", omittingEmptySubsequences: false).enumerated().filter { $0.offset >= 3 && $0.offset % 2 == 1 }
          .compactMap { Double($0.element) }
      } ?? []
    }
    let (a, b) = (probabilities(same.stdout), probabilities(f32.stdout))
    #expect(a.count == 2 && b.count == 2, "\(same.stdout) / \(f32.stdout)")
    #expect(zip(a, b).allSatisfy { abs($0 - $1) < 0.05 }, "\(a) vs \(b)")
  }
}
