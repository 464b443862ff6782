# SPDX-License-Identifier: MIT
# Warnings, -Werror, sanitizers and Debian's hardening flags, for every target of the project.

# Warnings are errors where this project builds (scripts/build.sh, CI), not by default: a user's
# newer compiler may warn about code that is correct, and that must not fail their build.
option(AOP_WERROR "Treat compiler warnings as errors" OFF)
add_compile_options(-Wall -Wextra)
if(AOP_WERROR)
  add_compile_options(-Werror)
endif()

if(AOP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

if(AOP_FUZZ)
  # Coverage instrumentation for everything, so libFuzzer sees the library's branches.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

# What dpkg-buildflags gives with hardening=+all, applied by the build itself so that a plain
# `cmake -DCMAKE_BUILD_TYPE=Release` and `cpack -G DEB` make hardened packages: the stack
# protector, _FORTIFY_SOURCE=2 (it needs the optimizer: not in Debug), format-string checks,
# a read-only GOT bound at start-up (-z relro -z now) and position-independent executables.
# Not with the sanitizers, which bring their own checks and clash with _FORTIFY_SOURCE.
option(AOP_HARDENING "Build with Debian's hardening flags (not with AOP_SANITIZE or AOP_FUZZ)" ON)
set(AOP_HARDENED OFF)
if(AOP_HARDENING AND NOT AOP_SANITIZE AND NOT AOP_FUZZ)
  set(AOP_HARDENED ON)
  include(CheckPIESupported)
  check_pie_supported(LANGUAGES C)
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  add_compile_options(-fstack-protector-strong -Wformat -Werror=format-security
                      $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
  add_link_options(-Wl,-z,relro -Wl,-z,now)
endif()
