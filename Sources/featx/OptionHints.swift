import Backbones
import Extract
import Probe
import Weights

/// The CLI's side of the library errors: the libraries say what is wrong; this says which option fixes it.
enum OptionHints {
  /// What to type next for `error`, or nil if the error's own text already says all there is.
  static func hint(for error: Error) -> String? {
    switch error {
    case ExtractError.outputExists: "pass --overwrite to replace it, or choose another -o"
    case ExtractError.output(_, let reason) where reason.contains("not writable"): "choose another -o"
    case ExtractError.displayNameClash: "use --class-order folder"
    case ExtractError.badImage: "run without --strict to skip unreadable images"
    case ExtractError.splitOverSplitFolders:
      "drop --split (the folders give the split), or use --list to split the images another way"
    case ExtractError.noSplitFolders: "choose another --split"
    case ExtractError.missingSplitFolder: "drop --test-split or name a folder that exists"
    case ExtractError.mixedSplitFolders, ExtractError.nestedSplitFolder: "or name each image's class with --list"
    case ProbeError.noTrainRows: "re-extract with --split 0.8, or pass --val-ratio to hold out a test part of train"
    case ProbeError.weightsMismatch: "pass the same weights file with --weights"
    case BackboneError.weightsMismatch(_, _, _, let looksLike):
      "pass --arch \(looksLike ?? "<the right architecture>") or the right weights file"
    case BackboneError.weightsUnavailable: "or pass --weights PATH, or --weights random for a smoke run"
    case BackboneError.architectureConflict: "drop --arch (config.json names the architecture) or pass weights for that --arch"
    case WeightsError.hubUnavailable: "or pass --weights FOLDER holding config.json and the weights"
    default: nil
    }
  }

  /// `message` (swift-argument-parser's text for `error`) with the hint appended.
  static func withHint(_ message: String, for error: Error) -> String {
    guard let hint = hint(for: error), !message.isEmpty else { return message }
    return message + "; " + hint + "."
  }
}
