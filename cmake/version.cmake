# The git SHA goes into every stored measurement, so it is regenerated at build time (not only at
# configure time) and the file is rewritten only when it changes.
add_custom_target(hwnas_version_file
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${CMAKE_BINARY_DIR}/generated/build_info_git.inc
          -P ${CMAKE_SOURCE_DIR}/cmake/write_git_sha.cmake
  BYPRODUCTS ${CMAKE_BINARY_DIR}/generated/build_info_git.inc
  COMMENT "" VERBATIM)
