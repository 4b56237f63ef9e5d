#include <gtest/gtest.h>
TEST(WordPieceTokenizerTest, Placeholder) {}
