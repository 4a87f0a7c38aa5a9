# Install the build to a fresh prefix, build tests/integration/consumer against it with
# find_package(welld), build consumer.c with pkg-config, and run both. The
# seed-style program in tests/integration/consumer/seed is built both ways too (the
# welld::daemonize target; `cc *.c $(pkg-config --cflags --libs
# welld-daemonize)`) and run: it daemonizes, says hello once and exits.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND_PATH} --install ${BINARY_DIR} --prefix ${prefix})
# A sanitized library needs its runtime in the consumer's link too.
set(sanitize_flags "")
if(SANITIZE)
  set(sanitize_flags "-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND_PATH} -S ${SOURCE_DIR}/tests/integration/consumer -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} "-DCMAKE_EXE_LINKER_FLAGS=${sanitize_flags}")
run(${CMAKE_COMMAND_PATH} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
file(GLOB_RECURSE pc_file ${prefix}/*/welld.pc)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND pkg-config --cflags --libs welld OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know welld (looked in ${pc_dir})")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(cc ${SOURCE_DIR}/tests/integration/consumer/consumer.c -o ${WORK_DIR}/consumer_c ${flags} ${sanitize_flags})
run(${WORK_DIR}/consumer_c)
# The seed's daemonize(): returns STATUS_INIT_SUCCESS (0) once its daemon is initialized.
function(run_seed program)
  execute_process(COMMAND ${program} ${WORK_DIR}/seed.pid RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "daemon initialized\n")
    message(FATAL_ERROR "${program} ${WORK_DIR}/seed.pid: exit ${rc}: ${err}")
  endif()
endfunction()
run_seed(${WORK_DIR}/build/consumer_seed)
execute_process(COMMAND pkg-config --cflags --libs welld-daemonize OUTPUT_VARIABLE seed_flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know welld-daemonize (looked in ${pc_dir})")
endif()
separate_arguments(seed_flags UNIX_COMMAND "${seed_flags}")
file(GLOB seed_sources ${SOURCE_DIR}/tests/integration/consumer/seed/*.c)
run(cc ${seed_sources} -o ${WORK_DIR}/consumer_seed_c ${seed_flags} ${sanitize_flags})
run_seed(${WORK_DIR}/consumer_seed_c)
message(STATUS "installed package works: find_package and pkg-config, welld and welld-daemonize")
