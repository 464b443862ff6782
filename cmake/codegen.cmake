# SPDX-License-Identifier: MIT
# Regenerates generated/ from schema/ when any YAML, template or generator file changes
# (a stamp file records the last run, so an unchanged build never reruns the generator).
# AOP_CODEGEN (default: with the tests) looks Python up; without it the committed generated/ is used
# and configuring needs no Python.
option(AOP_CODEGEN "Regenerate generated/ from schema/ (Python 3 with jinja2 and yaml)" ${AOP_TESTS})
if(AOP_CODEGEN OR AOP_TESTS)
  find_package(Python3 COMPONENTS Interpreter)
endif()
set(AOP_CODEGEN_OK OFF)
if(AOP_CODEGEN AND Python3_Interpreter_FOUND)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import jinja2, yaml"
                  RESULT_VARIABLE _aop_py_rc OUTPUT_QUIET ERROR_QUIET)
  if(_aop_py_rc EQUAL 0)
    set(AOP_CODEGEN_OK ON)
  endif()
endif()

file(GLOB AOP_SCHEMA_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/schema/*.yaml)
file(GLOB AOP_CODEGEN_FILES CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/codegen/aopgen/*.py ${PROJECT_SOURCE_DIR}/codegen/aopgen/templates/*.j2)
set(AOP_CODEGEN_STAMP ${CMAKE_BINARY_DIR}/codegen.stamp)

if(AOP_CODEGEN_OK)
  add_custom_command(
    OUTPUT ${AOP_CODEGEN_STAMP}
    COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=${PROJECT_SOURCE_DIR}/codegen
            ${Python3_EXECUTABLE} -m aopgen --schema ${PROJECT_SOURCE_DIR}/schema --out ${PROJECT_SOURCE_DIR}/generated
    COMMAND ${CMAKE_COMMAND} -E touch ${AOP_CODEGEN_STAMP}
    DEPENDS ${AOP_SCHEMA_FILES} ${AOP_CODEGEN_FILES}
    COMMENT "Generating the protocol model from schema/"
    VERBATIM)
  add_custom_target(codegen ALL DEPENDS ${AOP_CODEGEN_STAMP})
elseif(NOT AOP_CODEGEN)
  # A release or the library alone builds from the committed generated/ (Python is not needed).
  message(STATUS "aop: using the committed generated/ (AOP_CODEGEN=OFF)")
  add_custom_target(codegen)
else()
  message(WARNING
    "\n*** aop: Python 3 with jinja2 and yaml was not found (${Python3_EXECUTABLE}).\n"
    "*** The committed generated/ files are used AS IS: edits to schema/ will NOT take effect.\n"
    "*** Install python3-jinja2 python3-yaml to regenerate. The test suite fails in this state.\n")
  add_custom_target(codegen)
endif()
