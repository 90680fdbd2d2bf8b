# Run by ctest (tests/install/CMakeLists.txt): installs the build tree into a
# fresh prefix, then, with nothing but -DCMAKE_PREFIX_PATH=<prefix>,
# configures and builds one consumer per component
# (tests/install/consumers/) and runs each; runs the installed command; and
# builds the capture example and the monitor consumer again through
# pkg-config.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
  set(out "${out}" PARENT_SCOPE)
endfunction()
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component Unspecified)

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumers -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j 2)
set(bin ${WORK_DIR}/build)

# tokmeter::tokmeter (examples/consumer): one span into JSONL.
run(${bin}/tokmeter/consumer ${WORK_DIR}/usage.jsonl)
file(READ ${WORK_DIR}/usage.jsonl content)
string(FIND "${content}" "\"name\":\"installed\"" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "consumer wrote no span: ${content}")
endif()
run(${bin}/monitor/monitor_consumer)
run(${bin}/usage/usage_consumer)
run(${bin}/proto/proto_consumer ${WORK_DIR}/proto.jsonl ${WORK_DIR}/proto.pb)
run(${bin}/otlp/otlp_consumer)
run(${bin}/analysis/analysis_consumer ${WORK_DIR}/token-usage.jsonl)
run(${bin}/cli/cli_consumer)

# The installed command says its version.
run(${prefix}/bin/tokmeter --version)
if(NOT out MATCHES "^tokmeter [0-9]+\\.[0-9]+\\.[0-9]+\n$")
  message(FATAL_ERROR "tokmeter --version printed \"${out}\"")
endif()

# pkg-config: the capture example with the flags tokmeter.pc gives.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs tokmeter
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs tokmeter failed")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++20 -O1 ${SOURCE_DIR}/examples/consumer/main.cc ${flags}
      -o ${WORK_DIR}/pkg_config_consumer)
  run(${WORK_DIR}/pkg_config_consumer ${WORK_DIR}/pkg_config.jsonl)
  # The monitor is part of tokmeter.pc too.
  run(${CXX} -std=c++20 -O1 ${SOURCE_DIR}/tests/install/consumers/monitor/main.cc ${flags}
      -o ${WORK_DIR}/pkg_config_monitor_consumer)
  run(${WORK_DIR}/pkg_config_monitor_consumer)
endif()
message(STATUS "every component's consumer built against the installed package and ran")
