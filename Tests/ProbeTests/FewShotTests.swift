// `ProbeDataset.fewShot`: the rows NumPy's sampling picks (RandomState(seed).permutation per class, in
// class order), and the classes that have fewer rows than asked.

import FeatureStore
import Probe
import Testing
import TestSupport

@Suite struct FewShotTests {
  @Test func picksTheRowsNumPyPicks() throws {
    let reference = KNNCase.document.cases[0]
    let dir = TemporaryDirectory()
    let data = try ProbeDataset.load(path: try reference.store(in: dir))
    // tools: np.random.RandomState(0); per class in order, permutation(len(members))[:2] of its train rows.
    let (two, none) = data.fewShot(2, seed: 0)
    #expect(two.train.storeRows == [16, 20, 46, 78, 79, 113, 131, 157, 185, 219, 227, 243, 245, 253])
    #expect(none.isEmpty)
    #expect(two.test?.storeRows == data.test?.storeRows)
    // Train rows per class: 22, 35, 28, 37, 30, 28, 28.
    let (thirty, short) = data.fewShot(30, seed: 0)
    #expect(short == [0, 2, 5, 6])
    #expect(thirty.train.rows == 22 + 30 + 28 + 30 + 30 + 28 + 28)
    #expect(data.fewShot(1000, seed: 0).data.train.storeRows == data.train.storeRows)
  }
}
