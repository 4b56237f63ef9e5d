// A tiny BERT-style vocabulary for tests that must run without ../shared.
#ifndef SENSE_TESTS_TEXT_TINY_VOCAB_H_
#define SENSE_TESTS_TEXT_TINY_VOCAB_H_

namespace sense::testing {

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 then the entries in order.
inline const char* kTinyVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"  // 0-4
    "hello\nworld\n,\n!\n.\n"              // 5-9
    "un\n##aff\n##able\ncafe\n##s\n"       // 10-14
    "the\ncat\nsat\non\nmat\n"             // 15-19
    "a\nb\n##b\n日\n本\n"                   // 20-24
    "'\nt\ndon\n?\n##a\n";                 // 25-29

}  // namespace sense::testing

#endif  // SENSE_TESTS_TEXT_TINY_VOCAB_H_
