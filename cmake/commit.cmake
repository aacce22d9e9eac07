# Run at every build (CMakeLists.txt's longca_commit target): writes OUTPUT, the commit the sources
# at SOURCE come from ("-dirty" when tracked files differ from it, "unknown" outside git), and
# leaves the file untouched when that has not changed, so only what includes it rebuilds.
execute_process(COMMAND git -C "${SOURCE}" describe --always --abbrev=12 --dirty --exclude=*
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
set(text "#define LONGCA_COMMIT \"${commit}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
