import DNNL

/// The numbers a backbone computes in.
public enum Precision: String, CaseIterable, Sendable, Codable {
  /// float32 throughout: the features equal torchvision's (the default).
  case float32 = "f32"
  /// Weights and activations in bfloat16, products summed in float32; BatchNorm statistics, biases and
  /// the pooled output stay float32. Twice float32's speed or more where the CPU multiplies bfloat16
  /// natively (AVX512_BF16, AMX); features differ from torchvision's in the third significant digit.
  /// Transformers and ConvNeXt keep their residual stream, LayerNorm and softmax inputs in float32
  /// (`MixedPrecision`).
  case bfloat16 = "bf16"

  /// The precision a user's choice means on this CPU: `auto` is bfloat16 where the CPU multiplies it
  /// natively and measurably faster than float32 (`BFloat16Speed.current`), else float32; an explicit
  /// bfloat16 without native support is refused.
  /// - Throws: `BackboneError.unsupportedPrecision`.
  public static func resolve(_ choice: String) throws -> Precision {
    switch choice {
    case "auto": return CPU.nativeBFloat16 && BFloat16Speed.current.faster ? .bfloat16 : .float32
    case "f32", "float32": return .float32
    case "bf16", "bfloat16":
      guard CPU.nativeBFloat16 else { throw BackboneError.unsupportedPrecision(choice) }
      return .bfloat16
    default:
      throw BackboneError.unknown(kind: "precision", value: choice, choices: ["f32", "bf16", "auto"])
    }
  }
}
