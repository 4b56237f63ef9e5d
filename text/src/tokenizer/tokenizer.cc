#include "sense/text/tokenizer.h"

#include <fstream>

#include "file_util.h"
#include "sense/inference/error.h"
#include "sense/text/sentencepiece_tokenizer.h"
#include "sense/text/wordpiece_tokenizer.h"

namespace sense::text {

void Tokenizer::EncodeWithOffsets(std::string_view text, std::vector<int>* ids, std::vector<Span>* offsets) const {
  for (const Token& t : Tokenize(text)) {
    ids->push_back(t.id);
    offsets->push_back({t.begin, t.end});
  }
}

std::unique_ptr<Tokenizer> CreateTokenizer(const TokenizerOptions& options) {
  const TokenizerSpec& spec = options.spec;
  const std::string source = !options.source.empty() ? options.source : spec.asset;
  switch (spec.type) {
    case TokenizerType::kWordPiece: {
      if (spec.add_bos || spec.add_eos) {
        throw Error(ErrorCode::kOption, "tokenizer spec: add_bos/add_eos are SentencePiece options; a WordPiece "
                                        "tokenizer adds [CLS]/[SEP] (add_special_tokens)");
      }
      WordPieceOptions o;
      o.vocab_path = options.path;
      o.vocab_data = options.data;
      o.source = source;
      o.lowercase = spec.lowercase;
      o.strip_accents = spec.strip_accents;
      o.tokenize_chinese_chars = spec.tokenize_chinese_chars;
      o.add_special_tokens = spec.add_special_tokens;
      o.invalid_utf8 = options.invalid_utf8;
      return WordPieceTokenizer::Create(o);
    }
    case TokenizerType::kSentencePiece: {
      SentencePieceOptions o;
      o.model_path = options.path;
      o.model_data = options.data;
      o.source = source;
      o.add_bos = spec.add_bos;
      o.add_eos = spec.add_eos;
      o.invalid_utf8 = options.invalid_utf8;
      return SentencePieceTokenizer::Create(o);
    }
  }
  throw Error(ErrorCode::kOption, "tokenizer spec: unknown tokenizer type " + std::to_string(static_cast<int>(spec.type)));
}

TokenizerType DetectTokenizerType(const std::string& path) {
  const std::string bytes = internal::ReadFileBytes(path, "a SentencePiece model or a WordPiece vocab.txt");
  // A vocab.txt is UTF-8 text; a SentencePiece model is a protocol buffer whose
  // float scores and field tags put control bytes in its first kilobytes.
  const std::string_view head(bytes.data(), std::min<std::size_t>(bytes.size(), 65536));
  for (unsigned char c : head) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return TokenizerType::kSentencePiece;
  }
  if (FindInvalidUtf8(head.substr(0, head.size() > 4 ? head.size() - 4 : head.size()))) {
    return TokenizerType::kSentencePiece;
  }
  return TokenizerType::kWordPiece;
}

}  // namespace sense::text
