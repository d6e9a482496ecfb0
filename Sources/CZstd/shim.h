#ifndef AURORA_CZSTD_SHIM_H
#define AURORA_CZSTD_SHIM_H
#include <zstd.h>
#include <zdict.h>
#endif
