#ifndef AURORA_CZLIB_SHIM_H
#define AURORA_CZLIB_SHIM_H
#include <zlib.h>
#endif
