# cmake -DINPUT=f -DOUTPUT=out.cpp -DNS=a::b -DSYMBOL=kName -P lp_embed_run.cmake (see lp_embed.cmake)
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT} by cmake/lp_embed_run.cmake; do not edit.\n"
  "#include <cstddef>\nnamespace ${NS} {\n"
  "extern const unsigned char ${SYMBOL}[] = {\n${bytes}0};\n"
  "extern const size_t ${SYMBOL}Size = ${size};\n}\n")
