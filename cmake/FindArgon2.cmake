# Debian's libargon2-dev: the reference Argon2 implementation (Argon2id secret hashing).
find_path(ARGON2_INCLUDE_DIR argon2.h)
find_library(ARGON2_LIBRARY argon2)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Argon2 REQUIRED_VARS ARGON2_INCLUDE_DIR ARGON2_LIBRARY)
if(Argon2_FOUND AND NOT TARGET Argon2::argon2)
  add_library(Argon2::argon2 SHARED IMPORTED)
  set_target_properties(Argon2::argon2 PROPERTIES IMPORTED_LOCATION ${ARGON2_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${ARGON2_INCLUDE_DIR})
endif()
