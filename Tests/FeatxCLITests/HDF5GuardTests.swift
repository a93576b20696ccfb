import Foundation
import Testing
import TestSupport

import featx

/// The crash guard never turns itself off without a word: when its child cannot be started, the file is
/// refused with the reason and the way to read it unguarded.
@Suite struct HDF5GuardTests {
  @Test func aChildThatCannotStartRefusesTheFile() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("store.h5")
    try Data("not read".utf8).write(to: URL(fileURLWithPath: path))
    let missing = dir.path("no-such-featx")
    #expect {
      try HDF5Guard.check(path, as: .store, executable: missing)
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix("\(path): featx could not check it in a child process first (posix_spawn \(missing): ")
        && text.contains("No such file or directory") && text.hasSuffix("set FEATX_HDF5_GUARD=0 to read it without the guard.")
    }
  }
}
