import Glibc

/// Remembers the sha256 of large files, so that `featx predict` does not hash a 100 MB weights file on
/// every start (hashing is half of a cold start otherwise).
///
/// An entry is keyed by the file's device, inode, size, modification time and status-change time. The
/// status-change time cannot be set by an ordinary user, so rewriting a file (even in place, with its old
/// modification time restored) invalidates its entry. The cache lives in `$FEATX_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/featx`, else `~/.cache/featx`; any failure to read or write it just means hashing.
public enum HashCache {
  /// Files smaller than this are always hashed.
  static let minimumSize = 1 << 20

  /// The sha256 (hex) of the file at `path` whose bytes are `bytes`: from the cache when the file is
  /// unchanged since it was recorded, else computed and recorded.
  public static func sha256(path: String, bytes: UnsafeRawBufferPointer, cacheDirectory: String? = nil) -> String {
    guard bytes.count >= minimumSize, let key = key(path), let file = cacheFile(cacheDirectory) else { return SHA256.hex(bytes) }
    if let cached = lookup(key, in: file) { return cached }
    let digest = SHA256.hex(bytes)
    record(key, digest, in: file)
    return digest
  }

  /// `dev:ino:size:mtime:ctime` (nanoseconds) of a file, if it can be stat'ed.
  static func key(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    let ctime = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    return "\(info.st_dev):\(info.st_ino):\(info.st_size):\(mtime):\(ctime)"
  }

  static func cacheFile(_ directory: String?) -> String? {
    func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
    let folder =
      directory ?? env("FEATX_CACHE_DIR") ?? env("XDG_CACHE_HOME").map { $0 + "/featx" }
      ?? env("HOME").map { $0 + "/.cache/featx" }
    guard let folder else { return nil }
    var components = ""
    for part in folder.split(separator: "/") {
      components += "/" + part
      mkdir(components, 0o755)
    }
    return folder + "/sha256-cache"
  }

  static func lookup(_ key: String, in file: String) -> String? {
    guard let bytes = try? readFile(file, limit: 1 << 20) else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").reversed() {
      let fields = line.split(separator: " ")
      if fields.count == 2, fields[0] == key, fields[1].count == 64 { return String(fields[1]) }
    }
    return nil
  }

  static func record(_ key: String, _ digest: String, in file: String) {
    var lines = ((try? readFile(file, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? "")
      .split(separator: "\n").map(String.init)
    lines.append("\(key) \(digest)")
    try? writeFileAtomically(file, Array((lines.suffix(256).joined(separator: "\n") + "\n").utf8))
  }
}
