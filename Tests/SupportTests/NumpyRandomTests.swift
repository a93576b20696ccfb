// NumpyRandomTests.swift — NumpyRandomState against numpy's own output.
//
// Fixtures: Tests/Fixtures/split/numpy_permutations.json and numpy_random.json, written by
// tools/make_extract_fixtures.py (numpy legacy RandomState). Every comparison is exact: integers by
// value, doubles by bit pattern (the fixtures store them as Python `float.hex`).

import Foundation
import Support
import Testing

/// `Tests/Fixtures`, found from this file's path.
private func fixturesDirectory(filePath: String = #filePath) throws -> URL {
  var url = URL(fileURLWithPath: filePath)
  while url.path != "/" {
    url.deleteLastPathComponent()
    if url.lastPathComponent == "Tests" { return url.appendingPathComponent("Fixtures") }
  }
  throw FixtureError.notFound("no Tests folder above \(filePath)")
}

private enum FixtureError: Error, CustomStringConvertible {
  case notFound(String)
  case malformed(String)
  var description: String {
    switch self {
    case .notFound(let s), .malformed(let s): return s
    }
  }
}

private func loadJSON(_ relative: String) throws -> [String: Any] {
  let url = try fixturesDirectory().appendingPathComponent(relative)
  let data = try Data(contentsOf: url)
  guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
    throw FixtureError.malformed("\(relative): top level is not an object")
  }
  return obj
}

/// Parses Python's `float.hex()` output (e.g. `-0x1.a33dc4f5d203dp-3`, `0x0.0p+0`) exactly.
private func parsePythonHexFloat(_ s: String) throws -> Double {
  var text = Substring(s)
  var negative = false
  if text.hasPrefix("-") {
    negative = true
    text = text.dropFirst()
  } else if text.hasPrefix("+") {
    text = text.dropFirst()
  }
  guard text.hasPrefix("0x"), let pIndex = text.firstIndex(of: "p") else {
    throw FixtureError.malformed("not a hex float: \(s)")
  }
  let mantissa = text[text.index(text.startIndex, offsetBy: 2)..<pIndex]
  guard let exponent = Int(text[text.index(after: pIndex)...]) else {
    throw FixtureError.malformed("bad exponent: \(s)")
  }
  let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
  guard parts.count <= 2, let lead = UInt64(parts[0], radix: 16), lead <= 1 else {
    throw FixtureError.malformed("bad mantissa: \(s)")
  }
  var fraction = parts.count == 2 ? String(parts[1]) : ""
  guard fraction.count <= 13 else { throw FixtureError.malformed("mantissa too long: \(s)") }
  fraction += String(repeating: "0", count: 13 - fraction.count)
  guard let frac = UInt64(fraction, radix: 16) else { throw FixtureError.malformed("bad fraction: \(s)") }
  let value: Double
  if lead == 0 {
    // Python writes zero as 0x0.0p+0 and subnormals as 0x0.xxxp-1022.
    value = Double(sign: .plus, exponent: exponent - 52, significand: Double(frac))
  } else {
    value = Double(sign: .plus, exponent: exponent, significand: 1.0 + Double(frac) / 4_503_599_627_370_496.0)
  }
  return negative ? -value : value
}

private func hexList(_ any: Any?) throws -> [Double] {
  guard let list = any as? [String] else { throw FixtureError.malformed("expected a list of hex strings") }
  return try list.map(parsePythonHexFloat)
}

@Suite("NumpyRandomState vs numpy legacy RandomState")
struct NumpyRandomTests {
  @Test func hexFloatParser() throws {
    #expect(try parsePythonHexFloat("0x1.0000000000000p+0") == 1.0)
    #expect(try parsePythonHexFloat("-0x1.8p+1") == -3.0)
    #expect(try parsePythonHexFloat("0x0.0p+0") == 0.0)
    #expect(try parsePythonHexFloat("0x1.999999999999ap-4") == 0.1)
    #expect(try parsePythonHexFloat("0x0.0000000000001p-1022") == Double.leastNonzeroMagnitude)
  }

  @Test func permutationsMatchNumpy() throws {
    let doc = try loadJSON("split/numpy_permutations.json")
    guard let cases = doc["cases"] as? [[String: Any]], !cases.isEmpty else {
      throw FixtureError.malformed("numpy_permutations.json: no cases")
    }
    var checked = 0
    for c in cases {
      guard let seed = (c["seed"] as? NSNumber)?.uint32Value, let n = c["n"] as? Int,
        let expected = c["permutation"] as? [Int]
      else { throw FixtureError.malformed("bad case \(c)") }
      var rs = NumpyRandomState(seed: seed)
      let got = rs.permutation(n)
      #expect(got.count == expected.count, "seed \(seed) n \(n): length")
      if got != expected {
        let first = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
        Issue.record("seed \(seed) n \(n): permutation differs from numpy (first at index \(first))")
      }
      checked += 1
    }
    #expect(checked == 6 * 9)
  }

  @Test func shuffleEqualsPermutation() {
    // RandomState.shuffle on any 1-d array moves elements exactly like permutation(n) moves indices.
    var a = NumpyRandomState(seed: 42)
    var b = NumpyRandomState(seed: 42)
    var letters = (0..<100).map { "x\($0)" }
    a.shuffle(&letters)
    let perm = b.permutation(100)
    #expect(letters == perm.map { "x\($0)" })
    // and both generators are left in the same state
    #expect(a.nextUInt32() == b.nextUInt32())
  }

  @Test func rawOutputs() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)
    let raw = try #require(doc["raw_uint32"] as? [NSNumber]).map { $0.uint32Value }
    var rs = NumpyRandomState(seed: seed)
    #expect((0..<raw.count).map { _ in rs.nextUInt32() } == raw)
  }

  @Test func randomSample() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)
    let expected = try hexList(doc["random_sample"])
    var rs = NumpyRandomState(seed: seed)
    let got = (0..<expected.count).map { _ in rs.randomSample() }
    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(got) vs \(expected)")
  }

  @Test func standardNormal() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)
    let expected = try hexList(doc["standard_normal"])
    var rs = NumpyRandomState(seed: seed)
    let got = (0..<expected.count).map { _ in rs.standardNormal() }
    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(got) vs \(expected)")
  }

  @Test func uniformAndNormal() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)

    let u = try #require(doc["uniform"] as? [String: Any])
    let low = try #require(u["low"] as? Double)
    let high = try #require(u["high"] as? Double)
    let uExpected = try hexList(u["values"])
    var rs = NumpyRandomState(seed: seed)
    let uGot = (0..<uExpected.count).map { _ in rs.uniform(low: low, high: high) }
    #expect(uGot.map(\.bitPattern) == uExpected.map(\.bitPattern), "uniform: \(uGot) vs \(uExpected)")

    let nrm = try #require(doc["normal"] as? [String: Any])
    let loc = try #require(nrm["loc"] as? Double)
    let scale = try #require(nrm["scale"] as? Double)
    let nExpected = try hexList(nrm["values"])
    rs = NumpyRandomState(seed: seed)
    let nGot = (0..<nExpected.count).map { _ in rs.normal(mean: loc, std: scale) }
    #expect(nGot.map(\.bitPattern) == nExpected.map(\.bitPattern), "normal: \(nGot) vs \(nExpected)")

    // The Float fill helpers are the same stream rounded to Float.
    rs = NumpyRandomState(seed: seed)
    var f = [Float](repeating: 0, count: uExpected.count)
    f.withUnsafeMutableBufferPointer { rs.fillUniform($0, low: low, high: high) }
    #expect(f == uExpected.map { Float($0) })
    rs = NumpyRandomState(seed: seed)
    f.withUnsafeMutableBufferPointer { rs.fillNormal($0, mean: loc, std: scale) }
    #expect(f == nExpected.map { Float($0) })
  }

  @Test func mixedStreamKeepsGaussCache() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)
    let mixed = try #require(doc["mixed"] as? [[String: String]])
    var rs = NumpyRandomState(seed: seed)
    for (i, step) in mixed.enumerated() {
      let call = try #require(step["call"])
      let want = try parsePythonHexFloat(try #require(step["value"]))
      let got: Double
      switch call {
      case "standard_normal": got = rs.standardNormal()
      case "random_sample": got = rs.randomSample()
      case "normal(1.5,0.25)": got = rs.normal(mean: 1.5, std: 0.25)
      default: throw FixtureError.malformed("unknown call \(call)")
      }
      #expect(got.bitPattern == want.bitPattern, "step \(i) \(call): \(got) vs \(want)")
    }
  }

  @Test func intervalIncluding64BitBranch() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let seed = try #require((doc["seed"] as? NSNumber)?.uint32Value)
    let cases = try #require(doc["interval"] as? [[String: Any]])
    #expect(cases.contains { (($0["max"] as? NSNumber)?.uint64Value ?? 0) > 0xffff_ffff })
    for c in cases {
      let max = try #require((c["max"] as? NSNumber)?.uint64Value)
      let values = try #require(c["values"] as? [NSNumber]).map { $0.uint64Value }
      var rs = NumpyRandomState(seed: seed)
      let got = (0..<values.count).map { _ in rs.interval(max: max) }
      #expect(got == values, "interval(max: \(max))")
    }
    var rs = NumpyRandomState(seed: seed)
    #expect(rs.interval(max: 0) == 0)
    #expect(rs.nextUInt32() == 3_992_670_690)  // interval(max: 0) draws nothing
  }

  @Test func reseedResetsState() {
    var rs = NumpyRandomState(seed: 7)
    let first = (0..<5).map { _ in rs.standardNormal() }
    _ = rs.permutation(1000)
    rs.seed(7)  // clears the cached Gaussian too
    #expect((0..<5).map { _ in rs.standardNormal() }.map(\.bitPattern) == first.map(\.bitPattern))
  }

  @Test func fnv1a32MatchesPython() throws {
    let doc = try loadJSON("split/numpy_random.json")
    let table = try #require(doc["fnv1a32"] as? [String: NSNumber])
    #expect(table.count >= 5)
    for (s, v) in table {
      #expect(fnv1a32(s) == v.uint32Value, "fnv1a32(\(s.debugDescription))")
    }
    // Independent of the fixture: well-known FNV-1a test vectors.
    #expect(fnv1a32("") == 0x811c_9dc5)
    #expect(fnv1a32("a") == 0xe40c_292c)
    #expect(fnv1a32("foobar") == 0xbf9c_f968)
  }
}
