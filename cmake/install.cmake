# `cmake --install` rules and the .deb (CPack), issue 13. What is installed is
# the CLI (which is also the verifier service), its systemd unit, an example
# configuration and the docs; docs/operations.md "Install".
include(GNUInstallDirs)
install(TARGETS redoubt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The measured-launch images the CLI's launch/run commands load (next to the binary in a build tree).
install(FILES ${PROJECT_BINARY_DIR}/sl.bin ${PROJECT_BINARY_DIR}/sl2.bin ${PROJECT_BINARY_DIR}/hv.bin DESTINATION lib/redoubt)  # tools/common.cpp build_dir() looks there
# PREFIX/lib/systemd/system: /usr/lib/systemd/system in the .deb (the same as /lib/systemd/system with Debian 12's merged /usr).
install(FILES packaging/systemd/redoubt-verifier.service DESTINATION lib/systemd/system)
install(FILES packaging/verifier.toml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES README.md docs/operations.md docs/verifier-auth.md docs/api.md docs/attestation.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/schemas DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME redoubt)
set(CPACK_PACKAGE_VENDOR "Redoubt project")
set(CPACK_PACKAGE_CONTACT "Redoubt maintainers <redoubt@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Measured-launch hypervisor CLI and the Redoubt attestation verifier service")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: libtss2, libtpms, libssl, libsqlite3, libcbor ... from the binary
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "swtpm, tpm2-tools")
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)
include(CPack)
