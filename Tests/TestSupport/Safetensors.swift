import Foundation
import Weights

/// Writes `dict` as a .safetensors file (float32 tensors).
public func writeSafetensors(_ dict: StateDict, to path: String) throws {
  var header: [String: Any] = [:]
  var data = Data()
  for key in dict.keys {
    let t = dict.tensors[key]!
    header[key] = ["dtype": "F32", "shape": t.shape, "data_offsets": [data.count, data.count + t.values.count * 4]]
    t.values.withUnsafeBytes { data.append(contentsOf: $0) }
  }
  var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
  while json.count % 8 != 0 { json.append(0x20) }
  var out = Data()
  withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
  out.append(json)
  out.append(data)
  try out.write(to: URL(fileURLWithPath: path))
}
