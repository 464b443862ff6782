# SPDX-License-Identifier: MIT
# Debian packages: cpack -G DEB makes, from any build configured with -DCMAKE_BUILD_TYPE=Release,
#   libaop1      libaop.so.1 (shlibs, the ldconfig trigger): libaopN for libaop.so.N, N the major version
#   libaop-dev   headers, libaop.so, libaop.a, the CMake package aop::aop and aop.pc
#   aop-tools    aop, aop-sandbox (and aop-notify when built), their man pages; depends on libaop1
#   *-dbgsym     the debug symbols split out of the stripped binaries (.ddeb)
# each with /usr/share/doc/PACKAGE/copyright (debian/copyright) and changelog.gz
# (debian/changelog), ready for lintian with no script around cpack. Run-time dependencies
# come from dpkg-shlibdeps (dpkg-dev).
#
# A journal store built as its own module (the PostgreSQL one of a later issue) is packaged
# apart, so that libaop1 never depends on its client library: the module's CMake installs its
# shared object with COMPONENT journal-STORE and appends STORE to AOP_PACKAGE_JOURNAL_STORES
# before this file is included; it becomes libaop-journal-STORE0.

# Debian's conventions first (DEBFULLNAME and DEBEMAIL, as dch uses them), else the project's.
if(DEFINED ENV{DEBEMAIL} AND DEFINED ENV{DEBFULLNAME})
  set(_aop_maintainer "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
else()
  set(_aop_maintainer "The aop authors <maintainers@users.noreply.h-seed-0a66389b.example>")
endif()
set(AOP_PACKAGE_MAINTAINER "${_aop_maintainer}" CACHE STRING
    "Maintainer field of the Debian packages (default: $DEBFULLNAME <$DEBEMAIL>, else the project's)")

set(CPACK_PACKAGE_NAME aop)
set(CPACK_PACKAGE_VENDOR "The aop authors")
set(CPACK_PACKAGE_CONTACT "${AOP_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${AOP_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's description is its own (the first line its summary): no project-wide summary,
# which cpack would put in front of each.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
if(AOP_TOOL_TARGETS)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# aop links libaop.so.1 of this build, which no installed package provides yet: dpkg-shlibdeps
# finds it here, and aop-tools names libaop1 itself (below).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
# The ELF files are stripped (objcopy --strip-unneeded) into PACKAGE-dbgsym .ddeb files, keyed by
# build id, as Debian ships debug symbols.
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)

# The library's package is named for its SONAME (Debian's policy): libaop.so.1 is libaop1.
set(AOP_LIB_PACKAGE libaop${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${AOP_LIB_PACKAGE})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "Alipay+ international offline payments client library\nThe shared library libaop.so.${PROJECT_VERSION_MAJOR}: a client for Alipay's international offline\n(barcode) payments that carries every payment to a known outcome.")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# The ldconfig trigger, as dh_makeshlibs writes it. CPack also writes a postinst and a postrm
# that run ldconfig for a library in /usr/lib; the post-build script drops them (the trigger
# does their work; lintian: maintscript-calls-ldconfig).
file(WRITE ${PROJECT_BINARY_DIR}/deb/runtime/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/runtime/triggers)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libaop-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "Alipay+ international offline payments client library (development)\nHeaders, libaop.so, libaop.a, the CMake package aop::aop and aop.pc for\nprograms that use libaop.")
# What libaop.a and aop.pc (Requires.private) need at link time.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${AOP_LIB_PACKAGE} (= ${PROJECT_VERSION}), libssl-dev (>= 3), libcurl4-openssl-dev | libcurl-dev")
if(AOP_JOURNAL_SQLITE)
  string(APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", libsqlite3-dev")
endif()

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME aop-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Alipay+ international offline payments: aop, aop-sandbox, aop-notify\nThe command line client (aop), which links libaop1, the local sandbox\ngateway (aop-sandbox) it runs when no gateway is configured, and the\nreceiver of Alipay's payment notifications (aop-notify).")
# The programs of this build need the library of this build.
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${AOP_LIB_PACKAGE} (= ${PROJECT_VERSION})")

set(_aop_packages runtime:${AOP_LIB_PACKAGE} dev:libaop-dev)
if(AOP_TOOL_TARGETS)
  list(APPEND _aop_packages tools:aop-tools)
endif()
foreach(_store IN LISTS AOP_PACKAGE_JOURNAL_STORES)
  string(TOUPPER "JOURNAL-${_store}" _c)
  list(APPEND CPACK_COMPONENTS_ALL journal-${_store})
  list(APPEND _aop_packages journal-${_store}:libaop-journal-${_store}0)
  set(CPACK_DEBIAN_${_c}_PACKAGE_NAME libaop-journal-${_store}0)
  set(CPACK_DEBIAN_${_c}_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_${_c}_PACKAGE_DEPENDS "${AOP_LIB_PACKAGE} (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_${_c}_DESCRIPTION "Alipay+ international offline payments: the ${_store} journal store\nThe payment journal of libaop kept in ${_store}, as a module of its own.")
  # a shared object in the library directory, found by its SONAME: the same trigger as libaop1's
  set(CPACK_DEBIAN_${_c}_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/runtime/triggers)
endforeach()

# Every package's /usr/share/doc/PACKAGE: the machine-readable copyright and the changelog,
# gzip -9n. Only in the packages (EXCLUDE_FROM_ALL: cpack installs each component by name).
find_program(AOP_GZIP gzip)
if(AOP_GZIP AND EXISTS ${PROJECT_SOURCE_DIR}/debian/changelog)
  set(_aop_changelog ${PROJECT_BINARY_DIR}/deb/changelog.gz)
  add_custom_command(OUTPUT ${_aop_changelog}
                     COMMAND sh -c "\"$0\" -9n -c \"$1\" > \"$2\"" ${AOP_GZIP} ${PROJECT_SOURCE_DIR}/debian/changelog
                             ${_aop_changelog}
                     DEPENDS ${PROJECT_SOURCE_DIR}/debian/changelog COMMENT "Compressing debian/changelog" VERBATIM)
  add_custom_target(aop_deb_changelog ALL DEPENDS ${_aop_changelog})
  foreach(_p IN LISTS _aop_packages)
    string(REPLACE ":" ";" _p "${_p}")
    list(GET _p 0 _component)
    list(GET _p 1 _package)
    install(FILES ${PROJECT_SOURCE_DIR}/debian/copyright ${_aop_changelog}
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_package} COMPONENT ${_component} EXCLUDE_FROM_ALL)
  endforeach()
endif()

# At package time (cpack reads this file first): a build with the test hooks is refused, so is a
# changelog whose latest entry is not this version.
if(AOP_TEST_HOOKS)
  set(AOP_PACKAGE_TEST_HOOKS 1)
else()
  set(AOP_PACKAGE_TEST_HOOKS 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/package-check.cmake.in ${PROJECT_BINARY_DIR}/aop-package-check.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/aop-package-check.cmake)
# libaop.a stripped as dh_strip strips a static library; the library package's ldconfig scripts dropped.
configure_file(${PROJECT_SOURCE_DIR}/cmake/deb-pre-build.cmake.in ${PROJECT_BINARY_DIR}/aop-deb-pre-build.cmake @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/deb-post-build.cmake.in ${PROJECT_BINARY_DIR}/aop-deb-post-build.cmake @ONLY)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_BINARY_DIR}/aop-deb-pre-build.cmake)
set(CPACK_POST_BUILD_SCRIPTS ${PROJECT_BINARY_DIR}/aop-deb-post-build.cmake)
include(CPack)
