// Scalar placeholder: the Highway implementation replaces this.
#include "lowbit/formats/bulk.hpp"
