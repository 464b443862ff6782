# SPDX-License-Identifier: MIT
# A fifth function needs no hand-written edit: copies the tracked sources (git ls-files of the
# folders the library and apps need) into WORK, adds fifth_function/demo_query.yaml to the
# copy's schema/, configures and builds it (the build regenerates generated/), then compiles
# fifth_function/probe.c against the built library and runs it, and runs the built apps.
# Run as: cmake -DSRC=... -DWORK=... -DPYTHON=... -DCC=... -DINCLUDES="..." -P fifth_function.cmake
string(TIMESTAMP t0 "%s")
set(here ${CMAKE_CURRENT_LIST_DIR}/fifth_function)
set(copy ${WORK}/src)
set(build ${WORK}/build)
file(REMOVE_RECURSE ${copy})
execute_process(COMMAND git -C ${SRC} ls-files -- CMakeLists.txt cmake codegen schema generated runtime apps examples
                OUTPUT_VARIABLE files RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR files STREQUAL "")
  message(FATAL_ERROR "git ls-files failed in ${SRC}")
endif()
string(REPLACE "\n" ";" files "${files}")
foreach(f IN LISTS files)
  if(f AND EXISTS ${SRC}/${f})
    get_filename_component(dir ${copy}/${f} DIRECTORY)
    file(MAKE_DIRECTORY ${dir})
    file(COPY_FILE ${SRC}/${f} ${copy}/${f})
  endif()
endforeach()
file(COPY_FILE ${here}/demo_query.yaml ${copy}/schema/demo_query.yaml)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

run("configure" ${CMAKE_COMMAND} -S ${copy} -B ${build} -DAOP_TESTS=OFF -DAOP_BENCH=OFF -DAOP_CODEGEN=ON
    -DCMAKE_BUILD_TYPE=Release -DAOP_WERROR=ON -DPython3_EXECUTABLE=${PYTHON})
run("build" ${CMAKE_COMMAND} --build ${build} -j2)
file(READ ${copy}/generated/include/aop/protocol.h header)
if(NOT header MATCHES "aop_fn_offline_demo_query")
  message(FATAL_ERROR "the copy's generated header does not declare the fifth function")
endif()

set(incs)
foreach(d IN LISTS INCLUDES)
  list(APPEND incs -I${d})
endforeach()
run("compiling the probe" ${CC} -std=c11 -Wall -Wextra -Werror -I${copy}/runtime/include
    -I${copy}/generated/include -I${copy}/generated/tests ${incs} ${here}/probe.c ${build}/libaop.a
    -lcurl -lcrypto -o ${WORK}/probe)
run("the probe" ${WORK}/probe)
message(STATUS "probe: ${last_out}")
run("aop-sandbox --help" ${build}/bin/aop-sandbox --help)
run("aop --help" ${build}/bin/aop --help)
string(TIMESTAMP t1 "%s")
math(EXPR secs "${t1} - ${t0}")
message(STATUS "fifth function: copied, regenerated, built and probed in ${secs} s")
