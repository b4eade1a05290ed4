# Cross compilation for AArch64 Linux with Debian's g++-aarch64-linux-gnu and arm64 multiarch
# libraries (scripts/build-aarch64.sh installs both). The results run natively on an AArch64
# host or here under `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and CMake package files from the arm64 multiarch directories; headers of
# header-only packages (robin-map, nlohmann-json, CLI11) from /usr/include.
# ISA-L comes from a private sysroot (scripts/build-aarch64.sh unpacks it; it is not Multi-Arch).
if(DEFINED ENV{CB_A64_SYSROOT})
  set(CB_A64_SYSROOT "$ENV{CB_A64_SYSROOT}" CACHE PATH "Private arm64 sysroot (ISA-L)")
endif()
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu/cmake ${CB_A64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} ${CB_A64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# Test binaries run through the emulator (ctest, gtest_discover_tests).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
