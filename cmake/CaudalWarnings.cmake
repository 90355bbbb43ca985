# Warnings on for our own targets; third-party headers come in as SYSTEM includes.
function(caudal_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                         -Wno-unused-parameter)
endfunction()
