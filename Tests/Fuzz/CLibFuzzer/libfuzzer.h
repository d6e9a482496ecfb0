#ifndef AURORA_LIBFUZZER_H
#define AURORA_LIBFUZZER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's driver, linked in by -sanitize=fuzzer. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t));
#endif
