# `cmake --install build --prefix P`: the cryptogen program, one static
# library holding every layer's public objects (libcryptogen.a), the public
# headers under P/include/cryptogen/, the default model under
# P/share/cryptogen/models/default (where the program looks first), a
# pkg-config file and a CMake package (find_package(cryptogen) ->
# cryptogen::cryptogen). Both are relocatable: paths are relative to the
# files themselves, so a prefix can be moved or unpacked anywhere.
include(GNUInstallDirs)

get_property(cg_objects GLOBAL PROPERTY CG_PUBLIC_OBJECTS)
get_property(cg_layers GLOBAL PROPERTY CG_PUBLIC_LAYERS)
set(cg_lib ${PROJECT_BINARY_DIR}/libcryptogen.a)
add_custom_command(OUTPUT ${cg_lib}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${cg_lib}
  COMMAND ${CMAKE_AR} qc ${cg_lib} ${cg_objects}
  COMMAND ${CMAKE_RANLIB} ${cg_lib}
  DEPENDS ${cg_layers} ${cg_objects}
  COMMENT "Archiving libcryptogen.a from every layer's public objects")
add_custom_target(cryptogen_archive ALL DEPENDS ${cg_lib})

# Dependencies a static link needs, for pkg-config's Requires.private and
# the CMake package (kept in step by hand: one line each).
set(CG_PC_REQUIRES_PRIVATE "libsodium libssl libcrypto")
set(CG_PC_LIBS_PRIVATE "-lpthread -lm")

install(TARGETS cryptogen RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${cg_lib} DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cryptogen DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/default
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cryptogen/models)

configure_file(${PROJECT_SOURCE_DIR}/cmake/cryptogen.pc.in ${PROJECT_BINARY_DIR}/cryptogen.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cryptogen.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cryptogenConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cryptogenConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cryptogen)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cryptogenConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cryptogenConfig.cmake ${PROJECT_BINARY_DIR}/cryptogenConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cryptogen)
