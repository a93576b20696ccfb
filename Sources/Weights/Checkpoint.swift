// Reading weight files: PyTorch zip checkpoints, PyTorch legacy checkpoints, and safetensors. All three
// end in the same StateDict of float32 tensors keyed by torchvision's names.

import Foundation
import Support

/// One tensor of a checkpoint.
public struct WeightTensor: Sendable {
  /// Shape (`[]` for a scalar).
  public var shape: [Int]
  /// Values as float32, row-major (converted from float16/bfloat16/float64); empty for integer tensors.
  public var values: [Float]
  /// False for integer tensors (e.g. BatchNorm's `num_batches_tracked`).
  public var isFloatingPoint: Bool
  /// Values of int64/int32 tensors (empty otherwise).
  public var integers: [Int64]

  public init(shape: [Int], values: [Float], isFloatingPoint: Bool = true, integers: [Int64] = []) {
    self.shape = shape
    self.values = values
    self.isFloatingPoint = isFloatingPoint
    self.integers = integers
  }
}

/// The tensors of a weights file (or of seeded random weights), with their provenance.
public struct StateDict: Sendable {
  /// Keys in file order.
  public var keys: [String]
  public var tensors: [String: WeightTensor]
  /// Where the weights came from: a file path or `random:SEED`.
  public var source: String
  /// sha256 (hex) of the file's bytes, or `random:SEED`.
  public var sha256: String

  public init(keys: [String], tensors: [String: WeightTensor], source: String, sha256: String) {
    self.keys = keys
    self.tensors = tensors
    self.source = source
    self.sha256 = sha256
  }

  /// True for seeded random weights.
  public var isRandom: Bool { sha256.hasPrefix("random") }
}

/// Parses weight files.
public enum Checkpoint {
  /// Largest weights file accepted (resnext101_32x8d, the largest torchvision file featx supports, is 340 MB).
  public static let maxFileBytes = 4 << 30

  /// Reads `path`: a PyTorch checkpoint (zip or legacy format) or a `.safetensors` file.
  ///
  /// - Throws: `WeightsError` naming the file: unreadable, truncated, unsupported, or a pickle that
  ///   references anything but tensors.
  public static func load(path: String) throws -> StateDict {
    let file: MappedFile
    do { file = try MappedFile(path: path, limit: maxFileBytes) } catch let error as FileError {
      throw WeightsError.badWeightsFile(path: path, reason: error.reason)
    }
    return try file.withBytes { try parse($0, path: path) }
  }

  /// Parses the bytes of a weights file; `path` is used in messages.
  public static func parse(_ bytes: UnsafeRawBufferPointer, path: String, sha256: String? = nil) throws -> StateDict {
    guard !bytes.isEmpty else { throw WeightsError.badWeightsFile(path: path, reason: "the file is empty (0 bytes)") }
    let digest = sha256 == nil ? BackgroundDigest(bytes) : nil
    do {
      var dict = try parseFormat(bytes, path: path)
      dict.sha256 = try digest?.wait() ?? sha256!
      return dict
    } catch {
      _ = try? digest?.wait()
      throw error
    }
  }

  /// `parse` without the hash: the tensors, by the format the bytes hold.
  private static func parseFormat(_ bytes: UnsafeRawBufferPointer, path: String) throws -> StateDict {
    do {
      var dict: StateDict
      // By structure, not by the first byte: a safetensors header of 0x80xx bytes (28 800 in a timm
      // ResNet-50's) starts with the pickle protocol byte 0x80.
      if ZipArchive.looksLikeZip(bytes) {
        dict = try parseZip(bytes)
      } else if Safetensors.looksLikeSafetensors(bytes) {
        dict = try Safetensors.parse(bytes)
      } else if bytes.count >= 2, bytes[0] == 0x80, bytes[1] >= 2 {
        dict = try parseLegacy(bytes)
      } else if bytes.count > 9, bytes[8] == UInt8(ascii: "{") {
        dict = try Safetensors.parse(bytes)
      } else if bytes.count > 262, Array(bytes[257..<262]) == Array("ustar".utf8) {
        throw WeightsError.badWeightsFile(
          path: path,
          reason: "an old (2017) torch tar checkpoint; convert it once with torch: torch.save(torch.load(f), 'new.pth')")
      } else {
        throw WeightsError.badWeightsFile(
          path: path, reason: "not a PyTorch checkpoint or safetensors file (unknown leading bytes)")
      }
      dict.source = path
      return dict
    } catch let error as PickleError {
      if case .forbiddenGlobal(let name) = error { throw WeightsError.forbiddenGlobal(path: path, global: name) }
      throw WeightsError.badWeightsFile(path: path, reason: error.description)
    } catch let error as ZipArchive.Failure {
      throw WeightsError.badWeightsFile(path: path, reason: error.description)
    } catch let error as CheckpointFailure {
      throw WeightsError.badWeightsFile(path: path, reason: error.reason)
    }
  }

  // MARK: - Zip format (torch >= 1.6): <name>/data.pkl + <name>/data/<storage key>

  static func parseZip(_ bytes: UnsafeRawBufferPointer) throws -> StateDict {
    let zip = try ZipArchive(bytes)
    let pickles = zip.entries.keys.filter { $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }
    guard pickles.count == 1, let pickleName = pickles.first, let pickleEntry = zip.entries[pickleName] else {
      throw CheckpointFailure("a zip archive without exactly one data.pkl (found \(pickles.count))")
    }
    let prefix = String(pickleName.dropLast("data.pkl".count))
    if let order = zip.entries[prefix + "byteorder"] {
      let text = String(
        decoding: UnsafeRawBufferPointer(rebasing: bytes[order.dataOffset..<(order.dataOffset + order.size)]), as: UTF8.self)
      guard text == "little" else { throw CheckpointFailure("storages are \(text)-endian; only little-endian is supported") }
    }
    let pickleBytes = UnsafeRawBufferPointer(
      rebasing: bytes[pickleEntry.dataOffset..<(pickleEntry.dataOffset + pickleEntry.size)])
    let arena = PickleArena()
    defer { arena.release() }
    var unpickler = Unpickler(pickleBytes, arena: arena, persistentLoad: storageFromPersistentID)
    let root = try unpickler.load()
    return try materialize(root) { storage in
      guard let entry = zip.entries[prefix + "data/" + storage.key] else {
        throw CheckpointFailure("storage \(storage.key) is missing from the archive")
      }
      return UnsafeRawBufferPointer(rebasing: bytes[entry.dataOffset..<(entry.dataOffset + entry.size)])
    }
  }

  // MARK: - Legacy format: pickled magic, protocol, sys_info, object, storage keys; then raw storages

  static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

  static func parseLegacy(_ bytes: UnsafeRawBufferPointer) throws -> StateDict {
    let arena = PickleArena()
    defer { arena.release() }
    func next(_ position: inout Int) throws -> PickleValue {
      var unpickler = Unpickler(bytes, at: position, arena: arena, persistentLoad: storageFromPersistentID)
      let value = try unpickler.load()
      position = unpickler.position
      return value
    }
    var position = 0
    guard case .bigInt(let magic) = try next(&position), magic == legacyMagic else {
      throw CheckpointFailure("a pickle, but not a PyTorch checkpoint (no magic number)")
    }
    guard try next(&position).int == 1001 else { throw CheckpointFailure("unsupported legacy protocol version") }
    _ = try next(&position)  // sys_info
    let root = try next(&position)
    guard let keys = try next(&position).tupleItems?.compactMap(\.string) else {
      throw CheckpointFailure("missing storage key list")
    }
    // Each storage: int64 element count, then its bytes, in the order of `keys`.
    var regions: [String: UnsafeRawBufferPointer] = [:]
    var types: [String: StorageType] = [:]
    collectStorages(root, into: &types)
    for key in keys {
      guard position + 8 <= bytes.count else { throw CheckpointFailure("truncated before storage \(key)") }
      let count = (0..<8).reduce(UInt64(0)) { v, i in v | UInt64(bytes[position + i]) << (8 * UInt64(i)) }
      position += 8
      let elementSize = types[key]?.elementSize ?? 4
      let (byteCount, overflow) = Int(clamping: count).multipliedReportingOverflow(by: elementSize)
      guard !overflow, byteCount <= bytes.count - position else {
        throw CheckpointFailure("truncated: storage \(key) declares \(count) elements, the file ends first")
      }
      regions[key] = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + byteCount)])
      position += byteCount
    }
    return try materialize(root) { storage in
      guard let region = regions[storage.key] else { throw CheckpointFailure("storage \(storage.key) is missing") }
      return region
    }
  }

  /// Element types of every storage a value refers to. Containers are visited once each, so a pickle
  /// whose containers hold themselves cannot make this recurse forever.
  private static func collectStorages(_ root: PickleValue, into types: inout [String: StorageType]) {
    var visited = Set<ObjectIdentifier>()
    var pending = [root]
    while let value = pending.popLast() {
      switch value {
      case .tensor(let t): types[t.storage.key] = t.storage.type
      case .container(let c):
        guard visited.insert(ObjectIdentifier(c)).inserted else { continue }
        pending += c.items
        pending += c.pairs.map(\.1)
      default: break
      }
    }
  }

  /// torch's persistent id for a storage: ('storage', StorageType, key, location, numel[, view]).
  static func storageFromPersistentID(_ pid: PickleValue) throws -> PickleValue {
    guard let items = pid.tupleItems, items.count >= 5, items[0].string == "storage",
      case .global(_, let typeName) = items[1], let type = StorageType(rawValue: typeName),
      let key = items[2].string, let numel = items[4].int, numel >= 0
    else { throw PickleError.malformed("unexpected persistent id") }
    if items.count > 5, case .container = items[5] {
      throw CheckpointFailure("storage views (pre-1.0 checkpoints) are not supported")
    }
    return .storage(StorageRef(key: key, type: type, numel: Int(clamping: numel)))
  }

  /// Turns the unpickled object into tensors, reading each storage's bytes through `region`.
  static func materialize(
    _ root: PickleValue, region: (StorageRef) throws -> UnsafeRawBufferPointer
  ) throws -> StateDict {
    guard case .container(var dict) = root, dict.kind == .dict else {
      throw CheckpointFailure("the checkpoint does not hold a state_dict (a dict of tensors)")
    }
    // Training checkpoints often wrap the weights: {"state_dict": {...}, "epoch": ...}.
    for wrapper in ["state_dict", "model"] {
      if let inner = dict.pairs.first(where: { $0.0.string == wrapper })?.1, case .container(let c) = inner, c.kind == .dict {
        dict = c
      }
    }
    var keys: [String] = []
    var tensors: [String: WeightTensor] = [:]
    for (k, v) in dict.pairs {
      guard let key = k.string else { throw CheckpointFailure("a state_dict key is not a string") }
      guard case .tensor(let t) = v else { throw CheckpointFailure("entry \(key) is not a tensor") }
      let storage = try region(t.storage)
      tensors[key] = try tensor(t, storage, key: key)
      keys.append(key)
    }
    return StateDict(keys: keys, tensors: tensors, source: "", sha256: "")
  }

  /// Copies a (possibly strided) tensor out of its storage bytes, converting to float32.
  static func tensor(_ t: TensorRef, _ storage: UnsafeRawBufferPointer, key: String) throws -> WeightTensor {
    let elementSize = t.storage.type.elementSize
    guard storage.count >= t.storage.numel.multipliedReportingOverflow(by: elementSize).partialValue,
      !t.storage.numel.multipliedReportingOverflow(by: elementSize).overflow
    else { throw CheckpointFailure("storage of \(key) is shorter than its declared \(t.storage.numel) elements") }
    let available = storage.count / elementSize
    guard t.shape.count == t.stride.count, t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }), t.offset >= 0 else {
      throw CheckpointFailure("tensor \(key) has an invalid shape/stride")
    }
    var count = 1
    var extent = t.offset
    for (size, stride) in zip(t.shape, t.stride) {
      let (c, o1) = count.multipliedReportingOverflow(by: size)
      guard !o1, c <= available || size == 0 else {
        throw CheckpointFailure("tensor \(key) of shape \(t.shape) needs more elements than its storage holds (\(available))")
      }
      count = c
      if size > 0 {
        let (span, o2) = (size - 1).multipliedReportingOverflow(by: stride)
        let (e, o3) = extent.addingReportingOverflow(span)
        guard !o2, !o3 else { throw CheckpointFailure("tensor \(key) has an invalid stride") }
        extent = e
      }
    }
    guard count == 0 || extent < available else {
      throw CheckpointFailure("tensor \(key) of shape \(t.shape) reaches past its storage (\(available) elements)")
    }
    let float: Bool
    switch t.storage.type {
    case .float, .double, .half, .bfloat16: float = true
    default: float = false
    }
    guard float else {
      var integers: [Int64] = []
      if isContiguous(shape: t.shape, stride: t.stride) {
        integers = (0..<count).map { i in
          let at = (t.offset + i) * elementSize
          switch t.storage.type {
          case .long: return storage.loadUnaligned(fromByteOffset: at, as: Int64.self)
          case .int: return Int64(storage.loadUnaligned(fromByteOffset: at, as: Int32.self))
          case .short: return Int64(storage.loadUnaligned(fromByteOffset: at, as: Int16.self))
          case .uint16: return Int64(storage.loadUnaligned(fromByteOffset: at, as: UInt16.self))
          case .char: return Int64(storage.loadUnaligned(fromByteOffset: at, as: Int8.self))
          default: return Int64(storage[at])
          }
        }
      }
      return WeightTensor(shape: t.shape, values: [], isFloatingPoint: false, integers: integers)
    }
    var values = [Float](repeating: 0, count: count)
    let contiguous = isContiguous(shape: t.shape, stride: t.stride)
    values.withUnsafeMutableBufferPointer { out in
      if contiguous {
        convert(storage, type: t.storage.type, from: t.offset, count: count, into: out)
        return
      }
      var index = [Int](repeating: 0, count: t.shape.count)
      for i in 0..<count {
        var source = t.offset
        for d in index.indices { source += index[d] * t.stride[d] }
        convert(
          storage, type: t.storage.type, from: source, count: 1, into: UnsafeMutableBufferPointer(rebasing: out[i..<(i + 1)]))
        var d = index.count - 1
        while d >= 0 {
          index[d] += 1
          if index[d] < t.shape[d] { break }
          index[d] = 0
          d -= 1
        }
      }
    }
    return WeightTensor(shape: t.shape, values: values)
  }

  static func isContiguous(shape: [Int], stride: [Int]) -> Bool {
    var expected = 1
    for d in shape.indices.reversed() where shape[d] != 1 {
      if stride[d] != expected { return false }
      expected *= shape[d]
    }
    return true
  }

  /// Converts `count` little-endian elements starting at element `from` into float32.
  static func convert(
    _ storage: UnsafeRawBufferPointer, type: StorageType, from: Int, count: Int, into out: UnsafeMutableBufferPointer<Float>
  ) {
    switch type {
    case .float:
      out.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * 4) {
        $0.update(from: storage.baseAddress!.assumingMemoryBound(to: UInt8.self) + from * 4, count: count * 4)
      }
    case .double:
      for i in 0..<count { out[i] = Float(storage.loadUnaligned(fromByteOffset: (from + i) * 8, as: Double.self)) }
    case .half:
      for i in 0..<count {
        out[i] = Float(Float16(bitPattern: storage.loadUnaligned(fromByteOffset: (from + i) * 2, as: UInt16.self)))
      }
    case .bfloat16:
      for i in 0..<count {
        out[i] = Float(bitPattern: UInt32(storage.loadUnaligned(fromByteOffset: (from + i) * 2, as: UInt16.self)) << 16)
      }
    default:
      break
    }
  }
}

/// A structural problem in a weights file (turned into `WeightsError.badWeightsFile`).
struct CheckpointFailure: Error {
  var reason: String
  init(_ reason: String) { self.reason = reason }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
extension Safetensors {
  /// True when the first 8 bytes are a little-endian length whose JSON header fits the file and starts
  /// with `{` at byte 8: how a safetensors file is told apart from a pickle whose header length happens
  /// to start with the protocol byte 0x80.
  static func looksLikeSafetensors(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard bytes.count > 9, bytes[8] == UInt8(ascii: "{") else { return false }
    let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
    return length >= 2 && length <= UInt64(bytes.count - 8)
  }
}

enum Safetensors {
  static let maxHeaderBytes = 100 << 20

  static func parse(_ bytes: UnsafeRawBufferPointer) throws -> StateDict {
    guard bytes.count >= 8 else { throw CheckpointFailure("truncated safetensors header") }
    let length = (0..<8).reduce(UInt64(0)) { v, i in v | UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard length <= UInt64(min(maxHeaderBytes, bytes.count - 8)) else {
      throw CheckpointFailure("safetensors header of \(length) bytes does not fit the file")
    }
    let headerEnd = 8 + Int(length)
    let header = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd]))
    guard let json = try? JSONSerialization.jsonObject(with: header), let entries = json as? [String: Any] else {
      throw CheckpointFailure("the safetensors header is not a JSON object")
    }
    let data = UnsafeRawBufferPointer(rebasing: bytes[headerEnd...])
    var found: [(offset: Int, key: String, tensor: WeightTensor)] = []
    for (key, value) in entries where key != "__metadata__" {
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else { throw CheckpointFailure("safetensors entry \(key) lacks dtype/shape/data_offsets") }
      let types: [String: StorageType] = [
        "F32": .float, "F64": .double, "F16": .half, "BF16": .bfloat16, "I64": .long, "I32": .int, "I16": .short,
        "I8": .char, "U8": .byte, "U16": .uint16, "BOOL": .bool,
      ]
      guard let type = types[dtype] else { throw CheckpointFailure("safetensors entry \(key) has unsupported dtype \(dtype)") }
      let (begin, end) = (offsets[0], offsets[1])
      guard begin >= 0, begin <= end, end <= data.count else {
        throw CheckpointFailure("safetensors entry \(key) lies outside the file (truncated?)")
      }
      guard shape.allSatisfy({ $0 >= 0 }) else { throw CheckpointFailure("safetensors entry \(key) has a negative dimension") }
      let region = UnsafeRawBufferPointer(rebasing: data[begin..<end])
      var strides = [Int](repeating: 1, count: shape.count)
      var numel = 1
      for d in shape.indices.reversed() {
        strides[d] = numel
        let (n, overflow) = numel.multipliedReportingOverflow(by: shape[d])
        guard !overflow else { throw CheckpointFailure("safetensors entry \(key) is too large") }
        numel = n
      }
      let (bytes, overflow) = numel.multipliedReportingOverflow(by: type.elementSize)
      guard !overflow, bytes == region.count else {
        throw CheckpointFailure("safetensors entry \(key) has \(region.count) bytes for shape \(shape) \(dtype)")
      }
      let ref = TensorRef(storage: StorageRef(key: key, type: type, numel: numel), offset: 0, shape: shape, stride: strides)
      found.append((begin, key, try Checkpoint.tensor(ref, region, key: key)))
    }
    found.sort { $0.offset < $1.offset }
    return StateDict(
      keys: found.map(\.key), tensors: Dictionary(uniqueKeysWithValues: found.map { ($0.key, $0.tensor) }), source: "",
      sha256: "")
  }
}
