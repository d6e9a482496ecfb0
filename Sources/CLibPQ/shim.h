#ifndef AURORA_CLIBPQ_SHIM_H
#define AURORA_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
