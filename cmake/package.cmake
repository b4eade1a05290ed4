# Release packaging (issue 11; scripts/package.sh drives it).
#
# CB_PORTABLE=ON builds the `cannonball` of the release bundle: zlib and zstd linked from
# Debian's static archives (AsmJit's Debian package is static already), and the libraries
# Debian ships only as shared objects (TBB, mimalloc, ISA-L, and with TBB the C++ runtime it needs)
# loaded from the bundle's lib/ through an RPATH of $ORIGIN/../lib. It is a DT_RPATH, not a
# DT_RUNPATH (--disable-new-dtags), because only DT_RPATH also applies to the dependencies of
# those libraries (libtbb's libstdc++). libstdc++ stays shared on purpose: libtbb links it
# dynamically, and one C++ runtime per process (exceptions cross TBB's frames) is safer than
# a static copy in the binary plus TBB's shared one. scripts/package.sh then copies every
# non-glibc library `ldd` names into lib/, whatever they are, so a new dependency is bundled
# without editing anything here.
#
# install() + CPack give the .deb: the same binary in /usr/bin, no bundled libraries, Depends
# computed by dpkg-shlibdeps from what it links (libc6, libstdc++6, libgcc-s1, libtbb12,
# libmimalloc2.0, libisal2 on Debian 12; the same package names exist on Ubuntu 24.04).
if(CB_PORTABLE)
  # The imported targets are repointed (rather than found differently) so that turning the
  # option on in an existing build tree, whose cache already holds the shared libraries, works.
  find_library(CB_ZSTD_STATIC NAMES libzstd.a REQUIRED)
  set_property(TARGET PkgConfig::ZSTD PROPERTY INTERFACE_LINK_LIBRARIES "${CB_ZSTD_STATIC}")
  find_library(CB_ZLIB_STATIC NAMES libz.a REQUIRED)
  foreach(prop IMPORTED_LOCATION IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_DEBUG)
    set_property(TARGET ZLIB::ZLIB PROPERTY ${prop} "${CB_ZLIB_STATIC}")
  endforeach()
  set_target_properties(cannonball PROPERTIES INSTALL_RPATH "\$ORIGIN/../lib")
  target_link_options(cannonball PRIVATE -Wl,--disable-new-dtags)
endif()

include(GNUInstallDirs)
install(TARGETS cannonball RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cannonball)
set(CPACK_PACKAGE_VENDOR "cannonball")
set(CPACK_PACKAGE_CONTACT "cannonball maintainers <cannonball@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Drop-in executor for the 64-bit multithreaded Cannon fault-proof VM (multithreaded64-5)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_STRIP_FILES ON)
include(CPack)
