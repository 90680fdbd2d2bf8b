# tokmeter_library(<component> SOURCES <file>... [PUBLIC <dep>...] [PRIVATE <dep>...])
#
# One component of tokmeter, one folder: the target tokmeter_<component> and
# its alias tokmeter::<component>; public headers from include/ (installed),
# internal headers by their path from the project root (build tree only);
# the project's warnings; the component's install and export rules (its own
# export file, tokmeter_<component>Targets.cmake, loaded by the package
# config when the component is asked for: cmake/tokmeterConfig.cmake.in).
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
  # The other components it links, for the package config.
  set(needs "")
  foreach(dep ${L_PUBLIC} ${L_PRIVATE})
    if(dep MATCHES "^tokmeter(::|_)(.+)$")
      list(APPEND needs ${CMAKE_MATCH_2})
    endif()
  endforeach()
  tokmeter_install_component(${component} ${t} NEEDS ${needs})
endfunction()

# tokmeter_install_component(<component> <target> [NEEDS <component>...]):
# installs <target> as tokmeter::<component> in its own export file and
# lists the component, with the components it links, in the package config.
function(tokmeter_install_component component target)
  cmake_parse_arguments(I "" "" "NEEDS" ${ARGN})
  if(NOT TOKMETER_INSTALL)
    return()
  endif()
  set_property(GLOBAL PROPERTY TOKMETER_NEEDS_${component} "${I_NEEDS}")
  install(TARGETS ${target} EXPORT tokmeter_${component}Targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT tokmeter_${component}Targets NAMESPACE tokmeter::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tokmeter)
  set_property(GLOBAL APPEND PROPERTY TOKMETER_INSTALLED_COMPONENTS ${component})
endfunction()

# tokmeter_public_headers(<component> <header>...): the headers of
# src/<component>/ that are part of the installed API, published as
# tokmeter/<component>/<header>. The copies are generated at configure time
# into <build>/include/tokmeter/<component>/ with their includes of
# "src/<c>/…" rewritten to "tokmeter/<c>/…", so in-tree code and installed
# consumers include the same path; src/ stays the one source. A header may
# include another component's header only if that one is published too
# (earlier: components are added in dependency order); an include of an
# unpublished internal header is refused.
function(tokmeter_public_headers component)
  foreach(h ${ARGN})
    set_property(GLOBAL APPEND PROPERTY TOKMETER_PUBLISHED_HEADERS ${component}/${h})
  endforeach()
  get_property(published GLOBAL PROPERTY TOKMETER_PUBLISHED_HEADERS)
  foreach(h ${ARGN})
    set(src ${PROJECT_SOURCE_DIR}/src/${component}/${h})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
    file(READ ${src} text)
    string(REGEX MATCHALL "#include \"src/[^\"]+\"" includes "${text}")
    foreach(inc ${includes})
      string(REGEX REPLACE "^#include \"src/([^\"]+)\"$" "\\1" path "${inc}")
      if(NOT path IN_LIST published)
        message(FATAL_ERROR "src/${component}/${h} is a public header (tokmeter_public_headers) "
                            "but includes the internal header src/${path}: publish that one "
                            "too (its component's tokmeter_public_headers) or drop the include")
      endif()
    endforeach()
    string(REPLACE "#include \"src/" "#include \"tokmeter/" text "${text}")
    set(text "// Generated from src/${component}/${h} by CMake (tokmeter_public_headers); edit that file.\n${text}")
    set(out ${PROJECT_BINARY_DIR}/include/tokmeter/${component}/${h})
    if(EXISTS ${out})
      file(READ ${out} old)
    else()
      set(old "")
    endif()
    if(NOT old STREQUAL text)
      file(WRITE ${out} "${text}")
    endif()
  endforeach()
endfunction()
