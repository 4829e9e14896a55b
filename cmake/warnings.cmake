add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                    -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wformat=2
                    # Designated initializers that leave fields at their defaults are our style (STYLE.md §9.1).
                    -Wno-missing-field-initializers)
if(HWNAS_WERROR)
  add_compile_options(-Werror)
endif()
if(HWNAS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
