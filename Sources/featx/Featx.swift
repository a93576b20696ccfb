import ArgumentParser
import CMalloc
import Foundation
import Glibc
import Support

/// The entry point: prefer passive OpenMP waiting, then run the command line.
@main
enum Main {
  static func main() {
    OpenMPWaitPolicy.preferPassive()
    keepLargeBuffersInTheHeap()
    do {
      var command = try Featx.parseAsRoot()
      try command.run()
    } catch {
      exitReporting(error)
    }
  }

  /// glibc serves allocations above its mmap threshold (adjusted dynamically, but never above 32 MiB) with
  /// a fresh mmap, and returns them with munmap: each 12-megapixel photo's 36 MB pixel buffer then costs
  /// ~9,000 page faults and a kernel zeroing of every page (a quarter of extraction's CPU time on such
  /// photos). With fixed 1 GiB thresholds the buffers are reused from the heap, image after image.
  static func keepLargeBuffersInTheHeap() {
    _ = mallopt(M_MMAP_THRESHOLD, 1 << 30)
    _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
  }

  /// Prints `error` as swift-argument-parser would and exits without running atexit handlers: after a
  /// failed write (disk full) HDF5's own atexit clean-up crashes on the file it could not close.
  /// Every file featx opened is closed by then, so nothing is lost.
  static func exitReporting(_ error: Error) -> Never {
    let code = Featx.exitCode(for: error)
    let message = OptionHints.withHint(Featx.fullMessage(for: error), for: error)
    if !message.isEmpty {
      if code == .success { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
    }
    fflush(nil)
    _exit(code.rawValue)
  }
}

/// libgomp's worker threads spin after every parallel region unless told otherwise, which costs more
/// than it saves between featx's many short matrix products (measured: a 1024-d probe 9.2 s spinning,
/// 3.8 s passive; backbones are unaffected). libgomp reads OMP_WAIT_POLICY when it is loaded, before
/// `main`, so featx sets it and re-executes itself once; a value the user set is left alone.
/// `predict` runs a backbone and one small product, and its cold start is what its users wait for: the
/// second process start (45 ms of 0.53 s for resnet50 on one image) is not spent there, nor in the HDF5
/// guard's child (`check-hdf5`), which runs no OpenMP at all.
enum OpenMPWaitPolicy {
  static let commandsWithoutReexecution: Set<String> = ["predict", "check-hdf5"]

  static func preferPassive() {
    guard getenv("OMP_WAIT_POLICY") == nil else { return }
    if let command = CommandLine.arguments.dropFirst().first, commandsWithoutReexecution.contains(command) { return }
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // If the re-execution fails, go on with the default policy.
  }
}

/// `featx`: extract CNN features once into HDF5, train a linear head in seconds, classify images.
struct Featx: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "featx",
    abstract: "Extract CNN features once, train a linear head in seconds, classify images.",
    discussion: """
      A frozen ImageNet backbone (DenseNet, ResNet, ResNeXt, Inception v3, GoogLeNet or RDNet, from torchvision \
      weight files or timm's on the Hugging Face hub) turns every image of a \
      dataset into a feature vector, stored in an HDF5 feature store; a linear/softmax head trains on the \
      stored features; backbone + head then classify new images.
      """,
    version: featxVersion,
    subcommands: [
      ExtractCommand.self, ProbeCommand.self, EvaluateCommand.self, KnnCommand.self, NeighborsCommand.self, PredictCommand.self,
      MergeCommand.self,
      Info.self,
      LayersCommand.self, BenchCommand.self,
      CheckHDF5.self,
    ]
  )
}
