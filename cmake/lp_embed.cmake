# lp_embed_file(TARGET FILE NAMESPACE SYMBOL): compiles FILE into TARGET as
#   namespace NAMESPACE { extern const unsigned char SYMBOL[]; extern const size_t SYMBOLSize; }
# (a trailing NUL follows the bytes; SYMBOLSize excludes it). Regenerated whenever FILE changes.
function(lp_embed_file target file ns symbol)
  get_filename_component(name ${file} NAME)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${file} -DOUTPUT=${out} -DNS=${ns} -DSYMBOL=${symbol} -P ${PROJECT_SOURCE_DIR}/cmake/lp_embed_run.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/lp_embed_run.cmake
    COMMENT "Embedding ${name}")
  target_sources(${target} PRIVATE ${out})
endfunction()
