#ifndef AURORA_CZSTD_SHIM_H
#define AURORA_CZSTD_SHIM_H
// For ZSTD_getFrameHeader (the declared window size), exported by the shared library too.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zdict.h>
#endif
