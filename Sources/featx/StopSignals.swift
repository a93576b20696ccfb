import Dispatch
import Glibc

/// SIGINT and SIGTERM handed to a handler on a dispatch queue instead of ending the process: what extract
/// (stop after the current batch) and probe (say that nothing was written) both need.
enum StopSignals {
  /// The name a message gives `number`.
  static func name(_ number: Int32) -> String { number == SIGINT ? "SIGINT" : "SIGTERM" }

  /// Ignores both signals' default action and calls `handler` with the signal's number while the returned
  /// sources live (`stop` restores the defaults).
  static func watch(_ handler: @escaping @Sendable (Int32) -> Void) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
      Glibc.signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { handler(number) }
      source.resume()
      return source
    }
  }

  /// Cancels `sources` and gives both signals their default action again.
  static func stop(_ sources: [DispatchSourceSignal]) {
    for source in sources { source.cancel() }
    for number in [SIGINT, SIGTERM] { Glibc.signal(number, SIG_DFL) }
  }
}
