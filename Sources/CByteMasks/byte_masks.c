// The helpers are static inline in include/byte_masks.h; a C target needs one source file.
#include "byte_masks.h"
