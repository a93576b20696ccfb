// Case lists read from fixture files, for `@Test(arguments:)`.
//
// Swift Testing evaluates `arguments:` before any test runs and cannot record an issue there, so a list
// read with `try?` turns a missing or undecodable manifest into zero cases: the parameterised test then
// runs nothing and passes. `FixtureManifest` keeps the reason instead; the arguments come from `value`
// (nil on failure), and a test of the suite calls `require(listing:)`, which throws it, or refuses a
// manifest that lists no case.

import Foundation

/// A manifest decoded from a fixture file, or the reason it could not be.
public struct FixtureManifest<Value: Sendable>: Sendable {
  /// The file the manifest was read from.
  public let url: URL
  /// The manifest, or the error reading or decoding it threw.
  public let result: Result<Value, any Error>

  /// Reads `url` and decodes it with `decode`.
  public init(_ url: URL, decode: (Data) throws -> Value) {
    self.url = url
    result = Result { try decode(try Data(contentsOf: url)) }
  }

  /// The manifest, or nil if it could not be read or decoded (for `arguments:`, which cannot throw).
  public var value: Value? { try? result.get() }

  /// The manifest; throws why it cannot be used: unreadable, undecodable, or listing no case
  /// (`cases(value)` is empty).
  @discardableResult
  public func require<C: Collection>(listing cases: (Value) -> C) throws -> Value {
    let value: Value
    do { value = try result.get() } catch { throw FixtureManifestError(url: url, problem: "cannot be read or decoded: \(error)") }
    guard !cases(value).isEmpty else { throw FixtureManifestError(url: url, problem: "lists no test case") }
    return value
  }
}

extension FixtureManifest where Value: Decodable {
  /// Reads `url` as JSON.
  public init(json url: URL, as type: Value.Type = Value.self) {
    self.init(url) { try JSONDecoder().decode(Value.self, from: $0) }
  }
}

/// A fixture manifest that cannot drive its parameterised tests.
public struct FixtureManifestError: Error, CustomStringConvertible {
  public var url: URL
  public var problem: String
  public var description: String { "\(url.path) \(problem): its parameterised tests would run no case" }
}
