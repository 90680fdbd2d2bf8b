# tokmeter_library(<component> SOURCES <file>... [PUBLIC <dep>...] [PRIVATE <dep>...])
#
# One component of tokmeter, one folder: the target tokmeter_<component> and
# its alias tokmeter::<component>; public headers from include/ (installed),
# internal headers by their path from the project root (build tree only);
# the project's warnings; the component's install and export rules.
function(tokmeter_library component)
  cmake_parse_arguments(L "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(t tokmeter_${component})
  add_library(${t} ${L_SOURCES})
  add_library(tokmeter::${component} ALIAS ${t})
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${t} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE})
  target_compile_options(${t} PRIVATE ${TOKMETER_WARNINGS})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${component})
  if(TOKMETER_INSTALL)
    install(TARGETS ${t} EXPORT tokmeterTargets
      ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  endif()
endfunction()
