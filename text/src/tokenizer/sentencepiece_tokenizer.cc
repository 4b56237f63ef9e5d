#include "sense/text/sentencepiece_tokenizer.h"

#include <algorithm>

#include "file_util.h"
#include "sense/inference/error.h"
#include "sentencepiece_loader.h"
#include "unicode_props.h"

namespace sense::text {

using internal::SpmPiece;

namespace {

// The text SentencePiece sees, and how its byte positions map back to the
// caller's when invalid UTF-8 was replaced.
struct Prepared {
  std::string_view view;
  std::string replaced;                // kReplace with invalid bytes only
  std::vector<std::size_t> to_source;  // replaced position -> source position (size + 1 entries)
  std::size_t Map(std::size_t p) const { return to_source.empty() ? p : to_source[std::min(p, to_source.size() - 1)]; }
};

}  // namespace

struct SentencePieceTokenizer::Impl {
  SentencePieceOptions options;
  std::string source;
  std::unique_ptr<internal::SpmProcessor> processor;
  SpecialTokenIds special;
  SequenceTemplate sequence;
  std::vector<uint8_t> is_special;

  Prepared Prepare(std::string_view text) const {
    if (text.size() > 0xFFFFFFF0u) {
      throw Error(ErrorCode::kInput, "text of " + std::to_string(text.size()) +
                                         " bytes; SentencePiece accepts at most 4 GiB per text");
    }
    Prepared p;
    p.view = text;
    const auto bad = FindInvalidUtf8(text);
    if (!bad) return p;
    if (options.invalid_utf8 == InvalidUtf8::kError) CheckUtf8(text);  // throws with the position
    p.replaced.reserve(text.size() + 16);
    p.to_source.reserve(text.size() + 16);
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t start = pos;
      const char32_t c = internal::DecodeUtf8(text, &pos);
      const std::size_t before = p.replaced.size();
      if (c == internal::kInvalid) {
        internal::AppendUtf8(internal::kReplacementChar, &p.replaced);
      } else {
        p.replaced.append(text.data() + start, pos - start);
      }
      // Every byte of the replacement maps to where the source sequence began.
      p.to_source.insert(p.to_source.end(), p.replaced.size() - before, start);
    }
    p.to_source.push_back(text.size());
    p.view = p.replaced;
    return p;
  }

  void Check(const std::string& error, const char* what) const {
    if (!error.empty()) throw Error(ErrorCode::kBackend, source + ": SentencePiece " + what + " failed: " + error);
  }

  std::vector<Token> ToTokens(const std::vector<SpmPiece>& pieces, const Prepared& p) const {
    std::vector<Token> tokens;
    tokens.reserve(pieces.size());
    for (const SpmPiece& s : pieces) tokens.push_back({s.id, s.piece, p.Map(s.begin), p.Map(s.end)});
    return tokens;
  }
};

bool SentencePieceAvailable(std::string* why) {
  try {
    internal::SentencePieceModule();
    return true;
  } catch (const std::exception& e) {
    if (why != nullptr) *why = e.what();
    return false;
  }
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::Create(const SentencePieceOptions& options) {
  if (!options.model_path.empty() && !options.model_data.empty()) {
    throw Error(ErrorCode::kOption, "SentencePieceOptions: model_path and model_data are exclusive; both are set");
  }
  if (options.model_path.empty() && options.model_data.empty()) {
    throw Error(ErrorCode::kOption, "SentencePieceOptions: set model_path or model_data; both are empty");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->source = !options.model_path.empty() ? options.model_path
                 : !options.source.empty()   ? options.source
                                             : std::string("SentencePiece model");
  const std::string bytes = !options.model_path.empty()
                                ? internal::ReadFileBytes(options.model_path, "a SentencePiece model (.model)")
                                : options.model_data;
  const internal::SpmModuleApi& module = internal::SentencePieceModule();
  std::string error;
  impl->processor.reset(module.load(bytes, &error));
  if (impl->processor == nullptr) {
    throw Error(ErrorCode::kModelFormat, impl->source + ": not a SentencePiece model (" + error +
                                             "); expected a serialized ModelProto as written by spm_train");
  }
  internal::SpmProcessor& sp = *impl->processor;
  const int n = sp.PieceSize();
  auto valid = [&](int id) { return id >= 0 && id < n ? id : -1; };
  impl->special.unk = valid(sp.unk_id());
  impl->special.bos = valid(sp.bos_id());
  impl->special.eos = valid(sp.eos_id());
  impl->special.pad = valid(sp.pad_id());
  impl->is_special.resize(n);
  for (int id = 0; id < n; ++id) impl->is_special[id] = sp.IsControl(id) || sp.IsUnknown(id);
  if (options.add_bos) {
    if (impl->special.bos < 0) {
      throw Error(ErrorCode::kOption, impl->source + ": add_bos is set but the model defines no <s> (bos_id = -1)");
    }
    impl->sequence.prefix = {impl->special.bos};
  }
  if (options.add_eos) {
    if (impl->special.eos < 0) {
      throw Error(ErrorCode::kOption, impl->source + ": add_eos is set but the model defines no </s> (eos_id = -1)");
    }
    impl->sequence.suffix = {impl->special.eos};
    impl->sequence.middle = {impl->special.eos};
  }
  impl->sequence.pair_type_id = 0;  // SentencePiece models rarely use segment ids
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(impl)));
}

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<Token> SentencePieceTokenizer::Tokenize(std::string_view text) const {
  const Prepared p = impl_->Prepare(text);
  std::vector<SpmPiece> pieces;
  impl_->Check(impl_->processor->Encode(p.view, &pieces), "encoding");
  return impl_->ToTokens(pieces, p);
}

std::vector<int> SentencePieceTokenizer::Encode(std::string_view text) const {
  const Prepared p = impl_->Prepare(text);
  std::vector<int> ids;
  impl_->Check(impl_->processor->EncodeIds(p.view, &ids), "encoding");
  return ids;
}

std::string SentencePieceTokenizer::Decode(const std::vector<int>& ids) const {
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error(ErrorCode::kInput, "id " + std::to_string(id) + " is out of range; the vocabulary has " +
                                         std::to_string(vocab_size()) + " entries");
    }
  }
  std::string out;
  impl_->Check(impl_->processor->Decode(ids, &out), "decoding");
  return out;
}

std::vector<Segmentation> SentencePieceTokenizer::NBest(std::string_view text, int n) const {
  if (n < 1 || n > 1024) {
    throw Error(ErrorCode::kInput, "n-best size must be in [1, 1024]; found " + std::to_string(n));
  }
  if (model_type() != "unigram") {
    throw Error(ErrorCode::kUnsupported, impl_->source + ": n-best segmentation needs a unigram model; this one is " +
                                             model_type());
  }
  const Prepared p = impl_->Prepare(text);
  std::vector<internal::SpmSegmentation> segs;
  impl_->Check(impl_->processor->NBest(p.view, n, &segs), "n-best encoding");
  std::vector<Segmentation> out;
  out.reserve(segs.size());
  for (const auto& s : segs) out.push_back({impl_->ToTokens(s.pieces, p), s.score});
  return out;
}

std::vector<Token> SentencePieceTokenizer::Sample(std::string_view text, const SamplingOptions& options) const {
  const bool bpe = model_type() == "bpe";
  if (bpe ? !(options.alpha >= 0.0f && options.alpha < 1.0f) : !(options.alpha > 0.0f)) {
    throw Error(ErrorCode::kInput, std::string("sampling alpha must be ") + (bpe ? "in [0, 1) for BPE" : "> 0") +
                                       "; found " + std::to_string(options.alpha));
  }
  const Prepared p = impl_->Prepare(text);
  std::vector<SpmPiece> pieces;
  impl_->Check(impl_->processor->Sample(p.view, options.nbest_size, options.alpha, &pieces), "sampling");
  return impl_->ToTokens(pieces, p);
}

void SentencePieceTokenizer::SetSamplingSeed(unsigned seed) { internal::SentencePieceModule().set_seed(seed); }

std::string SentencePieceTokenizer::model_type() const { return impl_->processor->model_type(); }
int SentencePieceTokenizer::vocab_size() const { return impl_->processor->PieceSize(); }

std::string SentencePieceTokenizer::IdToPiece(int id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error(ErrorCode::kInput, "id " + std::to_string(id) + " is out of range; the vocabulary has " +
                                       std::to_string(vocab_size()) + " entries");
  }
  return impl_->processor->IdToPiece(id);
}

int SentencePieceTokenizer::PieceToId(std::string_view piece) const { return impl_->processor->PieceToId(piece); }

bool SentencePieceTokenizer::IsSpecial(int id) const {
  return id >= 0 && id < vocab_size() && impl_->is_special[id] != 0;
}

const SpecialTokenIds& SentencePieceTokenizer::special_ids() const { return impl_->special; }
const SequenceTemplate& SentencePieceTokenizer::sequence_template() const { return impl_->sequence; }
InvalidUtf8 SentencePieceTokenizer::invalid_utf8() const { return impl_->options.invalid_utf8; }

}  // namespace sense::text
