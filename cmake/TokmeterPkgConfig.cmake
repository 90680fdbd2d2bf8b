# pkg-config files for programs built without CMake:
#   c++ -std=c++20 app.cc $(pkg-config --cflags --libs tokmeter)
# tokmeter.pc is the capture library (core + sinks + monitor, with the rules
# and pricing the monitor runs); tokmeter-<component>.pc the other components
# (usage, proto, otlp, analysis), each requiring what it links. The libraries
# are static, so every dependency is on the Libs line.

# tokmeter_pkg_config(<name> <description> REQUIRES <pc>... LIBS <flag>...)
function(tokmeter_pkg_config name description)
  cmake_parse_arguments(P "" "" "REQUIRES;LIBS;CFLAGS" ${ARGN})
  list(JOIN P_REQUIRES " " requires)
  list(JOIN P_LIBS " " libs)
  list(JOIN P_CFLAGS " " cflags)
  # The prefix relative to the .pc file, so an installed tree can move
  # (`cmake --install --prefix` elsewhere than CMAKE_INSTALL_PREFIX).
  file(RELATIVE_PATH up /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  string(REGEX REPLACE "/$" "" up "${up}")
  set(text "prefix=\${pcfiledir}/${up}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}

Name: ${name}
Description: ${description}
Version: ${PROJECT_VERSION}
Requires: ${requires}
Cflags: -I\${includedir} ${cflags}
Libs: -L\${libdir} ${libs}
")
  file(WRITE ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc "${text}")
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

set(_tokmeter_cflags "")
if(NOT TOKMETER_ENABLED)
  set(_tokmeter_cflags -DTOKMETER_ENABLED=0)
endif()
set(_tokmeter_absl absl_status absl_statusor absl_strings absl_str_format absl_time
    absl_flat_hash_map absl_flat_hash_set absl_btree absl_hash absl_function_ref)
tokmeter_pkg_config(tokmeter
  "tokmeter capture library: spans, traces, the flusher, JSONL sinks, the live monitor"
  REQUIRES ${_tokmeter_absl} libxxhash
  LIBS -ltokmeter_monitor -ltokmeter_sinks -ltokmeter_core -ltokmeter_rules -ltokmeter_pricing
       -ltokmeter_model -lboost_json -pthread
  CFLAGS ${_tokmeter_cflags})
tokmeter_pkg_config(tokmeter-usage "tokmeter: usage from provider response bodies and SSE streams"
  REQUIRES tokmeter LIBS -ltokmeter_usage -lboost_json)
if(TARGET tokmeter_proto)
  tokmeter_pkg_config(tokmeter-proto "tokmeter: the protobuf file sink"
    REQUIRES tokmeter LIBS -ltokmeter_proto -lboost_json)
endif()
if(TARGET tokmeter_otlp)
  tokmeter_pkg_config(tokmeter-otlp "tokmeter: OTLP/HTTP span and metrics exporters, webhook sink"
    REQUIRES tokmeter zlib openssl LIBS -ltokmeter_otlp -lboost_json)
endif()
if(TARGET tokmeter_analysis)
  tokmeter_pkg_config(tokmeter-analysis "tokmeter: usage log readers, aggregation, detect, quota"
    REQUIRES ${_tokmeter_absl} libxxhash zlib libzstd simdjson
    LIBS -ltokmeter_analysis -ltokmeter_rules -ltokmeter_pricing -ltokmeter_model -lboost_json
         -pthread)
endif()
