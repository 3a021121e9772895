# `cmake --install build --prefix P` gives P/bin/xp, P/lib/libxpcore.so and libxpbase.so, P/lib/xp/plugins/*.so,
# P/include/xp/*.h and P/lib/cmake/xp/ so that out-of-tree plugins can find_package(xp).
include(CMakePackageConfigHelpers)
set(XP_BUILD_TREE_ENTRY ${CMAKE_SOURCE_DIR}/core/src/plugin_entry.cpp)
set(XP_BUILD_TREE_MODULE ${CMAKE_SOURCE_DIR}/cmake/XpPlugin.cmake)
install(TARGETS xp RUNTIME DESTINATION bin)
install(TARGETS xp_torch_commands LIBRARY DESTINATION lib/xp)
install(TARGETS xpbase xpcore EXPORT xpTargets LIBRARY DESTINATION lib)
install(DIRECTORY base/include/xp core/include/xp DESTINATION include)
install(FILES core/src/plugin_entry.cpp DESTINATION share/xp)
install(FILES cmake/XpPlugin.cmake DESTINATION lib/cmake/xp)
install(EXPORT xpTargets NAMESPACE xp:: DESTINATION lib/cmake/xp)
configure_package_config_file(cmake/xpConfig.cmake.in ${CMAKE_BINARY_DIR}/xpConfig.cmake
                              INSTALL_DESTINATION lib/cmake/xp)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/xpConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/xpConfig.cmake ${CMAKE_BINARY_DIR}/xpConfigVersion.cmake
        DESTINATION lib/cmake/xp)

# The same package from the build tree: find_package(xp) with xp_DIR=<build> works without
# installing (the tests build their out-of-tree plugin this way).
export(EXPORT xpTargets NAMESPACE xp:: FILE ${CMAKE_BINARY_DIR}/xpTargets.cmake)
