# Debian packages: cpack -G DEB makes libaop0 (libaop.so.0), libaop-dev (headers, libaop.so,
# libaop.a, CMake package, aop.pc) and aop-tools (aop, aop-sandbox, man pages). The run-time
# dependencies come from dpkg-shlibdeps (dpkg-dev).
set(CPACK_PACKAGE_NAME aop)
set(CPACK_PACKAGE_VENDOR "aop")
set(CPACK_PACKAGE_CONTACT "aop maintainers <aop@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Alipay+ international offline payments client")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
if(TARGET aop-cli AND TARGET aop-sandbox)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libaop0)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "Alipay+ international offline payments client library\n The shared library libaop.so.0.")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON) # shlibs (libaop0) and the ldconfig trigger
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libaop-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "Alipay+ international offline payments client library (development)\n Headers, libaop.so, libaop.a, the CMake package aop::aop and aop.pc.")
# What libaop.a and aop.pc (Requires.private) need at link time.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libaop0 (= ${PROJECT_VERSION}), libssl-dev (>= 3), libcurl4-openssl-dev | libcurl-dev")
if(AOP_JOURNAL_SQLITE)
  string(APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", libsqlite3-dev")
endif()
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME aop-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Alipay+ international offline payments: aop and aop-sandbox\n The command line client and the local sandbox gateway.")
# A build with the resolver's crash hooks is never packaged: the check runs at package time
# (cpack reads this file first), so the test builds still configure.
if(AOP_TEST_HOOKS)
  set(AOP_PACKAGE_TEST_HOOKS 1)
else()
  set(AOP_PACKAGE_TEST_HOOKS 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/package-check.cmake.in ${PROJECT_BINARY_DIR}/aop-package-check.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/aop-package-check.cmake)
include(CPack)
