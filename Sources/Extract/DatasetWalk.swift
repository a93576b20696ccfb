// Finding the images of a dataset: torchvision's ImageFolder layout (one folder per class, images in it
// or in its subfolders), split folders (`train/<class>/…` beside `val/<class>/…` or `test/<class>/…`), a flat
// folder with no labels, or a CSV list of `path,label`. The order is a pure function of the names
// (code-point order, as Python's `sorted`), never of the file system.

import FeatureStore
import Foundation
import Glibc
import Support

/// One image to extract.
public struct DatasetItem: Sendable, Equatable {
  /// Path relative to the dataset root, with `/` separators.
  public var relativePath: String
  /// Label (index into the classes), or -1 when unlabelled.
  public var label: Int64
  /// The part its split folder gives (nil unless the dataset is made of split folders).
  public var part: SplitPart?

  public init(relativePath: String, label: Int64, part: SplitPart? = nil) {
    self.relativePath = relativePath
    self.label = label
    self.part = part
  }
}

/// The names of split folders, matched case-insensitively: `train`; `val`, `valid`, `validation`; `test`.
public enum SplitFolderKind: String, Sendable, CaseIterable {
  case train
  case validation = "val"
  case test

  /// The kind a folder name denotes, or nil if it is not a split name.
  public init?(folderName: String) {
    switch folderName.lowercased() {
    case "train": self = .train
    case "val", "valid", "validation": self = .validation
    case "test": self = .test
    default: return nil
    }
  }
}

/// Which folder gives the test part when a dataset has both a validation folder (`val/`, `valid/`,
/// `validation/`) and a `test/` folder; the other one is left out.
public enum TestSplitChoice: String, Sendable, CaseIterable {
  /// The validation folder (the default: torchvision's train/val scripts, the seed 004 workflow).
  case val
  case test
}

/// What the walk found in a dataset made of split folders.
public struct SplitFolders: Sendable, Equatable {
  /// One split folder: its name as on disk, its class folders and its image count.
  public struct Folder: Sendable, Equatable {
    public var name: String
    public var classFolders: [String]
    public var images: Int
  }

  /// The folder whose images are train (`train/`), if there is one.
  public var train: Folder?
  /// The folder whose images are test (`val/`, …, or `test/`), if there is one.
  public var test: Folder?
  /// Split folders whose images are not extracted (the validation or test folder not chosen as test).
  public var leftOut: [Folder]
  /// Class folders found under the train folder but not under the test folder (empty without both).
  public var onlyInTrain: [String]
  /// Class folders found under the test folder but not under the train folder.
  public var onlyInTest: [String]

  /// What the feature store records (`split_folders`).
  public var record: SplitFolderRecord {
    SplitFolderRecord(train: train?.name, test: test?.name, leftOut: leftOut.map(\.name))
  }
}

/// A file the walk passed over, and why.
public struct IgnoredFile: Sendable, Equatable {
  public var path: String
  public var reason: String
}

/// The result of walking a dataset.
public struct Dataset: Sendable {
  /// The folder paths are relative to.
  public var root: String
  /// Class display names, indexed by label.
  public var classes: [String]
  /// Class folder names (or list labels), indexed by label.
  public var classFolders: [String]
  /// Images in extraction order.
  public var items: [DatasetItem]
  /// Hidden files, non-images and unreadable folders that were passed over.
  public var ignored: [IgnoredFile]
  /// The split folders, when the dataset is made of them (every item then has a `part`).
  public var splitFolders: SplitFolders?

  public init(
    root: String, classes: [String], classFolders: [String], items: [DatasetItem], ignored: [IgnoredFile],
    splitFolders: SplitFolders? = nil
  ) {
    self.root = root
    self.classes = classes
    self.classFolders = classFolders
    self.items = items
    self.ignored = ignored
    self.splitFolders = splitFolders
  }

  /// True when the images carry class labels.
  public var isLabelled: Bool { !classes.isEmpty }
}

/// How class indices are assigned.
public enum ClassOrder: String, Sendable, CaseIterable {
  /// Sorted folder names (torchvision's ImageFolder): CUB's `001.`, `002.` … order.
  case folder
  /// Sorted display names (the bird workflow's `np.unique` of the names after the first '.').
  case display
}

/// Walks datasets.
public enum DatasetWalk {
  /// Extensions featx decodes (case-insensitive).
  public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]
  /// Extensions of images torchvision would load but featx does not decode (reported, not silently dropped).
  static let otherImageExtensions: Set<String> = ["bmp", "ppm", "pgm", "tif", "tiff", "webp", "gif"]

  /// The display name of a class folder: what follows `NNN.` in CUB-style names, else the name itself.
  public static func displayName(_ folder: String) -> String {
    guard let dot = folder.firstIndex(of: "."), dot > folder.startIndex,
      folder[..<dot].allSatisfy(\.isASCIIDigit), folder.index(after: dot) < folder.endIndex
    else { return folder }
    return String(folder[folder.index(after: dot)...])
  }

  /// `paths` in ImageFolder's order: by folder path, then by file name, each by code points (the order of
  /// their UTF-8 bytes). Sorted through one buffer of those bytes, so the comparisons touch no String (no
  /// copies, no reference counting): at ImageNet's 1.28 million paths the walk took 97 s with String
  /// comparisons, 6 s like this (with readdir's file types, which spare a stat per file).
  static func sortedTorchvision(_ paths: [String]) -> [String] {
    var bytes: [UInt8] = []
    var spans: [(start: Int, slash: Int, end: Int)] = []
    spans.reserveCapacity(paths.count)
    for path in paths {
      let start = bytes.count
      bytes.append(contentsOf: path.utf8)
      let slash = bytes[start...].lastIndex(of: UInt8(ascii: "/")) ?? start - 1
      spans.append((start, slash, bytes.count))
    }
    let order = bytes.withUnsafeBufferPointer { all in
      spans.indices.sorted { i, j in
        let (a, b) = (spans[i], spans[j])
        let dirs = compareBytes(
          UnsafeBufferPointer(rebasing: all[a.start..<max(a.slash, a.start)]),
          UnsafeBufferPointer(rebasing: all[b.start..<max(b.slash, b.start)]))
        if dirs != 0 { return dirs < 0 }
        let files = compareBytes(
          UnsafeBufferPointer(rebasing: all[(a.slash + 1)..<a.end]), UnsafeBufferPointer(rebasing: all[(b.slash + 1)..<b.end]))
        return files != 0 ? files < 0 : i < j
      }
    }
    return order.map { paths[$0] }
  }

  /// Python's `sorted` on str: by Unicode code points (the order of the UTF-8 bytes).
  static func codePointLess(_ a: String, _ b: String) -> Bool {
    var (a, b) = (a, b)
    return a.withUTF8 { x in b.withUTF8 { y in compareBytes(x, y) < 0 } }
  }

  /// memcmp, then the shorter first.
  private static func compareBytes(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
    let n = min(x.count, y.count)
    if n > 0, let px = x.baseAddress, let py = y.baseAddress {
      let c = memcmp(px, py, n)
      if c != 0 { return Int(c) }
    }
    return x.count - y.count
  }

  /// The top-level folders of `root` named like split folders (empty if there are none or `root` cannot be
  /// read): what decides, before any walk, whether the dataset is made of split folders.
  public static func splitFolderNames(_ root: String) -> [String] {
    guard let names = try? listDirectory(root) else { return [] }
    return names.filter { !$0.hasPrefix(".") && SplitFolderKind(folderName: $0) != nil && isDirectory(root + "/" + $0) }
      .sorted(by: codePointLess)
  }

  /// Walks a folder: split folders if its subfolders are named like splits (`train`, `val`, `valid`,
  /// `validation`, `test`, any case), else the ImageFolder layout if it has subfolders, else a flat,
  /// unlabelled folder.
  ///
  /// - Parameter testSplit: which folder gives the test part when there are both a validation and a
  ///   test folder (nil: the validation folder). A choice naming a folder that does not exist is refused.
  public static func folder(_ root: String, classOrder: ClassOrder = .folder, testSplit: TestSplitChoice? = nil) throws
    -> Dataset
  {
    var ignored: [IgnoredFile] = []
    let entries = try listDirectory(root)
    var folders: [String] = []
    var looseFiles: [String] = []
    for name in entries {
      if name.hasPrefix(".") {
        ignored.append(IgnoredFile(path: name, reason: "hidden"))
        continue
      }
      switch kind(of: root + "/" + name) {
      case .directory: folders.append(name)
      case .file: looseFiles.append(name)
      case .other(let why): ignored.append(IgnoredFile(path: name, reason: why))
      }
    }
    folders.sort(by: codePointLess)
    let splitNamed = folders.filter { SplitFolderKind(folderName: $0) != nil }
    if !splitNamed.isEmpty {
      let others = folders.filter { SplitFolderKind(folderName: $0) == nil }
      guard others.isEmpty else {
        throw ExtractError.mixedSplitFolders(root: root, splitFolders: splitNamed, others: others)
      }
      for name in looseFiles { ignored.append(IgnoredFile(path: name, reason: "outside any split folder")) }
      return try splitFolderDataset(root, folders: folders, ignored: ignored, classOrder: classOrder, testSplit: testSplit)
    }
    if let testSplit {
      throw ExtractError.missingSplitFolder(root: root, wanted: testSplit.rawValue, found: [])
    }
    if folders.isEmpty {
      // A flat folder: predict-style extraction with no labels.
      var items: [DatasetItem] = []
      for name in looseFiles.sorted(by: codePointLess) {
        if let why = notAnImage(name) {
          ignored.append(IgnoredFile(path: name, reason: why))
        } else {
          items.append(DatasetItem(relativePath: name, label: -1))
        }
      }
      return Dataset(root: root, classes: [], classFolders: [], items: items, ignored: ignored)
    }
    for name in looseFiles { ignored.append(IgnoredFile(path: name, reason: "outside any class folder")) }

    let (classes, classFolders, labelOfFolder) = try assignLabels(folders, order: classOrder, root: root)
    var items: [DatasetItem] = []
    for folder in folders {
      var visited = Set<String>()
      var files: [String] = []
      collectFiles(root: root, relative: folder, visited: &visited, files: &files, ignored: &ignored)
      // torchvision: `for root, _, fnames in sorted(os.walk(...)): for fname in sorted(fnames)`.
      for file in sortedTorchvision(files) {
        items.append(DatasetItem(relativePath: file, label: Int64(labelOfFolder[folder]!)))
      }
    }
    return Dataset(root: root, classes: classes, classFolders: classFolders, items: items, ignored: ignored)
  }

  /// Reads a CSV list of `path,label` (a header line `path,label` is allowed). Paths are relative to `root`.
  public static func list(_ file: String, root: String) throws -> Dataset {
    let text: String
    do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
      throw ExtractError.dataset(path: file, reason: "cannot read the list (\(error.localizedDescription))")
    }
    var rows: [(path: String, label: String)] = []
    for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let fields = splitCSV(line)
      if number == 0, fields.count == 2, fields[0].lowercased() == "path", fields[1].lowercased() == "label" { continue }
      guard fields.count == 2, !fields[0].isEmpty else {
        throw ExtractError.dataset(path: file, reason: "line \(number + 1) is not `path,label`: \(line)")
      }
      rows.append((fields[0], fields[1]))
    }
    let labels = Set(rows.map(\.label)).sorted(by: codePointLess)
    let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, Int64($0)) })
    var ignored: [IgnoredFile] = []
    var items: [DatasetItem] = []
    for row in rows {
      if let why = notAnImage(row.path) {
        ignored.append(IgnoredFile(path: row.path, reason: why))
        continue
      }
      items.append(DatasetItem(relativePath: row.path, label: row.label.isEmpty ? -1 : index[row.label]!))
    }
    let named = labels.filter { !$0.isEmpty }
    guard named.count == labels.count || rows.allSatisfy({ $0.label.isEmpty }) else {
      throw ExtractError.dataset(path: file, reason: "some rows have a label and some do not")
    }
    return Dataset(root: root, classes: named, classFolders: named, items: items, ignored: ignored)
  }

  // MARK: - Split folders

  /// `root/train/<class>/…` beside `root/val/<class>/…` or `root/test/<class>/…` (`folders` are all split names).
  private static func splitFolderDataset(
    _ root: String, folders: [String], ignored: [IgnoredFile], classOrder: ClassOrder, testSplit: TestSplitChoice?
  ) throws -> Dataset {
    var ignored = ignored
    let byKind = Dictionary(grouping: folders) { SplitFolderKind(folderName: $0)! }
    for kind in SplitFolderKind.allCases {
      if let names = byKind[kind], names.count > 1 { throw ExtractError.duplicateSplitFolders(root: root, folders: names) }
    }
    let trainName = byKind[.train]?.first
    let validationName = byKind[.validation]?.first
    let testName = byKind[.test]?.first
    var testFolderName: String?
    var leftOutNames: [String] = []
    switch (validationName, testName) {
    case (let v?, let t?):
      testFolderName = testSplit == .test ? t : v
      leftOutNames = [testSplit == .test ? v : t]
    case (let v?, nil):
      if testSplit == .test { throw ExtractError.missingSplitFolder(root: root, wanted: "test", found: folders) }
      testFolderName = v
    case (nil, let t?):
      if testSplit == .val { throw ExtractError.missingSplitFolder(root: root, wanted: "val", found: folders) }
      testFolderName = t
    case (nil, nil):
      if let testSplit { throw ExtractError.missingSplitFolder(root: root, wanted: testSplit.rawValue, found: folders) }
    }

    // The class folders of each used split folder (checked: only class folders, no split names among them).
    var classesOf: [String: [String]] = [:]
    for name in [trainName, testFolderName].compactMap({ $0 }) {
      classesOf[name] = try classFolders(inSplitFolder: name, root: root, ignored: &ignored)
    }
    let trainClasses = Set(trainName.flatMap { classesOf[$0] } ?? [])
    let testClasses = Set(testFolderName.flatMap { classesOf[$0] } ?? [])
    let union = trainClasses.union(testClasses).sorted(by: codePointLess)
    let (classes, classFolders, labelOfFolder) = try assignLabels(union, order: classOrder, root: root)

    var items: [DatasetItem] = []
    var counts: [String: Int] = [:]
    for (name, part) in [(trainName, SplitPart.train), (testFolderName, SplitPart.test)] {
      guard let name else { continue }
      for folder in classesOf[name]! {
        var visited = Set<String>()
        var files: [String] = []
        collectFiles(root: root, relative: name + "/" + folder, visited: &visited, files: &files, ignored: &ignored)
        for file in sortedTorchvision(files) {
          items.append(DatasetItem(relativePath: file, label: Int64(labelOfFolder[folder]!), part: part))
        }
        counts[name, default: 0] += files.count
      }
    }
    var leftOut: [SplitFolders.Folder] = []
    for name in leftOutNames {
      // Counted, not extracted: its images (and whatever else it holds) are reported as one left-out folder.
      var visited = Set<String>()
      var files: [String] = []
      var unused: [IgnoredFile] = []
      collectFiles(root: root, relative: name, visited: &visited, files: &files, ignored: &unused)
      let classFolders = ((try? listDirectory(root + "/" + name)) ?? [])
        .filter { !$0.hasPrefix(".") && isDirectory(root + "/" + name + "/" + $0) }.sorted(by: codePointLess)
      leftOut.append(SplitFolders.Folder(name: name, classFolders: classFolders, images: files.count))
      ignored.append(
        IgnoredFile(
          path: name + "/",
          reason: "split folder left out (\(files.count) images): \(testFolderName ?? "another folder")/ is the test part"))
    }
    let both = trainName != nil && testFolderName != nil
    let split = SplitFolders(
      train: trainName.map { SplitFolders.Folder(name: $0, classFolders: classesOf[$0]!, images: counts[$0] ?? 0) },
      test: testFolderName.map { SplitFolders.Folder(name: $0, classFolders: classesOf[$0]!, images: counts[$0] ?? 0) },
      leftOut: leftOut,
      onlyInTrain: both ? trainClasses.subtracting(testClasses).sorted(by: codePointLess) : [],
      onlyInTest: both ? testClasses.subtracting(trainClasses).sorted(by: codePointLess) : [])
    return Dataset(
      root: root, classes: classes, classFolders: classFolders, items: items, ignored: ignored, splitFolders: split)
  }

  /// The class folders directly inside the split folder `name`, sorted. A split folder holds class folders
  /// only: images beside them, no class folder at all, or a folder named like a split are refused (each
  /// would otherwise give images a wrong class); hidden files and non-images are ignored.
  private static func classFolders(inSplitFolder name: String, root: String, ignored: inout [IgnoredFile]) throws -> [String] {
    let path = root + "/" + name
    var folders: [String] = []
    var images: [String] = []
    for entry in try listDirectory(path) {
      let relative = name + "/" + entry
      if entry.hasPrefix(".") {
        ignored.append(IgnoredFile(path: relative, reason: "hidden"))
        continue
      }
      switch kind(of: path + "/" + entry) {
      case .directory: folders.append(entry)
      case .file:
        if let why = notAnImage(entry) { ignored.append(IgnoredFile(path: relative, reason: why)) } else { images.append(entry) }
      case .other(let why): ignored.append(IgnoredFile(path: relative, reason: why))
      }
    }
    folders.sort(by: codePointLess)
    images.sort(by: codePointLess)
    guard !folders.isEmpty else { throw ExtractError.splitFolderWithoutClasses(folder: path, images: images.count) }
    if let nested = folders.first(where: { SplitFolderKind(folderName: $0) != nil }) {
      throw ExtractError.nestedSplitFolder(path: path + "/" + nested, parent: path)
    }
    if let first = images.first { throw ExtractError.looseImages(folder: path, count: images.count, first: first) }
    return folders
  }

  // MARK: - Helpers

  private static func isDirectory(_ path: String) -> Bool {
    if case .directory = kind(of: path) { return true }
    return false
  }

  private static func assignLabels(_ folders: [String], order: ClassOrder, root: String) throws
    -> (classes: [String], folders: [String], labelOf: [String: Int])
  {
    switch order {
    case .folder:
      return (folders.map(displayName), folders, Dictionary(uniqueKeysWithValues: folders.enumerated().map { ($1, $0) }))
    case .display:
      let byDisplay = Dictionary(grouping: folders, by: displayName)
      if let clash = byDisplay.first(where: { $0.value.count > 1 }) {
        throw ExtractError.displayNameClash(root: root, folders: clash.value, name: clash.key)
      }
      let sorted = folders.sorted { codePointLess(displayName($0), displayName($1)) }
      return (sorted.map(displayName), sorted, Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) }))
    }
  }

  /// Why a file name is not an image featx extracts, or nil if it is one. Works on the UTF-8 bytes: it runs
  /// once per file of the dataset.
  static func notAnImage(_ name: String) -> String? {
    let bytes = name.utf8
    let baseStart = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes.index(after: $0) } ?? bytes.startIndex
    let base = bytes[baseStart...]
    if base.first == UInt8(ascii: ".") { return "hidden" }
    guard let dot = base.lastIndex(of: UInt8(ascii: ".")) else { return "not an image (no extension)" }
    let ext = String(decoding: base[base.index(after: dot)...], as: UTF8.self).lowercased()
    if imageExtensions.contains(ext) { return nil }
    if otherImageExtensions.contains(ext) { return "unsupported image format .\(ext) (featx reads JPEG and PNG)" }
    return "not an image (.\(ext))"
  }

  private enum Kind { case directory, file, other(String) }

  private static func kind(of path: String) -> Kind {
    var info = stat()
    guard stat(path, &info) == 0 else {
      return .other(errno == ELOOP ? "symbolic link loop" : "cannot stat (\(String(cString: strerror(errno))))")
    }
    switch info.st_mode & S_IFMT {
    case S_IFDIR: return .directory
    case S_IFREG: return .file
    default: return .other("not a regular file")
    }
  }

  private static func listDirectory(_ path: String) throws -> [String] { try listEntries(path).map(\.name) }

  /// The entries of a folder with the type readdir reports (`DT_UNKNOWN` where the file system gives none).
  private static func listEntries(_ path: String) throws -> [(name: String, type: UInt8)] {
    guard let dir = opendir(path) else {
      throw ExtractError.dataset(path: path, reason: "cannot read the folder (\(String(cString: strerror(errno))))")
    }
    defer { closedir(dir) }
    var entries: [(name: String, type: UInt8)] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name != "." && name != ".." { entries.append((name, entry.pointee.d_type)) }
    }
    return entries
  }

  /// Collects image files under `relative` (recursively, following links, as torchvision's `os.walk(followlinks=True)`),
  /// refusing to enter a folder twice so symbolic link loops end.
  private static func collectFiles(
    root: String, relative: String, visited: inout Set<String>, files: inout [String], ignored: inout [IgnoredFile]
  ) {
    let path = root + "/" + relative
    var info = stat()
    guard stat(path, &info) == 0 else {
      ignored.append(IgnoredFile(path: relative, reason: "cannot read the folder (\(String(cString: strerror(errno))))"))
      return
    }
    let identity = "\(info.st_dev):\(info.st_ino)"
    guard visited.insert(identity).inserted else {
      ignored.append(IgnoredFile(path: relative, reason: "symbolic link loop (folder already visited)"))
      return
    }
    let entries: [(name: String, type: UInt8)]
    do { entries = try listEntries(path) } catch {
      ignored.append(IgnoredFile(path: relative, reason: "cannot read the folder (\(String(cString: strerror(errno))))"))
      return
    }
    for (name, type) in entries {
      let child = relative + "/" + name
      if name.hasPrefix(".") {
        ignored.append(IgnoredFile(path: child, reason: "hidden"))
        continue
      }
      // readdir's type spares a stat per file; links (followed, as os.walk(followlinks=True)) and file
      // systems that do not report types are stat'ed.
      let known: Kind? = type == UInt8(DT_REG) ? .file : type == UInt8(DT_DIR) ? .directory : nil
      switch known ?? kind(of: root + "/" + child) {
      case .directory:
        collectFiles(root: root, relative: child, visited: &visited, files: &files, ignored: &ignored)
      case .file:
        if let why = notAnImage(name) { ignored.append(IgnoredFile(path: child, reason: why)) } else { files.append(child) }
      case .other(let why):
        ignored.append(IgnoredFile(path: child, reason: why))
      }
    }
  }

  /// Splits one CSV line into fields (double quotes may enclose a field; `""` is a quote).
  static func splitCSV(_ line: String) -> [String] {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var chars = line.makeIterator()
    while let c = chars.next() {
      if quoted {
        if c == "\"" {
          if let next = chars.next() {
            if next == "\"" {
              current.append("\"")
            } else {
              quoted = false
              if next == "," { fields.append(current); current = "" } else { current.append(next) }
            }
          } else {
            quoted = false
          }
        } else {
          current.append(c)
        }
      } else if c == "\"" {
        quoted = true
      } else if c == "," {
        fields.append(current.trimmingCharacters(in: .whitespaces))
        current = ""
      } else {
        current.append(c)
      }
    }
    fields.append(current.trimmingCharacters(in: .whitespaces))
    return fields
  }
}
