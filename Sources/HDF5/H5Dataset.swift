import CHDF5
import Glibc

/// A dataset: an n-dimensional array of one element type, read and written in row ranges
/// (ranges of the first dimension).
///
/// The corresponding C functions are `H5Dopen2`, `H5Dread`, `H5Dwrite`, `H5Dset_extent` and `H5Dclose`.
public final class H5Dataset {
  /// The file the dataset belongs to (kept alive by the dataset).
  public let file: H5File
  /// The dataset's path inside the file, e.g. `/features`.
  public let name: String
  let id: hid_t
  /// The stored element type.
  public let elementType: H5ElementType

  init(file: H5File, id: hid_t, name: String) throws {
    self.file = file
    self.id = id
    self.name = name
    // `id` is owned from here: a failed init runs no deinit, so every throw below closes it.
    let typeID: hid_t
    do { typeID = try h5id(H5Dget_type(id), "read the type of '\(name)' in \(file.path)") } catch {
      H5Dclose(id)
      throw error
    }
    let type = H5Datatype.adopting(typeID)
    guard let element = type.elementType() else {
      H5Dclose(id)
      throw HDF5Error(operation: "use dataset '\(name)' in \(file.path)", detail: "unsupported element type")
    }
    elementType = element
  }

  deinit { H5Dclose(id) }

  /// The dataset's attributes.
  public var attributes: H5Attributes { H5Attributes(objectID: id, owner: self, where: "\(name) in \(file.path)") }

  private var location: String { "'\(name)' in \(file.path)" }

  /// Current dimensions.
  public func shape() throws -> [Int] {
    let space = H5Dataspace(adopting: try h5id(H5Dget_space(id), "read the shape of \(location)"))
    return space.dims()
  }

  /// Chunk dimensions, or nil for a contiguous dataset.
  public func chunkShape() throws -> [Int]? {
    let dcpl = try h5id(H5Dget_create_plist(id), "read the layout of \(location)")
    defer { H5Pclose(dcpl) }
    guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return nil }
    var dims = [hsize_t](repeating: 0, count: 8)
    let rank = H5Pget_chunk(dcpl, 8, &dims)
    return rank > 0 ? dims.prefix(Int(rank)).map { Int($0) } : nil
  }

  /// Changes the number of rows (the first dimension). Needs a growable, chunked dataset.
  public func resize(rows: Int) throws {
    var dims = try shape().map { hsize_t($0) }
    dims[0] = hsize_t(rows)
    try h5check(H5Dset_extent(id, dims), "resize \(location) to \(rows) rows")
  }

  /// Number of elements in one row (product of all dimensions but the first).
  private func rowWidth(_ dims: [Int]) -> Int { dims.dropFirst().reduce(1, *) }

  private func checkRows(_ rows: Range<Int>, _ dims: [Int], _ count: Int, _ verb: String) throws -> [Int] {
    guard !dims.isEmpty, rows.lowerBound >= 0, rows.upperBound <= dims[0] else {
      throw HDF5Error(operation: "\(verb) rows \(rows) of \(location)", detail: "the dataset has shape \(dims)")
    }
    let needed = rows.count * rowWidth(dims)
    precondition(count == needed, "H5Dataset.\(verb): buffer holds \(count) elements, rows \(rows) need \(needed)")
    var memDims = dims
    memDims[0] = rows.count
    return memDims
  }

  /// Writes `values` (row-major) into rows `rows`.
  public func write<T: H5Scalar>(_ values: UnsafeBufferPointer<T>, rows: Range<Int>) throws {
    let dims = try shape()
    let memDims = try checkRows(rows, dims, values.count, "write")
    guard !rows.isEmpty else { return }
    let fileSpace = H5Dataspace(adopting: try h5id(H5Dget_space(id), "write \(location)"))
    try fileSpace.selectRows(rows, dims: dims)
    let memSpace = try H5Dataspace(dims: memDims)
    let memType = try H5Datatype.memory(T.h5ElementType)
    try h5check(
      H5Dwrite(id, memType.id, memSpace.id, fileSpace.id, h5pDefault, values.baseAddress),
      "write rows \(rows) of \(location)")
  }

  /// Reads rows `rows` into `buffer` (row-major), converting to `T` if the stored type differs.
  public func read<T: H5Scalar>(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
    let dims = try shape()
    let memDims = try checkRows(rows, dims, buffer.count, "read")
    guard !rows.isEmpty else { return }
    let fileSpace = H5Dataspace(adopting: try h5id(H5Dget_space(id), "read \(location)"))
    try fileSpace.selectRows(rows, dims: dims)
    let memSpace = try H5Dataspace(dims: memDims)
    let memType = try H5Datatype.memory(T.h5ElementType)
    try h5check(
      H5Dread(id, memType.id, memSpace.id, fileSpace.id, h5pDefault, buffer.baseAddress),
      "read rows \(rows) of \(location)")
  }

  /// Reads rows `rows` (all rows by default) into a new array.
  public func read<T: H5Scalar>(_: T.Type = T.self, rows: Range<Int>? = nil) throws -> [T] {
    let dims = try shape()
    let range = rows ?? 0..<(dims.first ?? 0)
    let count = range.count * rowWidth(dims)
    return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      try read(rows: range, into: buffer)
      initialized = count
    }
  }

  /// Writes UTF-8 strings into rows `rows` of a 1-D string dataset.
  public func writeStrings(_ strings: [String], rows: Range<Int>) throws {
    let dims = try shape()
    _ = try checkRows(rows, dims, strings.count, "write")
    guard !rows.isEmpty else { return }
    let fileSpace = H5Dataspace(adopting: try h5id(H5Dget_space(id), "write \(location)"))
    try fileSpace.selectRows(rows, dims: dims)
    let memSpace = try H5Dataspace(dims: [rows.count])
    let memType = try H5Datatype.utf8String()
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    try h5check(H5Dwrite(id, memType.id, memSpace.id, fileSpace.id, h5pDefault, &pointers), "write rows \(rows) of \(location)")
  }

  /// Reads rows `rows` (all by default) of a 1-D string dataset (variable- or fixed-length).
  public func readStrings(rows: Range<Int>? = nil) throws -> [String] {
    let dims = try shape()
    guard dims.count == 1, elementType == .string else {
      throw HDF5Error(operation: "read strings from \(location)", detail: "it holds \(elementType) of shape \(dims)")
    }
    let range = rows ?? 0..<dims[0]
    _ = try checkRows(range, dims, range.count, "read")
    guard !range.isEmpty else { return [] }
    let fileSpace = H5Dataspace(adopting: try h5id(H5Dget_space(id), "read \(location)"))
    try fileSpace.selectRows(range, dims: dims)
    let memSpace = try H5Dataspace(dims: [range.count])
    let stored = H5Datatype.adopting(try h5id(H5Dget_type(id), "read the type of \(location)"))
    if stored.isVariableString {
      let memType = try H5Datatype.utf8String()
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: range.count)
      try h5check(H5Dread(id, memType.id, memSpace.id, fileSpace.id, h5pDefault, &pointers), "read rows \(range) of \(location)")
      defer { _ = H5Dvlen_reclaim(memType.id, memSpace.id, h5pDefault, &pointers) }
      return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    // Fixed-length strings (e.g. numpy bytes written by h5py): read the raw bytes and trim the padding.
    let width = H5Tget_size(stored.id)
    var bytes = [UInt8](repeating: 0, count: width * range.count)
    try h5check(H5Dread(id, stored.id, memSpace.id, fileSpace.id, h5pDefault, &bytes), "read rows \(range) of \(location)")
    return (0..<range.count).map { i in
      let slice = bytes[(i * width)..<((i + 1) * width)]
      let end = slice.firstIndex(of: 0) ?? slice.endIndex
      return String(decoding: slice[slice.startIndex..<end], as: UTF8.self)
    }
  }
}
