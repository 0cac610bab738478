#include <gtest/gtest.h>

#include <string>

#include "core/sha256.h"

TEST(Sha256, KnownVectors) {  // FIPS 180-4 examples
  EXPECT_EQ(lp::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(lp::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(lp::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(lp::sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // padding that spills into a second block, and an exact one-block message
  EXPECT_EQ(lp::sha256_hex(std::string(119, 'x')), "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c");
  EXPECT_EQ(lp::sha256_hex(std::string(64, 'y')), "ffbf30ab94107b2c14d75cfb455ec94f200400ddc5ce304e0c21894090db055f");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  lp::Sha256 h;
  h.update("abcdbcdecdefdefgefghfghighij");
  h.update("hijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(h.finish_hex(), lp::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"));
}
