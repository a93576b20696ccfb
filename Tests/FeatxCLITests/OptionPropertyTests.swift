// Property tests of option validation (issue #12): random values for every numeric option are either
// accepted (featx goes on, and fails only on the missing input file) or refused by validate() with exit
// 64 and one line naming the option; never a crash, a hang or another exit code. The rule each option
// must follow is written here, independently of featx's code.

import Foundation
import Testing
import TestSupport

struct OptionCase: CustomTestStringConvertible, Sendable {
  var command: String
  var option: String
  var value: String
  var valid: Bool
  var testDescription: String { "\(command) --\(option) \(value)" }
}

/// Random cases from a seeded generator: integers around the edges, decimals, and junk.
func optionCases(count: Int, seed: UInt64) -> [OptionCase] {
  var rng = SplitMix64(state: seed)
  func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
  func number() -> String {
    switch int(0...5) {
    case 0: return "\(int(-3...3))"
    case 1: return "\(Double(int(-100...100)) / 10)"
    case 2: return ["nan", "inf", "-inf", "1e400", "x", ""][int(0...5)]
    case 3: return "\(int(-1...1))e\(int(-3...3))"
    default: return "\(int(0...70))"
    }
  }
  func positiveInteger(_ s: String) -> Bool { Int(s).map { $0 >= 1 } ?? false }
  func nonNegativeInteger(_ s: String) -> Bool { Int(s).map { $0 >= 0 } ?? false }
  func positiveNumber(_ s: String) -> Bool { Double(s).map { $0 > 0 && $0.isFinite } ?? false }
  func nonNegativeNumber(_ s: String) -> Bool { Double(s).map { $0 >= 0 && $0.isFinite } ?? false }
  let rules: [(String, String, (String) -> Bool)] = [
    ("probe", "max-iterations", positiveInteger), ("probe", "sweep-iterations", positiveInteger),
    ("probe", "threads", nonNegativeInteger), ("probe", "l2", nonNegativeNumber),
    ("probe", "val-ratio", { Double($0).map { $0 > 0 && $0 < 1 } ?? false }),
    ("probe-seed", "epochs", positiveInteger), ("probe-seed", "batch", positiveInteger),
    ("probe-seed", "lr", positiveNumber), ("probe-seed", "weight-decay", nonNegativeNumber),
    ("predict", "batch", positiveInteger), ("predict", "top-k", nonNegativeInteger), ("predict", "threads", nonNegativeInteger),
    ("extract", "batch", positiveInteger), ("extract", "threads", nonNegativeInteger),
    ("extract", "max-pixels", positiveInteger), ("extract", "split", { Double($0).map { $0 > 0 && $0 <= 1 } ?? false }),
    ("bench", "batch", positiveInteger), ("bench", "seconds", positiveNumber),
  ]
  return (0..<count).map { _ in
    let (command, option, rule) = rules[int(0...(rules.count - 1))]
    let value = number()
    return OptionCase(command: command, option: option, value: value, valid: rule(value))
  }
}

@Suite struct OptionPropertyTests {
  @Test(arguments: optionCases(count: 160, seed: 12))
  func numericOptionsAreAcceptedOrRefusedWithOneLine(_ c: OptionCase) throws {
    let dir = TemporaryDirectory()
    let missing = dir.path("missing")
    var arguments: [String]
    switch c.command {
    case "probe": arguments = ["probe", missing + ".h5", "-o", dir.path("h.h5")]
    case "probe-seed": arguments = ["probe", missing + ".h5", "-o", dir.path("h.h5"), "--recipe", "seed"]
    case "predict": arguments = ["predict", missing + ".h5", dir.path("x.jpg")]
    case "extract": arguments = ["extract", missing, "-o", dir.path("s.h5"), "--weights", dir.path("none.pth")]
    default: arguments = ["bench", "--weights", dir.path("none.pth"), "--size", "32"]
    }
    arguments.append("--\(c.option)=\(c.value)")
    let result = try runFeatx(arguments)
    if c.valid {
      // Past validation: refused for the missing file, never for the option.
      #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
      #expect(result.stderr.contains(dir.url.path), "\(result.stderr)")
    } else {
      #expect(result.status == 64, "exit \(result.status): \(result.stderr)")
      #expect(result.stderr.hasPrefix("Error: "), "\(result.stderr)")
      let first = result.stderr.split(separator: "\n").first ?? ""
      #expect(first.contains("--\(c.option)") || first.contains("'\(c.value)'"), "\(result.stderr)")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
  }
}

extension OptionPropertyTests {
  /// Both outcomes are exercised for many options.
  @Test func theCasesCoverAcceptedAndRefusedValues() {
    let cases = optionCases(count: 160, seed: 12)
    #expect(cases.filter(\.valid).count >= 40)
    #expect(cases.filter { !$0.valid }.count >= 40)
    #expect(Set(cases.map(\.option)).count >= 12)
  }
}
