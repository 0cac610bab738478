# cmake -DINPUT=corpus.txt -DOUTPUT=out.cpp -P embed_corpus.cmake: writes the file as a byte array.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from data/eval/corpus.txt by src/eval/embed_corpus.cmake; do not edit.\n"
  "#include <cstddef>\nnamespace lp::eval::detail {\n"
  "extern const unsigned char kBuiltinCorpus[] = {\n${bytes}0};\n"
  "extern const size_t kBuiltinCorpusSize = ${size};\n}\n")
