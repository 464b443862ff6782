# cmake --install: headers (include/aop/ only: runtime/internal is never installed), libaop.so.0
# and libaop.a, the CMake package (aop::aop), aop.pc, the programs and their man pages.
# Components: runtime (libaop0), dev (libaop-dev), tools (aop-tools).
include(CMakePackageConfigHelpers)
set(AOP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/aop)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/aop ${PROJECT_SOURCE_DIR}/generated/include/aop
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(TARGETS aop_shared EXPORT aopTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS aop EXPORT aopTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT aopTargets NAMESPACE aop:: DESTINATION ${AOP_CMAKE_DIR} COMPONENT dev)
set(AOP_CONFIG_FIND_SQLITE "")
if(AOP_JOURNAL_SQLITE)
  set(AOP_CONFIG_FIND_SQLITE "find_dependency(SQLite3)")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/aopConfig.cmake.in ${PROJECT_BINARY_DIR}/aopConfig.cmake @ONLY)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/aopConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/aopConfig.cmake ${PROJECT_BINARY_DIR}/aopConfigVersion.cmake
        DESTINATION ${AOP_CMAKE_DIR} COMPONENT dev)

# aop.pc is relocatable (prefix from ${pcfiledir}), so a package extracted anywhere works with
# pkg-config --define-prefix or as is.
file(RELATIVE_PATH AOP_PC_PREFIX_REL /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" AOP_PC_PREFIX_REL "${AOP_PC_PREFIX_REL}")
set(AOP_PC_REQUIRES_PRIVATE "libcurl, libcrypto")
if(AOP_JOURNAL_SQLITE)
  string(APPEND AOP_PC_REQUIRES_PRIVATE ", sqlite3")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/aop.pc.in ${PROJECT_BINARY_DIR}/aop.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/aop.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(TARGET aop-cli AND TARGET aop-sandbox)
  install(TARGETS aop-cli aop-sandbox RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  # The man pages are source files (docs/man/); installed when present.
  foreach(_page IN ITEMS aop.1 aop-sandbox.1)
    if(EXISTS ${PROJECT_SOURCE_DIR}/docs/man/${_page})
      install(FILES ${PROJECT_SOURCE_DIR}/docs/man/${_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
              COMPONENT tools)
    endif()
  endforeach()
endif()
