// A restricted unpickler written for PyTorch state_dicts. It knows only the opcodes torch.save emits
// (protocols 2-5) and only the globals a state_dict needs; any other global (os.system, builtins.eval,
// ...) stops the parse before anything could run. Memory is bounded by the input: every value needs at
// least one input byte, containers nest at most `maxDepth` deep, and nothing is allocated from a
// declared size that the input does not back.

/// A pickled container (reference semantics, as in Python: memoised objects are shared).
final class PickleContainer {
  enum Kind { case list, tuple, dict }
  let kind: Kind
  var items: [PickleValue] = []
  /// Dict entries as key/value pairs, in insertion order.
  var pairs: [(PickleValue, PickleValue)] = []
  private(set) var depth = 1

  init(_ kind: Kind, items: [PickleValue] = []) {
    self.kind = kind
    self.items = items
    for item in items { depth = max(depth, item.depth + 1) }
  }

  func append(_ value: PickleValue) throws {
    depth = max(depth, value.depth + 1)
    guard depth <= Unpickler.maxDepth else { throw PickleError.tooDeep }
    items.append(value)
  }

  func set(_ key: PickleValue, _ value: PickleValue) throws {
    depth = max(depth, value.depth + 1, key.depth + 1)
    guard depth <= Unpickler.maxDepth else { throw PickleError.tooDeep }
    pairs.append((key, value))
  }
}

/// Storage element types a state_dict may use.
enum StorageType: String, CaseIterable {
  case float = "FloatStorage", double = "DoubleStorage", half = "HalfStorage", bfloat16 = "BFloat16Storage"
  case long = "LongStorage", int = "IntStorage", short = "ShortStorage", char = "CharStorage"
  case byte = "ByteStorage", bool = "BoolStorage", uint16 = "UInt16Storage"

  var elementSize: Int {
    switch self {
    case .double, .long: 8
    case .float, .int: 4
    case .half, .bfloat16, .short, .uint16: 2
    case .char, .byte, .bool: 1
    }
  }
}

/// A storage named by a persistent id (its bytes live outside the pickle).
struct StorageRef: Equatable {
  var key: String
  var type: StorageType
  var numel: Int
}

/// A tensor view of a storage, from `torch._utils._rebuild_tensor_v2`.
struct TensorRef: Equatable {
  var storage: StorageRef
  var offset: Int
  var shape: [Int]
  var stride: [Int]
}

/// Values the restricted unpickler produces.
indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int64)
  /// An integer wider than 64 bits, as little-endian two's-complement bytes (e.g. torch's magic number).
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case container(PickleContainer)
  case global(module: String, name: String)
  case storage(StorageRef)
  case tensor(TensorRef)
  case mark

  var depth: Int {
    if case .container(let c) = self { return c.depth }
    return 0
  }

  var int: Int64? { if case .int(let v) = self { v } else { nil } }
  var string: String? { if case .string(let v) = self { v } else { nil } }
  var tupleItems: [PickleValue]? {
    if case .container(let c) = self, c.kind == .tuple || c.kind == .list { return c.items }
    return nil
  }
}

enum PickleError: Error, CustomStringConvertible {
  case truncated
  case unsupportedOpcode(UInt8, at: Int)
  case forbiddenGlobal(String)
  case malformed(String)
  case tooDeep
  case tooLarge

  var description: String {
    switch self {
    case .truncated: "the pickle ends early (truncated file?)"
    case .unsupportedOpcode(let op, let at): "pickle opcode 0x\(String(op, radix: 16)) at byte \(at) is not one a state_dict uses"
    case .forbiddenGlobal(let name): "forbidden global \(name)"
    case .malformed(let what): "malformed pickle: \(what)"
    case .tooDeep: "pickle nests containers deeper than \(Unpickler.maxDepth) levels"
    case .tooLarge: "pickle larger than \(Unpickler.maxBytes >> 20) MiB"
    }
  }
}

/// The globals a state_dict pickle may name. Everything else is refused.
enum AllowedGlobal: Equatable {
  case orderedDict
  case rebuildTensorV2
  case rebuildTensor
  case rebuildParameter
  case storageType(StorageType)

  init?(module: String, name: String) {
    switch (module, name) {
    case ("collections", "OrderedDict"): self = .orderedDict
    case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
    case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
    case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
    case ("torch", _):
      guard let type = StorageType(rawValue: name) else { return nil }
      self = .storageType(type)
    default: return nil
    }
  }
}

/// Every container one parse creates. A pickle can make a container hold itself (`d[d] = d`), which
/// reference counting never frees; `release()` empties them all once the result has been read.
final class PickleArena {
  private var containers: [PickleContainer] = []

  func make(_ kind: PickleContainer.Kind, items: [PickleValue] = []) -> PickleContainer {
    let container = PickleContainer(kind, items: items)
    containers.append(container)
    return container
  }

  func release() {
    for c in containers {
      c.items.removeAll()
      c.pairs.removeAll()
    }
    containers.removeAll()
  }

  deinit { release() }
}

/// Runs one pickle from a byte buffer.
struct Unpickler {
  static let maxDepth = 64
  static let maxBytes = 64 << 20

  private let bytes: UnsafeRawBufferPointer
  private(set) var position: Int
  private var stack: [PickleValue] = []
  private var marks: [Int] = []
  private var memo: [Int: PickleValue] = [:]
  /// Maps a persistent id (torch's storage tuple) to a storage.
  private let persistentLoad: (PickleValue) throws -> PickleValue
  /// Owns the containers; the caller releases it after reading the result.
  let arena: PickleArena

  init(
    _ bytes: UnsafeRawBufferPointer, at position: Int = 0, arena: PickleArena,
    persistentLoad: @escaping (PickleValue) throws -> PickleValue
  ) {
    self.bytes = bytes
    self.position = position
    self.arena = arena
    self.persistentLoad = persistentLoad
  }

  // MARK: - Reading primitives

  private mutating func byte() throws -> UInt8 {
    guard position < bytes.count else { throw PickleError.truncated }
    defer { position += 1 }
    return bytes[position]
  }

  private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
    guard n >= 0, n <= bytes.count - position else { throw PickleError.truncated }
    defer { position += n }
    return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
  }

  private mutating func uint(_ n: Int) throws -> UInt64 {
    let raw = try take(n)
    var v: UInt64 = 0
    for i in (0..<n).reversed() { v = v << 8 | UInt64(raw[i]) }
    return v
  }

  private mutating func line() throws -> String {
    guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { throw PickleError.truncated }
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
    position = end + 1
    return text
  }

  private mutating func length(_ width: Int) throws -> Int {
    let n = try uint(width)
    guard n <= UInt64(bytes.count - position) else { throw PickleError.truncated }
    return Int(n)
  }

  private mutating func pop() throws -> PickleValue {
    guard let v = stack.popLast() else { throw PickleError.malformed("stack underflow") }
    if case .mark = v { throw PickleError.malformed("unexpected mark") }
    return v
  }

  private mutating func popToMark() throws -> [PickleValue] {
    guard let mark = marks.popLast(), mark <= stack.count else { throw PickleError.malformed("missing mark") }
    defer { stack.removeSubrange(mark...) }
    return Array(stack[mark...])
  }

  private mutating func push(_ v: PickleValue) { stack.append(v) }

  private func top() throws -> PickleValue {
    guard let v = stack.last else { throw PickleError.malformed("stack underflow") }
    return v
  }

  // MARK: - The machine

  /// Runs until STOP and returns the result.
  mutating func load() throws -> PickleValue {
    let start = position
    while true {
      let at = position
      guard at - start <= Unpickler.maxBytes else { throw PickleError.tooLarge }
      let op = try byte()
      switch op {
      case 0x80: _ = try byte()  // PROTO
      case 0x95: _ = try uint(8)  // FRAME: frames are only a hint
      case UInt8(ascii: "."):  // STOP
        let result = try pop()
        return result
      case UInt8(ascii: "("): marks.append(stack.count)  // MARK
      case UInt8(ascii: "0"): _ = try pop()  // POP
      case UInt8(ascii: "1"): _ = try popToMark()  // POP_MARK
      case UInt8(ascii: "2"): push(try top())  // DUP
      case UInt8(ascii: "N"): push(.none)
      case 0x88: push(.bool(true))
      case 0x89: push(.bool(false))
      case UInt8(ascii: "J"): push(.int(Int64(Int32(bitPattern: UInt32(try uint(4))))))  // BININT
      case UInt8(ascii: "K"): push(.int(Int64(try byte())))  // BININT1
      case UInt8(ascii: "M"): push(.int(Int64(try uint(2))))  // BININT2
      case 0x8a, 0x8b:  // LONG1, LONG4
        let n = try length(op == 0x8a ? 1 : 4)
        let raw = Array(try take(n))
        if n == 0 {
          push(.int(0))
        } else if n <= 8 {
          var v: UInt64 = raw.last! & 0x80 != 0 ? ~0 : 0
          for b in raw.reversed() { v = v << 8 | UInt64(b) }
          push(.int(Int64(bitPattern: v)))
        } else {
          guard n <= 64 else { throw PickleError.malformed("integer of \(n) bytes") }
          push(.bigInt(raw))
        }
      case UInt8(ascii: "G"):  // BINFLOAT, big-endian
        push(.float(Double(bitPattern: try (0..<8).reduce(UInt64(0)) { v, _ in v << 8 | UInt64(try byte()) })))
      case UInt8(ascii: "X"), 0x8c, 0x8d:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        let n = try length(op == UInt8(ascii: "X") ? 4 : op == 0x8c ? 1 : 8)
        push(.string(String(decoding: try take(n), as: UTF8.self)))
      case UInt8(ascii: "T"), UInt8(ascii: "U"):  // BINSTRING, SHORT_BINSTRING (Python 2 str, read as Latin-1 text)
        let n = try length(op == UInt8(ascii: "T") ? 4 : 1)
        push(.string(String(try take(n).map { Character(Unicode.Scalar($0)) })))
      case UInt8(ascii: "B"), UInt8(ascii: "C"), 0x8e:  // BINBYTES, SHORT_BINBYTES, BINBYTES8
        let n = try length(op == UInt8(ascii: "B") ? 4 : op == UInt8(ascii: "C") ? 1 : 8)
        push(.bytes(Array(try take(n))))
      case UInt8(ascii: "}"): push(.container(arena.make(.dict)))  // EMPTY_DICT
      case UInt8(ascii: "]"): push(.container(arena.make(.list)))  // EMPTY_LIST
      case UInt8(ascii: ")"): push(.container(arena.make(.tuple)))  // EMPTY_TUPLE
      case UInt8(ascii: "t"): push(try tuple(try popToMark()))  // TUPLE
      case 0x85, 0x86, 0x87:  // TUPLE1..3
        let n = Int(op - 0x84)
        guard stack.count >= n else { throw PickleError.malformed("stack underflow") }
        var items: [PickleValue] = []
        for _ in 0..<n { items.insert(try pop(), at: 0) }
        push(try tuple(items))
      case UInt8(ascii: "l"): push(try list(try popToMark()))  // LIST
      case UInt8(ascii: "d"):  // DICT
        let items = try popToMark()
        let dict = arena.make(.dict)
        guard items.count % 2 == 0 else { throw PickleError.malformed("odd DICT") }
        for i in stride(from: 0, to: items.count, by: 2) { try dict.set(items[i], items[i + 1]) }
        push(.container(dict))
      case UInt8(ascii: "a"):  // APPEND
        let v = try pop()
        try container(try top(), .list).append(v)
      case UInt8(ascii: "e"):  // APPENDS
        let items = try popToMark()
        let target = try container(try top(), .list)
        for v in items { try target.append(v) }
      case UInt8(ascii: "s"):  // SETITEM
        let v = try pop()
        let k = try pop()
        try container(try top(), .dict).set(k, v)
      case UInt8(ascii: "u"):  // SETITEMS
        let items = try popToMark()
        let target = try container(try top(), .dict)
        guard items.count % 2 == 0 else { throw PickleError.malformed("odd SETITEMS") }
        for i in stride(from: 0, to: items.count, by: 2) { try target.set(items[i], items[i + 1]) }
      case UInt8(ascii: "q"): memo[Int(try byte())] = try top()  // BINPUT
      case UInt8(ascii: "r"): memo[Int(try uint(4))] = try top()  // LONG_BINPUT
      case 0x94: memo[memo.count] = try top()  // MEMOIZE
      case UInt8(ascii: "h"), UInt8(ascii: "j"):  // BINGET, LONG_BINGET
        let index = op == UInt8(ascii: "h") ? Int(try byte()) : Int(try uint(4))
        guard let v = memo[index] else { throw PickleError.malformed("memo \(index) unset") }
        push(v)
      case UInt8(ascii: "c"):  // GLOBAL "module\nname\n"
        let module = try line()
        let name = try line()
        push(try global(module, name))
      case 0x93:  // STACK_GLOBAL
        let name = try pop()
        let module = try pop()
        guard let m = module.string, let n = name.string else { throw PickleError.malformed("STACK_GLOBAL of non-strings") }
        push(try global(m, n))
      case UInt8(ascii: "Q"): push(try persistentLoad(try pop()))  // BINPERSID
      case UInt8(ascii: "R"):  // REDUCE
        let args = try pop()
        let callable = try pop()
        push(try call(callable, args))
      case 0x81:  // NEWOBJ: cls.__new__(cls, *args)
        let args = try pop()
        let cls = try pop()
        push(try call(cls, args))
      case UInt8(ascii: "b"):  // BUILD: OrderedDict's state (e.g. `_metadata`) is irrelevant to weights
        let state = try pop()
        _ = state
        guard case .container = try top() else { throw PickleError.malformed("BUILD on a non-object") }
      default:
        throw PickleError.unsupportedOpcode(op, at: at)
      }
    }
  }

  private func tuple(_ items: [PickleValue]) throws -> PickleValue {
    let t = arena.make(.tuple, items: items)
    guard t.depth <= Unpickler.maxDepth else { throw PickleError.tooDeep }
    return .container(t)
  }

  private func list(_ items: [PickleValue]) throws -> PickleValue {
    let l = arena.make(.list, items: items)
    guard l.depth <= Unpickler.maxDepth else { throw PickleError.tooDeep }
    return .container(l)
  }

  private func container(_ v: PickleValue, _ kind: PickleContainer.Kind) throws -> PickleContainer {
    guard case .container(let c) = v, c.kind == kind else { throw PickleError.malformed("expected a \(kind)") }
    return c
  }

  private func global(_ module: String, _ name: String) throws -> PickleValue {
    guard AllowedGlobal(module: module, name: name) != nil else { throw PickleError.forbiddenGlobal("\(module).\(name)") }
    return .global(module: module, name: name)
  }

  /// Applies one of the allowed callables.
  private func call(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
    guard case .global(let module, let name) = callable, let allowed = AllowedGlobal(module: module, name: name),
      let a = args.tupleItems
    else { throw PickleError.malformed("call of a non-callable") }
    switch allowed {
    case .orderedDict:
      return .container(arena.make(.dict))
    case .rebuildTensorV2, .rebuildTensor:
      guard a.count >= 4, case .storage(let storage) = a[0], let offset = a[1].int,
        let size = a[2].tupleItems?.map(\.int), let stride = a[3].tupleItems?.map(\.int),
        !size.contains(nil), !stride.contains(nil)
      else { throw PickleError.malformed("bad _rebuild_tensor arguments") }
      let tensor = TensorRef(
        storage: storage, offset: Int(clamping: offset), shape: size.map { Int(clamping: $0!) },
        stride: stride.map { Int(clamping: $0!) })
      return .tensor(tensor)
    case .rebuildParameter:
      guard let first = a.first, case .tensor = first else { throw PickleError.malformed("bad _rebuild_parameter arguments") }
      return first
    case .storageType:
      throw PickleError.malformed("storage type called directly")
    }
  }
}
