// libFuzzer's driver entry point (compiler-rt, linked by -sanitize=fuzzer).
//
// SwiftPM links every executable on Linux with `--defsym main=<Module>_main`, so libFuzzer's own main()
// is never used: each harness defines `<Module>_main` and hands over to this driver.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
