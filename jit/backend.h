// The JIT backend of the target processor (jit/CMakeLists.txt builds only its source):
// jit::Backend is X64Backend on x86-64 and A64Backend on AArch64.
#pragma once

#if defined(__aarch64__)
#include "jit/a64_backend.h"
namespace cb::jit {
using Backend = A64Backend;
}
#else
#include "jit/x64_backend.h"
namespace cb::jit {
using Backend = X64Backend;
}
#endif
