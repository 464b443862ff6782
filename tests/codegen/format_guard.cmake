# SPDX-License-Identifier: MIT
# The generated aop/protocol.h compiles as C99 and C++17 (pedantic, warnings as errors), and
# refuses to compile (#error asking to regenerate) when aop/model.h expects another descriptor
# format (AOP_MODEL_FORMAT_VERSION != AOP_PROTOCOL_FORMAT_VERSION).
# Run as: cmake -DCC=... -DCXX=... -DINCLUDES="a;b" -DWORK=dir -P format_guard.cmake
set(flags -fsyntax-only -Wall -Wextra -Werror -pedantic)
set(incs)
foreach(d IN LISTS INCLUDES)
  list(APPEND incs -I${d})
endforeach()
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/ok.c "#include \"aop/protocol.h\"\n"
     "_Static_assert(AOP_PROTOCOL_FORMAT_VERSION == AOP_MODEL_FORMAT_VERSION, \"same format\");\n"
     "int main(void) { return AOP_FUNCTION_COUNT > 0 ? 0 : 1; }\n")
file(WRITE ${WORK}/ok.cpp "#include \"aop/protocol.h\"\n"
     "static_assert(AOP_PROTOCOL_FORMAT_VERSION == AOP_MODEL_FORMAT_VERSION, \"same format\");\n"
     "int main() { return AOP_FUNCTION_COUNT > 0 ? 0 : 1; }\n")
file(WRITE ${WORK}/bad.c "#include \"aop/model.h\"\n#undef AOP_MODEL_FORMAT_VERSION\n"
     "#define AOP_MODEL_FORMAT_VERSION (-1)\n#include \"aop/protocol.h\"\nint main(void) { return 0; }\n")

execute_process(COMMAND ${CC} -std=c99 ${flags} ${incs} ${WORK}/ok.c RESULT_VARIABLE rc ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aop/protocol.h does not compile as C99:\n${out}")
endif()
if(CXX)
  execute_process(COMMAND ${CXX} -std=c++17 ${flags} ${incs} ${WORK}/ok.cpp RESULT_VARIABLE rc ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "aop/protocol.h does not compile as C++17:\n${out}")
  endif()
endif()
execute_process(COMMAND ${CC} -std=c11 ${flags} ${incs} ${WORK}/bad.c RESULT_VARIABLE rc ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "aop/protocol.h compiled against another AOP_MODEL_FORMAT_VERSION: the guard did not fire")
endif()
if(NOT out MATCHES "#error" OR NOT out MATCHES "regenerate it")
  message(FATAL_ERROR "the format mismatch failed without the guard's message:\n${out}")
endif()
message(STATUS "format guard: C99 and C++17 compile; a mismatch stops with: regenerate it")
