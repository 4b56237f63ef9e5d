// libsense_sentencepiece.so: the only code in sense that calls SentencePiece.
// See sentencepiece_module.h for why it is a separately loaded module.
#include "sentencepiece_module.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <memory>
#include <new>
#include <unordered_map>

namespace sentencepiece::logging {
// Exported by libsentencepiece (not declared in its public headers).
void SetMinLogLevel(int v);
}  // namespace sentencepiece::logging

namespace sense::text::internal {
namespace {

void Convert(const sentencepiece::ImmutableSentencePieceText& spt, std::vector<SpmPiece>* out) {
  out->clear();
  out->reserve(spt.pieces_size());
  for (std::size_t i = 0; i < spt.pieces_size(); ++i) {
    const auto p = spt.pieces(static_cast<int>(i));
    out->push_back({static_cast<int>(p.id()), p.begin(), p.end(), p.piece()});
  }
}

class Processor final : public SpmProcessor {
 public:
  std::string Load(const std::string& bytes) {
    const auto status = sp_.LoadFromSerializedProto(bytes);
    return status.ok() ? std::string() : status.ToString();
  }

  std::string Encode(std::string_view text, std::vector<SpmPiece>* out) const override {
    try {
      sentencepiece::ImmutableSentencePieceText spt;
      const auto status = sp_.Encode(text, spt.mutable_proto());
      if (!status.ok()) return status.ToString();
      Convert(spt, out);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  std::string EncodeIds(std::string_view text, std::vector<int>* out) const override {
    try {
      const auto status = sp_.Encode(text, out);
      return status.ok() ? std::string() : status.ToString();
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  std::string NBest(std::string_view text, int n, std::vector<SpmSegmentation>* out) const override {
    try {
      sentencepiece::ImmutableNBestSentencePieceText nbest;
      const auto status = sp_.NBestEncode(text, n, nbest.mutable_proto());
      if (!status.ok()) return status.ToString();
      out->clear();
      for (std::size_t i = 0; i < nbest.nbests_size(); ++i) {
        const auto spt = nbest.nbests(static_cast<int>(i));
        SpmSegmentation s;
        Convert(spt, &s.pieces);
        s.score = spt.score();
        out->push_back(std::move(s));
      }
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  std::string Sample(std::string_view text, int nbest_size, float alpha, std::vector<SpmPiece>* out) const override {
    try {
      sentencepiece::ImmutableSentencePieceText spt;
      const auto status = sp_.SampleEncode(text, nbest_size, alpha, spt.mutable_proto());
      if (!status.ok()) return status.ToString();
      Convert(spt, out);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  std::string Decode(const std::vector<int>& ids, std::string* out) const override {
    try {
      const auto status = sp_.Decode(ids, out);
      return status.ok() ? std::string() : status.ToString();
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  int PieceSize() const override { return sp_.GetPieceSize(); }
  const std::string& IdToPiece(int id) const override { return sp_.IdToPiece(id); }
  int PieceToId(std::string_view piece) const override {
    const int id = sp_.PieceToId(piece);
    if (sp_.IsUnknown(id) && sp_.IdToPiece(id) != piece) return -1;
    return id;
  }
  bool IsControl(int id) const override { return sp_.IsControl(id); }
  bool IsUnknown(int id) const override { return sp_.IsUnknown(id); }
  bool IsUnused(int id) const override { return sp_.IsUnused(id); }
  bool IsByte(int id) const override { return sp_.IsByte(id); }
  int unk_id() const override { return sp_.unk_id(); }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }
  int pad_id() const override { return sp_.pad_id(); }
  std::string model_type() const override {
    // ModelProto.trainer_spec.model_type is not reachable without the
    // protobuf headers; infer it from the serialized TrainerSpec field 3.
    return model_type_;
  }
  void set_model_type(std::string t) { model_type_ = std::move(t); }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  std::string model_type_;
};

// Reads the varint at bytes[*pos]; false at the end or on overflow.
bool ReadVarint(const std::string& bytes, std::size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *pos < bytes.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(bytes[(*pos)++]);
    *value |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2; ... }
// TrainerSpec { ... ModelType model_type = 3; ... } with UNIGRAM=1 BPE=2 WORD=3 CHAR=4.
std::string ModelTypeOf(const std::string& model) {
  std::size_t pos = 0;
  while (pos < model.size()) {
    uint64_t key = 0, len = 0;
    if (!ReadVarint(model, &pos, &key)) break;
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (wire == 2) {
      if (!ReadVarint(model, &pos, &len) || len > model.size() - pos) break;
      if (field == 2) {
        const std::string spec = model.substr(pos, len);
        std::size_t p = 0;
        while (p < spec.size()) {
          uint64_t k = 0, v = 0;
          if (!ReadVarint(spec, &p, &k)) break;
          const int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
          if (w == 0) {
            if (!ReadVarint(spec, &p, &v)) break;
            if (f == 3) {
              switch (v) {
                case 1: return "unigram";
                case 2: return "bpe";
                case 3: return "word";
                case 4: return "char";
                default: return "unknown";
              }
            }
          } else if (w == 2) {
            if (!ReadVarint(spec, &p, &v) || v > spec.size() - p) break;
            p += v;
          } else if (w == 5) {
            p += 4;
          } else if (w == 1) {
            p += 8;
          } else {
            break;
          }
        }
        return "unigram";  // the proto default
      }
      pos += len;
    } else if (wire == 0) {
      if (!ReadVarint(model, &pos, &len)) break;
    } else if (wire == 5) {
      pos += 4;
    } else if (wire == 1) {
      pos += 8;
    } else {
      break;
    }
  }
  return "unigram";
}

SpmProcessor* Load(const std::string& bytes, std::string* error) {
  try {
    auto p = std::make_unique<Processor>();
    *error = p->Load(bytes);
    if (!error->empty()) return nullptr;
    p->set_model_type(ModelTypeOf(bytes));
    return p.release();
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

// Streams the training files line by line, then the in-memory sentences.
class Sentences final : public sentencepiece::SentenceIterator {
 public:
  explicit Sentences(const SpmTrainRequest& r) : r_(r) { Advance(); }
  bool done() const override { return done_; }
  void Next() override { Advance(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return status_; }

 private:
  void Advance() {
    while (file_index_ < r_.input_files.size()) {
      if (!in_.is_open()) {
        in_.open(r_.input_files[file_index_], std::ios::binary);
        if (!in_) {
          status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                                "cannot open " + r_.input_files[file_index_]);
          done_ = true;
          return;
        }
      }
      if (std::getline(in_, value_)) {
        if (!value_.empty() && value_.back() == '\r') value_.pop_back();
        return;
      }
      in_.close();
      ++file_index_;
    }
    if (r_.sentences != nullptr && sentence_index_ < r_.sentences->size()) {
      value_ = (*r_.sentences)[sentence_index_++];
      return;
    }
    done_ = true;
  }
  const SpmTrainRequest& r_;
  std::size_t file_index_ = 0, sentence_index_ = 0;
  std::ifstream in_;
  std::string value_;
  bool done_ = false;
  sentencepiece::util::Status status_;
};

std::string Train(const SpmTrainRequest& request, std::string* model) {
  try {
    sentencepiece::logging::SetMinLogLevel(request.min_log_level);
    std::unordered_map<std::string, std::string> kwargs(request.flags.begin(), request.flags.end());
    Sentences sentences(request);
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &sentences, model);
    return status.ok() ? std::string() : status.ToString();
  } catch (const std::exception& e) {
    return e.what();
  }
}

void SetSeed(unsigned seed) { sentencepiece::SetRandomGeneratorSeed(seed); }

}  // namespace
}  // namespace sense::text::internal

extern "C" __attribute__((visibility("default"))) const sense::text::internal::SpmModuleApi*
sense_sentencepiece_module_api() {
  static const sense::text::internal::SpmModuleApi api = [] {
    sense::text::internal::SpmModuleApi a;
    a.abi = sense::text::internal::kSpmModuleAbi;
    a.load = &sense::text::internal::Load;
    a.train = &sense::text::internal::Train;
    a.set_seed = &sense::text::internal::SetSeed;
    return a;
  }();
  return &api;
}
