// featx's one HTTP client: a request through URLSession that waits for the whole answer, with or without
// following redirects (the Hugging Face hub's metadata requests must see the redirect itself), with progress.

import Dispatch
import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// One HTTP request through URLSession, with or without following redirects.
public enum HTTP {
  /// A request that got no answer (no connection, a timeout).
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  public struct Answer {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: Data
  }

  /// Sends a request and waits for the whole answer (`expected` bytes, if known, for `progress`).
  public static func send(
    _ url: URL, method: String, followRedirects: Bool, expected: Int? = nil, progress: (@Sendable (Int64, Int64) -> Void)? = nil
  ) throws -> Answer {
    let exchange = Exchange(followRedirects: followRedirects, expected: expected, progress: progress)
    let session = URLSession(configuration: .ephemeral, delegate: exchange, delegateQueue: nil)
    defer { session.finishTasksAndInvalidate() }
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.timeoutInterval = 60
    request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
    request.setValue("featx", forHTTPHeaderField: "User-Agent")
    session.dataTask(with: request).resume()
    exchange.done.wait()
    if let error = exchange.error {
      throw Failure(description: "no answer from \(url.absoluteString) (\(error.localizedDescription))")
    }
    guard let response = exchange.response else {
      throw Failure(description: "no answer from \(url.absoluteString)")
    }
    var headers: [String: String] = [:]
    for (key, value) in response.allHeaderFields {
      if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
    }
    return Answer(status: response.statusCode, headers: headers, body: exchange.body)
  }

  /// The delegate of one request: collects the answer, refuses redirects when asked to.
  final class Exchange: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // Sendable: the fields are written on the session's delegate queue (serial) and read only after
    // `done` is signalled.
    let followRedirects: Bool
    let expected: Int?
    let progress: (@Sendable (Int64, Int64) -> Void)?
    let done = DispatchSemaphore(value: 0)
    var response: HTTPURLResponse?
    var body = Data()
    var error: Error?

    init(followRedirects: Bool, expected: Int?, progress: (@Sendable (Int64, Int64) -> Void)?) {
      self.followRedirects = followRedirects
      self.expected = expected
      self.progress = progress
    }

    func urlSession(
      _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
      newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
      if !followRedirects { self.response = response }
      completionHandler(followRedirects ? request : nil)
    }

    func urlSession(
      _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
      completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
      self.response = response as? HTTPURLResponse
      completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
      body.append(data)
      progress?(Int64(body.count), Int64(expected ?? -1))
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
      self.error = error
      if response == nil { response = task.response as? HTTPURLResponse }
      done.signal()
    }
  }
}
