import Support
import Testing

@Suite struct TextWidthTests {
  @Test(
    arguments: [
      ("daisy", 5), ("玫瑰", 4), ("向日葵", 6), ("Rosé", 4), ("Rose\u{301}", 4), ("🌻", 2), ("한국어", 6), ("ｆｕｌｌ", 8),
      ("e\u{301}\u{302}", 1), ("", 0), ("a\u{200D}b", 2),
    ] as [(String, Int)])
  func displayWidthCountsTerminalColumns(text: String, width: Int) {
    #expect(text.displayWidth == width, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
  }

  @Test func paddingFillsToTheColumnAndNeverCuts() {
    #expect("玫瑰".padded(toWidth: 6) == "玫瑰  ")
    #expect("Rose\u{301}".padded(toWidth: 6) == "Rose\u{301}  ")
    #expect("向日葵".padded(toWidth: 4) == "向日葵")
  }
}
