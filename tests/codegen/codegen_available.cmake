# SPDX-License-Identifier: MIT
# cmake -DAOP_CODEGEN_OK=ON|OFF -DPYTHON=<python3> [-DWHAT=<test>] -P codegen_available.cmake
# Fails unless the build regenerates generated/ from schema/ (AOP_CODEGEN_OK ON) and the Python it
# found can still import jinja2 and yaml.
if(NOT AOP_CODEGEN_OK)
  if(WHAT)
    set(_what "${WHAT} cannot run: ")
  endif()
  message(FATAL_ERROR "${_what}AOP_CODEGEN_OK is OFF: Python 3 with jinja2 and yaml was not found "
          "(Python3_EXECUTABLE='${PYTHON}'), so the build used the committed generated/ files as is "
          "and schema/ edits do not take effect. Install python3-jinja2 python3-yaml (or pass "
          "-DPython3_EXECUTABLE=/usr/bin/python3) and reconfigure.")
endif()
execute_process(COMMAND ${PYTHON} -B -c "import jinja2, yaml"
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "AOP_CODEGEN_OK is ON but '${PYTHON}' cannot import jinja2 and yaml now:\n${_out}")
endif()
message(STATUS "codegen available: ${PYTHON} imports jinja2 and yaml")
