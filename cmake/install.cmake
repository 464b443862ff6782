# SPDX-License-Identifier: MIT
# cmake --install: headers (include/aop/ only: runtime/internal is never installed), libaop.so.1
# and libaop.a, the CMake package (aop::aop), aop.pc, the programs and their man pages.
# Components: runtime (libaop1), dev (libaop-dev), tools (aop-tools).
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

# aop.pc is relocatable (prefix from ${pcfiledir}), so a package extracted anywhere works as it
# is (pkg-config's --define-prefix would guess wrong: it takes the .pc file to be in
# PREFIX/lib/pkgconfig, not in the multiarch PREFIX/lib/x86_64-linux-gnu/pkgconfig).
file(RELATIVE_PATH AOP_PC_PREFIX_REL /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" AOP_PC_PREFIX_REL "${AOP_PC_PREFIX_REL}")
set(AOP_PC_REQUIRES_PRIVATE "libcurl, libcrypto")
if(AOP_JOURNAL_SQLITE)
  string(APPEND AOP_PC_REQUIRES_PRIVATE ", sqlite3")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/aop.pc.in ${PROJECT_BINARY_DIR}/aop.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/aop.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The programs of aop-tools: every one the build has (aop-notify joins them when it exists), each
# with its man page when docs/man has one, compressed as Debian installs man pages (gzip -9n: no
# name or time stamp in the file, so the bytes are the same in every build).
set(AOP_TOOL_TARGETS)
foreach(_t IN ITEMS aop-cli aop-sandbox aop-notify)
  if(TARGET ${_t})
    list(APPEND AOP_TOOL_TARGETS ${_t})
  endif()
endforeach()
if(AOP_TOOL_TARGETS)
  install(TARGETS ${AOP_TOOL_TARGETS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  find_program(AOP_GZIP gzip)
  set(_aop_man_pages)
  foreach(_t IN LISTS AOP_TOOL_TARGETS)
    get_target_property(_page ${_t} OUTPUT_NAME)
    if(NOT _page)
      set(_page ${_t})
    endif()
    set(_src ${PROJECT_SOURCE_DIR}/docs/man/${_page}.1)
    if(NOT EXISTS ${_src})
      continue()
    endif()
    if(AOP_GZIP)
      set(_gz ${PROJECT_BINARY_DIR}/man/${_page}.1.gz)
      add_custom_command(OUTPUT ${_gz}
                         COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
                         COMMAND sh -c "\"$0\" -9n -c \"$1\" > \"$2\"" ${AOP_GZIP} ${_src} ${_gz}
                         DEPENDS ${_src} COMMENT "Compressing the man page ${_page}(1)" VERBATIM)
      list(APPEND _aop_man_pages ${_gz})
    else()
      list(APPEND _aop_man_pages ${_src})
    endif()
  endforeach()
  if(_aop_man_pages)
    add_custom_target(aop_man_pages ALL DEPENDS ${_aop_man_pages})
    install(FILES ${_aop_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
  endif()
endif()
