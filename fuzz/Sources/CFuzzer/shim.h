// libFuzzer's driver entry point (compiler-rt, linked by -sanitize=fuzzer).
//
// SwiftPM links every executable on Linux with `--defsym main=<Module>_main`, so libFuzzer's own main()
// is never used: each harness defines `<Module>_main` and hands over to this driver.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

// Defined by each harness (`@_cdecl("LLVMFuzzerTestOneInput")`).
int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);

// What every harness's `<Module>_main` does: run libFuzzer's driver on the harness's input function.
static inline int featx_fuzz_main(int argc, char **argv) {
  return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
