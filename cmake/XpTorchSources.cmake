# xp_compile_torch_sources(<target>)
#
# How the sources of <target> that include torch (directly or through xp's own headers) are
# compiled, measured on a 2-core machine (docs/performance.md "Build time"):
# - with the precompiled torch + OpenCV header of target xp_pch (XP_USE_PCH): a file that includes
#   torch parses it in 15-20 s of CPU less; a file that does not would pay ~6-8 s to load it for
#   nothing, so those skip it;
# - in unity batches (XP_UNITY_BUILD): loading the header still costs ~6 s per object and every
#   object instantiates the same torch templates again, so the torch files of a target are compiled
#   UNITY_BUILD_BATCH_SIZE at a time (default 8, a target may set its own); the torch-free files
#   stay one object each. A one-file edit then recompiles its batch: configure with
#   -DXP_UNITY_BUILD=OFF for the shortest edit-compile loop.
# The scan follows #include lines through the file's folder and xp's include folders; a header it
# cannot find is a system header and counts as torch only when it is one (torch/, ATen/, c10/).
# A misclassified file still compiles correctly, only slower.

set(XP_TORCH_SCAN_ROOTS ${CMAKE_SOURCE_DIR}/core/src ${CMAKE_SOURCE_DIR}/core/include
    ${CMAKE_SOURCE_DIR}/base/include ${CMAKE_SOURCE_DIR}/app CACHE INTERNAL "")

# Sets <out> to TRUE when <file> includes torch. Results are kept per file for the whole configure.
function(_xp_includes_torch file out)
  get_property(seen GLOBAL PROPERTY "XP_TORCH_SCAN:${file}" SET)
  if(seen)
    get_property(result GLOBAL PROPERTY "XP_TORCH_SCAN:${file}")
    set(${out} ${result} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "XP_TORCH_SCAN:${file}" FALSE)  # an include cycle ends here
  get_filename_component(dir "${file}" DIRECTORY)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  set(result FALSE)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "include[ \t]*[<\"]([^>\"]+)[>\"]")
      continue()
    endif()
    set(name ${CMAKE_MATCH_1})
    if(name MATCHES "^(torch|ATen|c10)/")
      set(result TRUE)
      break()
    endif()
    foreach(root IN ITEMS ${dir} ${XP_TORCH_SCAN_ROOTS})
      if(EXISTS "${root}/${name}" AND NOT IS_DIRECTORY "${root}/${name}")
        _xp_includes_torch("${root}/${name}" sub)
        if(sub)
          set(result TRUE)
        endif()
        break()
      endif()
    endforeach()
    if(result)
      break()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "XP_TORCH_SCAN:${file}" ${result})
  set(${out} ${result} PARENT_SCOPE)
endfunction()

function(xp_compile_torch_sources target)
  set(pch ${XP_USE_PCH})
  if(NOT TARGET xp_pch)
    set(pch OFF)
  endif()
  if(NOT pch AND NOT XP_UNITY_BUILD)
    return()
  endif()
  if(pch)
    target_precompile_headers(${target} REUSE_FROM xp_pch)
  endif()
  if(XP_UNITY_BUILD)
    set_property(TARGET ${target} PROPERTY UNITY_BUILD ON)
  endif()
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  set(with 0)
  set(without "")
  foreach(src IN LISTS sources)
    if(NOT src MATCHES "\\.(cpp|cc|cxx)$")
      continue()
    endif()
    if(IS_ABSOLUTE "${src}")
      set(path "${src}")
    else()
      set(path "${source_dir}/${src}")
    endif()
    _xp_includes_torch("${path}" uses_torch)
    if(uses_torch)
      math(EXPR with "${with} + 1")
    else()
      set_source_files_properties(${src} TARGET_DIRECTORY ${target} PROPERTIES
                                  SKIP_PRECOMPILE_HEADERS ON SKIP_UNITY_BUILD_INCLUSION ON)
      get_filename_component(name "${src}" NAME)
      list(APPEND without ${name})
    endif()
  endforeach()
  list(JOIN without " " without)
  message(VERBOSE "xp: ${target}: ${with} torch file(s) (precompiled header: ${pch}, unity batches: "
                  "${XP_UNITY_BUILD}); one object each, without the header: ${without}")
endfunction()
