import CHDF5
import Glibc

/// A value stored as an HDF5 attribute.
public enum H5AttributeValue: Equatable, Sendable, CustomStringConvertible {
  case int64(Int64)
  case float64(Double)
  case string(String)
  case int64s([Int64])
  case float64s([Double])

  public var description: String {
    switch self {
    case .int64(let v): "\(v)"
    case .float64(let v): "\(v)"
    case .string(let v): v
    case .int64s(let v): "\(v)"
    case .float64s(let v): "\(v)"
    }
  }

  /// The integer, if this is an integer scalar.
  public var int64Value: Int64? { if case .int64(let v) = self { v } else { nil } }
  /// The number, if this is a numeric scalar.
  public var float64Value: Double? {
    switch self {
    case .float64(let v): v
    case .int64(let v): Double(v)
    default: nil
    }
  }
  /// The text, if this is a string.
  public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
  /// The integers, if this is an integer scalar or array.
  public var int64Values: [Int64]? {
    switch self {
    case .int64s(let v): v
    case .int64(let v): [v]
    default: nil
    }
  }
}

/// The attributes of a group or dataset.
///
/// The corresponding C functions are `H5Acreate2`, `H5Aopen`, `H5Awrite`, `H5Aread` and `H5Adelete`.
public struct H5Attributes {
  let objectID: hid_t
  /// Keeps the group or dataset open while the attributes are used.
  let owner: AnyObject
  let location: String

  init(objectID: hid_t, owner: AnyObject, where location: String) {
    self.objectID = objectID
    self.owner = owner
    self.location = location
  }

  /// True if an attribute called `name` exists.
  public func contains(_ name: String) throws -> Bool {
    try h5bool(H5Aexists(objectID, name), "look up attribute '\(name)' of \(location)")
  }

  /// Names of all attributes, in creation order where HDF5 tracks it, else by name.
  public func names() throws -> [String] {
    final class Names { var items: [String] = [] }
    let names = Names()
    let visit: H5A_operator2_t = { _, name, _, client in
      guard let name, let client else { return 0 }
      Unmanaged<Names>.fromOpaque(client).takeUnretainedValue().items.append(String(cString: name))
      return 0
    }
    var index: hsize_t = 0
    try h5check(
      H5Aiterate2(objectID, H5_INDEX_NAME, H5_ITER_INC, &index, visit, Unmanaged.passUnretained(names).toOpaque()),
      "list the attributes of \(location)")
    return names.items
  }

  /// Reads the attribute `name`, or nil if it does not exist.
  public func get(_ name: String) throws -> H5AttributeValue? {
    guard try contains(name) else { return nil }
    let what = "read attribute '\(name)' of \(location)"
    let aid = try h5id(H5Aopen(objectID, name, h5pDefault), what)
    defer { H5Aclose(aid) }
    let space = H5Dataspace(adopting: try h5id(H5Aget_space(aid), what))
    let dims = space.dims()
    let count = dims.reduce(1, *)
    let type = H5Datatype.adopting(try h5id(H5Aget_type(aid), what))
    switch type.elementType() {
    case .string?:
      guard dims.isEmpty || count == 1 else {
        throw HDF5Error(operation: what, detail: "string arrays are not supported")
      }
      if type.isVariableString {
        let memType = try H5Datatype.utf8String()
        var pointer: UnsafeMutablePointer<CChar>?
        try h5check(H5Aread(aid, memType.id, &pointer), what)
        defer { if let pointer { H5free_memory(pointer) } }
        return .string(pointer.map { String(cString: $0) } ?? "")
      }
      let width = H5Tget_size(type.id)
      var bytes = [UInt8](repeating: 0, count: width)
      try h5check(H5Aread(aid, type.id, &bytes), what)
      let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
      return .string(String(decoding: bytes[..<end], as: UTF8.self))
    case .float16?, .float32?, .float64?:
      var values = [Double](repeating: 0, count: count)
      try h5check(H5Aread(aid, featx_h5t_native_double(), &values), what)
      return dims.isEmpty ? .float64(values[0]) : .float64s(values)
    case .int64?, .int32?, .uint8?:
      var values = [Int64](repeating: 0, count: count)
      try h5check(H5Aread(aid, featx_h5t_native_int64(), &values), what)
      return dims.isEmpty ? .int64(values[0]) : .int64s(values)
    case nil:
      throw HDF5Error(operation: what, detail: "unsupported attribute type")
    }
  }

  /// Writes the attribute `name`. An existing attribute of the same type and shape is overwritten in
  /// place (a single small metadata write), otherwise it is replaced.
  public func set(_ name: String, _ value: H5AttributeValue) throws {
    let what = "write attribute '\(name)' of \(location)"
    let element: H5ElementType
    let dims: [Int]?
    switch value {
    case .int64: (element, dims) = (.int64, nil)
    case .float64: (element, dims) = (.float64, nil)
    case .string: (element, dims) = (.string, nil)
    case .int64s(let v): (element, dims) = (.int64, [v.count])
    case .float64s(let v): (element, dims) = (.float64, [v.count])
    }
    var aid: hid_t = -1
    if try contains(name) {
      let existing = try h5id(H5Aopen(objectID, name, h5pDefault), what)
      let sameShape: Bool
      let sameType: Bool
      do {
        let type = H5Datatype.adopting(try h5id(H5Aget_type(existing), what))
        let space = H5Dataspace(adopting: try h5id(H5Aget_space(existing), what))
        sameShape = space.dims() == (dims ?? [])
        sameType = type.elementType() == element && (element != .string || type.isVariableString)
      } catch {
        H5Aclose(existing)
        throw error
      }
      if sameShape && sameType {
        aid = existing
      } else {
        H5Aclose(existing)
        try h5check(H5Adelete(objectID, name), what)
      }
    }
    if aid < 0 {
      let space = try dims.map { try H5Dataspace(dims: $0) } ?? H5Dataspace.scalar()
      let fileType = try H5Datatype.file(element)
      aid = try h5id(H5Acreate2(objectID, name, fileType.id, space.id, h5pDefault, h5pDefault), what)
    }
    defer { H5Aclose(aid) }
    let memType = try H5Datatype.memory(element)
    switch value {
    case .int64(var v): try h5check(H5Awrite(aid, memType.id, &v), what)
    case .float64(var v): try h5check(H5Awrite(aid, memType.id, &v), what)
    case .int64s(let v): try v.withUnsafeBufferPointer { try h5check(H5Awrite(aid, memType.id, $0.baseAddress), what) }
    case .float64s(let v): try v.withUnsafeBufferPointer { try h5check(H5Awrite(aid, memType.id, $0.baseAddress), what) }
    case .string(let v):
      var pointer: UnsafeMutablePointer<CChar>? = strdup(v)
      defer { free(pointer) }
      try h5check(H5Awrite(aid, memType.id, &pointer), what)
    }
  }
}
