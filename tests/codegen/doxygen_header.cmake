# SPDX-License-Identifier: MIT
# Doxygen over the generated aop/protocol.h with warnings as errors: every public symbol of the
# header is documented and no comment holds a broken Doxygen command.
# Run as: cmake -DDOXYGEN=... -DHEADER=... -DWORK=... -P doxygen_header.cmake
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/Doxyfile
     "INPUT = ${HEADER}\nOUTPUT_DIRECTORY = ${WORK}/out\nGENERATE_LATEX = NO\nGENERATE_HTML = NO\n"
     "GENERATE_XML = YES\nHAVE_DOT = NO\nEXTRACT_STATIC = YES\nWARN_IF_UNDOCUMENTED = YES\n"
     "WARN_IF_DOC_ERROR = YES\nWARN_AS_ERROR = FAIL_ON_WARNINGS\nQUIET = YES\n")
execute_process(COMMAND ${DOXYGEN} ${WORK}/Doxyfile RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "doxygen (warnings as errors) on ${HEADER}:\n${out}${err}")
endif()
