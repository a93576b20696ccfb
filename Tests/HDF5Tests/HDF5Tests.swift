import CHDF5
import Foundation
import HDF5
import Testing
import TestSupport

@Suite struct HDF5Tests {
  @Test func cLibraryLinksAndRoundTripsA2x3Dataset() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("smoke.h5")
    let file = H5Fcreate(path, featx_h5f_acc_trunc(), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
    #expect(file >= 0)
    let space = H5Screate_simple(2, [2, 3], nil)
    let dset = H5Dcreate2(file, "m", featx_h5t_ieee_f32le(), space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
    var values: [Float] = [1, 2, 3, 4, 5, 6.5]
    #expect(H5Dwrite(dset, featx_h5t_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), &values) >= 0)
    var back = [Float](repeating: 0, count: 6)
    #expect(H5Dread(dset, featx_h5t_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), &back) >= 0)
    #expect(back == values)
    H5Dclose(dset)
    H5Sclose(space)
    H5Fclose(file)
  }

  @Test func growableChunkedCompressedRowsAndStrings() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("rows.h5")
    do {
      let file = try H5File(path: path, mode: .truncate)
      let root = try file.root()
      let ds = try root.createDataset(
        "x", type: .float32, shape: [0, 4], options: H5DatasetOptions(chunk: [3, 4], growable: true, gzipLevel: 4, shuffle: true))
      let rows: [Float] = (0..<20).map { Float($0) * 0.25 }
      try ds.resize(rows: 2)
      try rows[0..<8].withUnsafeBufferPointer { try ds.write($0, rows: 0..<2) }
      try ds.resize(rows: 5)
      try rows[8..<20].withUnsafeBufferPointer { try ds.write($0, rows: 2..<5) }
      try root.createDataset("names", strings: ["a", "ünïcode ✓", ""])
      try ds.attributes.set("shape", .int64s([2, 2]))
      try root.attributes.set("note", .string("héllo"))
      try root.attributes.set("ratio", .float64(0.8))
    }
    let file = try H5File(path: path, mode: .readOnly)
    let root = try file.root()
    let ds = try root.dataset("x")
    #expect(try ds.shape() == [5, 4])
    #expect(try ds.chunkShape() == [3, 4])
    #expect(try ds.read(Float.self) == (0..<20).map { Float($0) * 0.25 })
    #expect(try ds.read(Float.self, rows: 3..<5) == (12..<20).map { Float($0) * 0.25 })
    #expect(try root.dataset("names").readStrings() == ["a", "ünïcode ✓", ""])
    #expect(try ds.attributes.get("shape") == .int64s([2, 2]))
    #expect(try root.attributes.get("note") == .string("héllo"))
    #expect(try root.attributes.get("ratio") == .float64(0.8))
    #expect(try root.attributes.get("absent") == nil)
    #expect(try root.attributes.names().sorted() == ["note", "ratio"])
  }

  @Test func attributeOverwriteKeepsOneAttribute() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("a.h5")
    let file = try H5File(path: path, mode: .truncate)
    let root = try file.root()
    try root.attributes.set("n", .int64(1))
    try root.attributes.set("n", .int64(7))
    try root.attributes.set("n", .string("now text"))
    #expect(try root.attributes.get("n") == .string("now text"))
    #expect(try root.attributes.names() == ["n"])
  }

  @Test func errorsNameTheFileAndDoNotPrintTheStack() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("missing.h5")
    do {
      _ = try H5File(path: path, mode: .readOnly)
      Issue.record("opening a missing file succeeded")
    } catch let error as HDF5Error {
      #expect(error.description.contains(path))
      #expect(error.description.contains("cannot open HDF5 file"))
    }
    let file = try H5File(path: dir.path("b.h5"), mode: .truncate)
    #expect(throws: HDF5Error.self) { try file.root().dataset("nope") }
  }
}
