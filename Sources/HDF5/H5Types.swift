// Element types, and the owned datatype / dataspace / property-list handles used by files and datasets.

import CHDF5

/// The element types featx stores. Files always use little-endian IEEE/two's-complement types.
public enum H5ElementType: String, Sendable, Equatable, CaseIterable {
  case float32, float16, float64, int64, int32, uint8, string

  /// Size of one element in memory, in bytes (a pointer for variable-length strings).
  public var byteSize: Int {
    switch self {
    case .float32, .int32: 4
    case .float16: 2
    case .float64, .int64: 8
    case .uint8: 1
    case .string: MemoryLayout<UnsafeMutablePointer<CChar>?>.size
    }
  }
}

/// Swift scalar types that map 1:1 to an HDF5 element type, so rows can be read and written without conversion.
public protocol H5Scalar: Sendable {
  static var h5ElementType: H5ElementType { get }
}
extension Float: H5Scalar { public static var h5ElementType: H5ElementType { .float32 } }
extension Float16: H5Scalar { public static var h5ElementType: H5ElementType { .float16 } }
extension Double: H5Scalar { public static var h5ElementType: H5ElementType { .float64 } }
extension Int64: H5Scalar { public static var h5ElementType: H5ElementType { .int64 } }
extension Int32: H5Scalar { public static var h5ElementType: H5ElementType { .int32 } }
extension UInt8: H5Scalar { public static var h5ElementType: H5ElementType { .uint8 } }

/// An owned HDF5 datatype identifier, closed in `deinit`. Predefined types are never closed.
final class H5Datatype {
  let id: hid_t
  private let owned: Bool

  private init(id: hid_t, owned: Bool) {
    self.id = id
    self.owned = owned
  }

  deinit { if owned { H5Tclose(id) } }

  /// IEEE binary16, built the way h5py builds `<f2`, so h5py and numpy read it as float16.
  static func float16() throws -> H5Datatype {
    let t = try h5id(H5Tcopy(featx_h5t_ieee_f32le()), "create a float16 datatype")
    let type = H5Datatype(id: t, owned: true)
    try h5check(H5Tset_fields(t, 15, 10, 5, 0, 10), "set float16 fields")
    try h5check(H5Tset_size(t, 2), "set float16 size")
    try h5check(H5Tset_ebias(t, 15), "set float16 exponent bias")
    return type
  }

  /// Variable-length UTF-8 strings (`h5py.string_dtype()`).
  static func utf8String() throws -> H5Datatype {
    let t = try h5id(H5Tcopy(featx_h5t_c_s1()), "create a string datatype")
    let type = H5Datatype(id: t, owned: true)
    try h5check(H5Tset_size(t, featx_h5t_variable()), "make the string datatype variable-length")
    try h5check(H5Tset_cset(t, H5T_CSET_UTF8), "make the string datatype UTF-8")
    return type
  }

  /// The type written into files for `element`.
  static func file(_ element: H5ElementType) throws -> H5Datatype {
    switch element {
    case .float32: H5Datatype(id: featx_h5t_ieee_f32le(), owned: false)
    case .float16: try float16()
    case .float64: H5Datatype(id: featx_h5t_ieee_f64le(), owned: false)
    case .int64: H5Datatype(id: featx_h5t_std_i64le(), owned: false)
    case .int32: H5Datatype(id: featx_h5t_std_i32le(), owned: false)
    case .uint8: H5Datatype(id: featx_h5t_std_u8le(), owned: false)
    case .string: try utf8String()
    }
  }

  /// The in-memory type for `element` (native byte order).
  static func memory(_ element: H5ElementType) throws -> H5Datatype {
    switch element {
    case .float32: H5Datatype(id: featx_h5t_native_float(), owned: false)
    case .float16: try float16()
    case .float64: H5Datatype(id: featx_h5t_native_double(), owned: false)
    case .int64: H5Datatype(id: featx_h5t_native_int64(), owned: false)
    case .int32: H5Datatype(id: featx_h5t_native_int32(), owned: false)
    case .uint8: H5Datatype(id: featx_h5t_native_uint8(), owned: false)
    case .string: try utf8String()
    }
  }

  /// Takes ownership of an identifier returned by `H5Dget_type`/`H5Aget_type`.
  static func adopting(_ id: hid_t) -> H5Datatype { H5Datatype(id: id, owned: true) }

  /// Classifies a stored type as one of featx's element types, or nil for anything else.
  func elementType() -> H5ElementType? {
    let size = H5Tget_size(id)
    switch H5Tget_class(id) {
    case H5T_FLOAT:
      switch size {
      case 2: return .float16
      case 4: return .float32
      case 8: return .float64
      default: return nil
      }
    case H5T_INTEGER:
      let signed = H5Tget_sign(id) == H5T_SGN_2
      switch (size, signed) {
      case (8, _): return .int64
      case (4, _): return .int32
      case (1, false): return .uint8
      default: return nil
      }
    case H5T_STRING: return .string
    default: return nil
    }
  }

  /// True for variable-length strings (as opposed to fixed-length ones, e.g. numpy bytes written by h5py).
  var isVariableString: Bool { H5Tis_variable_str(id) > 0 }
}

/// An owned dataspace identifier.
final class H5Dataspace {
  let id: hid_t

  init(adopting id: hid_t) { self.id = id }

  /// A simple dataspace with the given current and maximum dimensions (`nil` maximum = unlimited).
  convenience init(dims: [Int], maxDims: [Int?]? = nil) throws {
    let current = dims.map { hsize_t($0) }
    let maximum = (maxDims ?? dims.map { Optional($0) }).map { $0.map { hsize_t($0) } ?? featx_h5s_unlimited() }
    let id = try h5id(H5Screate_simple(Int32(dims.count), current, maximum), "create a dataspace of shape \(dims)")
    self.init(adopting: id)
  }

  /// A scalar dataspace (one element, no dimensions).
  static func scalar() throws -> H5Dataspace {
    H5Dataspace(adopting: try h5id(H5Screate(H5S_SCALAR), "create a scalar dataspace"))
  }

  deinit { H5Sclose(id) }

  /// Current dimensions.
  func dims() -> [Int] {
    let rank = Int(H5Sget_simple_extent_ndims(id))
    guard rank > 0 else { return [] }
    var dims = [hsize_t](repeating: 0, count: rank)
    H5Sget_simple_extent_dims(id, &dims, nil)
    return dims.map { Int($0) }
  }

  /// Selects rows `rows` (all of every other dimension) of a dataspace whose dimensions are `dims`.
  func selectRows(_ rows: Range<Int>, dims: [Int]) throws {
    var start = [hsize_t](repeating: 0, count: dims.count)
    var count = dims.map { hsize_t($0) }
    start[0] = hsize_t(rows.lowerBound)
    count[0] = hsize_t(rows.count)
    try h5check(H5Sselect_hyperslab(id, H5S_SELECT_SET, start, nil, count, nil), "select rows \(rows)")
  }
}

/// An owned property list.
final class H5PropertyList {
  let id: hid_t
  init(class cls: hid_t, _ purpose: String) throws {
    id = try h5id(H5Pcreate(cls), "create a property list for \(purpose)")
  }
  deinit { H5Pclose(id) }
}
