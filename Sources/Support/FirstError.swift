import Synchronization

/// The first error thrown by any of several workers (e.g. the iterations of `concurrentPerform`).
public final class FirstError: Sendable {
  private let stored = Mutex<(any Error)?>(nil)

  public init() {}

  /// Records `error` unless an earlier one is recorded.
  public func set(_ error: any Error) { stored.withLock { if $0 == nil { $0 = error } } }

  /// The first recorded error, if any.
  public var error: (any Error)? { stored.withLock { $0 } }

  /// True once an error is recorded (workers use it to stop early).
  public var isSet: Bool { error != nil }

  /// Throws the first recorded error, if any.
  public func rethrow() throws {
    if let error { throw error }
  }
}
