// The native backend (inference/src/native_backend.cc) against LibTorch on
// the shipped entity tagger, and the torch-free readers it stands on (zip
// records, data.pkl). Internal: linked to the LibTorch half's objects, so
// both backends run in this process.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

#include "backends.h"
#include "sense/inference/model.h"
#include "test_util.h"
#include "torch_pickle.h"
#include "zip_archive.h"

namespace sense {
namespace {

namespace fs = std::filesystem;
using internal::ZipArchive;
using namespace std::string_literals;

const std::string& TaggerPath() {
  static const std::string path = testing::SourcePath("models/ner-conll2003.pt");
  return path;
}

std::unique_ptr<Model> LoadTagger(bool native, int threads = 1) {
  ModelOptions o;
  o.path = TaggerPath();
  o.native = native;
  o.num_threads = threads;
  return Model::Load(o);
}

// What sense's WordPiece tokenizer makes of space-separated words with the
// bundle's character vocabulary: [CLS] c ##c ... [SEP], [UNK] for a word with
// a character outside it (bytes here: the test sentences are ASCII).
std::vector<int64_t> Encode(const Model& m, const std::string& sentence) {
  std::map<std::string, int64_t> vocab;
  std::istringstream in(m.Asset("vocab.txt"));
  std::string line;
  for (int64_t i = 0; std::getline(in, line); ++i) vocab.emplace(line, i);
  std::vector<int64_t> ids{vocab.at("[CLS]")};
  std::istringstream words(sentence);
  std::string w;
  while (words >> w) {
    std::vector<int64_t> piece;
    for (size_t i = 0; i < w.size(); ++i) {
      auto it = vocab.find(i == 0 ? w.substr(0, 1) : "##" + w.substr(i, 1));
      if (it == vocab.end()) {
        piece = {vocab.at("[UNK]")};
        break;
      }
      piece.push_back(it->second);
    }
    ids.insert(ids.end(), piece.begin(), piece.end());
  }
  ids.push_back(vocab.at("[SEP]"));
  return ids;
}

NamedTensors Batch(const std::vector<std::vector<int64_t>>& rows, const std::vector<std::vector<int64_t>>& masks = {}) {
  size_t L = 1;
  for (const auto& r : rows) L = std::max(L, r.size());
  std::vector<int64_t> ids(rows.size() * L, 0), mask(rows.size() * L, 0);
  for (size_t b = 0; b < rows.size(); ++b)
    for (size_t l = 0; l < rows[b].size(); ++l) {
      ids[b * L + l] = rows[b][l];
      mask[b * L + l] = masks.empty() ? 1 : masks[b][l];
    }
  const int64_t B = static_cast<int64_t>(rows.size()), LL = static_cast<int64_t>(L);
  return {{"ids", Tensor::FromVector(ids, {B, LL})}, {"mask", Tensor::FromVector(mask, {B, LL})}};
}

// max |a - b| over the logits, after checking that the shapes agree
double MaxDiff(const NamedTensors& a, const NamedTensors& b) {
  const Tensor& x = a[0].second;
  const Tensor& y = b[0].second;
  EXPECT_EQ(x.shape(), y.shape());
  EXPECT_EQ(a[0].first, b[0].first);
  if (x.shape() != y.shape()) return 1e30;
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(double(x.data<float>()[i]) - y.data<float>()[i]));
  return worst;
}

using sense::testing::ExpectError;

class NativeTaggerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(TaggerPath())) return;
    native_ = LoadTagger(true).release();
    torch_ = LoadTagger(false).release();
  }
  static void TearDownTestSuite() {
    delete native_;
    delete torch_;
  }
  void SetUp() override {
    if (native_ == nullptr) GTEST_SKIP() << "models/ner-conll2003.pt not present";
  }
  static Model* native_;
  static Model* torch_;
};
Model* NativeTaggerTest::native_ = nullptr;
Model* NativeTaggerTest::torch_ = nullptr;

TEST_F(NativeTaggerTest, RunsWithoutLibTorchAndSaysSo) {
  EXPECT_EQ(native_->backend(), "native");
  EXPECT_NE(native_->optimization().find("native"), std::string::npos);
  EXPECT_EQ(torch_->backend(), "torchscript");
  EXPECT_EQ(native_->metadata().task, torch_->metadata().task);
  EXPECT_EQ(native_->AssetNames(), torch_->AssetNames());
  EXPECT_FALSE(native_->SupportsGradients());
}

TEST_F(NativeTaggerTest, MatchesLibTorchOnRealSentences) {
  const std::vector<std::string> sentences = {
      "Angela Merkel met Emmanuel Macron in Paris on Tuesday .",
      "EU rejects German call to boycott British lamb .",
      "the new york times reported that microsoft bought github for $ 7.5 billion",
      "PETER BLACKBURN SAID IN BRUSSELS THAT THE COMMISSION WOULD ACT",
      "Obama 's visit to Nairobi , Kenya drew 20,000 people",
      // longer than the CNN's 24 characters and than the 100 a word hash reads
      "Supercalifragilisticexpialidociousness is a word",
      std::string(130, 'x') + " and " + std::string(30, 'Y'),
      "I",
  };
  std::vector<std::vector<int64_t>> rows;
  for (const auto& s : sentences) rows.push_back(Encode(*native_, s));
  // one at a time, and all in one padded batch (the batch's longest word sets the CNN's width)
  for (const auto& r : rows) EXPECT_LT(MaxDiff(native_->Run(Batch({r})), torch_->Run(Batch({r}))), 1e-4);
  const NamedTensors n = native_->Run(Batch(rows)), t = torch_->Run(Batch(rows));
  EXPECT_LT(MaxDiff(n, t), 1e-4);
  // and the tags they imply: the first sentence's people and place
  const Tensor& logits = n[0].second;
  const int64_t T = logits.size(2), L = logits.size(1);
  std::vector<int64_t> argmax;
  for (int64_t l = 0; l < L; ++l) {
    const float* p = logits.data<float>() + l * T;
    argmax.push_back(std::max_element(p, p + T) - p);
  }
  EXPECT_NE(argmax[1], argmax[0]);  // "A" of Angela is tagged, [CLS] is zeros
}

TEST_F(NativeTaggerTest, MatchesLibTorchOnArbitraryTokenSequences) {
  // random ids over the whole vocabulary: special tokens inside words,
  // continuations with no start, [UNK], masked positions in the middle,
  // rows with no word at all
  std::mt19937 rng(7);
  const int64_t V = 2252;
  for (int trial = 0; trial < 12; ++trial) {
    std::vector<std::vector<int64_t>> rows, masks;
    const int B = 1 + trial % 4;
    for (int b = 0; b < B; ++b) {
      const int L = 1 + static_cast<int>(rng() % 60);
      std::vector<int64_t> r, m;
      for (int l = 0; l < L; ++l) {
        const unsigned u = rng() % 10;
        r.push_back(u < 6 ? 5 + 2 * static_cast<int64_t>(rng() % ((V - 5) / 2)) + 1  // a continuation
                    : u < 9 ? 5 + 2 * static_cast<int64_t>(rng() % ((V - 5) / 2))    // a word start
                            : static_cast<int64_t>(rng() % 5));                      // a special
        m.push_back(rng() % 8 != 0);
      }
      if (trial == 3) std::fill(m.begin(), m.end(), 0);
      rows.push_back(r);
      masks.push_back(m);
    }
    EXPECT_LT(MaxDiff(native_->Run(Batch(rows, masks)), torch_->Run(Batch(rows, masks))), 1e-4) << "trial " << trial;
  }
}

TEST_F(NativeTaggerTest, SameAnswersOnSeveralThreads) {
  std::unique_ptr<Model> two = LoadTagger(true, 2);
  std::vector<std::vector<int64_t>> rows;
  for (const char* s : {"Germany beat Italy 2-1 in Rome", "Shares of Apple rose", "nothing to see here", "Kofi Annan"})
    rows.push_back(Encode(*native_, s));
  const NamedTensors a = native_->Run(Batch(rows)), b = two->Run(Batch(rows));
  EXPECT_EQ(MaxDiff(a, b), 0.0);  // members and rows are independent tasks; no sum changes order
}

TEST_F(NativeTaggerTest, InputErrorsAreClear) {
  ExpectError([&] { native_->Run(Batch({{2, 99999, 3}})); }, ErrorCode::kInput, "99999");
  NamedTensors floats{{"ids", Tensor::Zeros(DType::kFloat32, {1, 3})}, {"mask", Tensor::Zeros(DType::kInt64, {1, 3})}};
  ExpectError([&] { native_->Run(floats); }, ErrorCode::kInput, "float32[1, 3]");
}

TEST(NativeBackendTest, OtherArchivesGoToLibTorch) {
  internal::LoadPlan plan;
  plan.options.path = testing::TestModel("colour3.pt");
  std::string why;
  EXPECT_EQ(internal::LoadNative(plan, &why), nullptr);
  EXPECT_NE(why.find("none of sense's native architectures"), std::string::npos) << why;
  ModelOptions o;
  o.path = plan.options.path;
  EXPECT_EQ(Model::Load(o)->backend(), "torchscript");
}

TEST(NativeBackendTest, CorruptWeightsOfTheTaggerAreAClearError) {
  if (!fs::exists(TaggerPath())) GTEST_SKIP() << "models/ner-conll2003.pt not present";
  std::ifstream in(TaggerPath(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path out = fs::temp_directory_path() / ("sense_native_corrupt_" + std::to_string(::getpid()) + ".pt");
  bytes[bytes.size() / 2] ^= 0x5a;  // inside the int8 word table of a member
  std::ofstream(out, std::ios::binary) << bytes;
  ModelOptions o;
  o.path = out.string();
  ExpectError([&] { Model::Load(o); }, ErrorCode::kModelFormat, "CRC-32 mismatch", "loading a corrupt model");
  fs::remove(out);
}

// ---- the zip reader, on archives written here ----

void Put(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A zip of {name: (data, deflate?)} under the top folder "top/".
std::string MakeZip(const std::vector<std::tuple<std::string, std::string, bool>>& records) {
  std::string zip, cd;
  for (const auto& [name, data, packed] : records) {
    std::string body = data;
    if (packed) {
      z_stream z{};
      deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      body.assign(deflateBound(&z, data.size()), '\0');
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z.avail_in = static_cast<uInt>(data.size());
      z.next_out = reinterpret_cast<Bytef*>(body.data());
      z.avail_out = static_cast<uInt>(body.size());
      deflate(&z, Z_FINISH);
      body.resize(z.total_out);
      deflateEnd(&z);
    }
    const std::string full = "top/" + name;
    const uint32_t crc = internal::Crc32(data.data(), data.size());
    const uint64_t offset = zip.size();
    Put(zip, 0x04034b50, 4), Put(zip, 20, 2), Put(zip, 0, 2), Put(zip, packed ? 8 : 0, 2), Put(zip, 0, 4);
    Put(zip, crc, 4), Put(zip, body.size(), 4), Put(zip, data.size(), 4), Put(zip, full.size(), 2), Put(zip, 0, 2);
    zip += full + body;
    Put(cd, 0x02014b50, 4), Put(cd, 20, 2), Put(cd, 20, 2), Put(cd, 0, 2), Put(cd, packed ? 8 : 0, 2), Put(cd, 0, 4);
    Put(cd, crc, 4), Put(cd, body.size(), 4), Put(cd, data.size(), 4), Put(cd, full.size(), 2), Put(cd, 0, 2);
    Put(cd, 0, 2), Put(cd, 0, 2), Put(cd, 0, 2), Put(cd, 0, 4), Put(cd, offset, 4);
    cd += full;
  }
  const uint64_t cd_offset = zip.size();
  zip += cd;
  Put(zip, 0x06054b50, 4), Put(zip, 0, 2), Put(zip, 0, 2), Put(zip, records.size(), 2), Put(zip, records.size(), 2);
  Put(zip, cd.size(), 4), Put(zip, cd_offset, 4), Put(zip, 0, 2);
  return zip;
}

class ZipArchiveTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& bytes) {
    path_ = (fs::temp_directory_path() / ("sense_zip_test_" + std::to_string(::getpid()) + ".zip")).string();
    std::ofstream(path_, std::ios::binary) << bytes;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) fs::remove(path_);
  }
  std::string path_;
};

TEST_F(ZipArchiveTest, ReadsStoredAndDeflatedRecords) {
  const std::string text(5000, 'a');
  const ZipArchive zip(Write(MakeZip({{"data.pkl", "stored bytes", false}, {"extra/big.txt", text, true}})));
  EXPECT_EQ(zip.names(), (std::vector<std::string>{"data.pkl", "extra/big.txt"}));
  EXPECT_EQ(zip.Read("data.pkl"), "stored bytes");
  EXPECT_EQ(zip.Read("extra/big.txt"), text);
  EXPECT_FALSE(zip.Contains("top/data.pkl"));
  EXPECT_THROW(zip.Read("missing"), Error);
}

TEST_F(ZipArchiveTest, CorruptOrTruncatedArchivesAreFormatErrors) {
  std::string good = MakeZip({{"a", "hello world", false}});
  std::string flipped = good;
  flipped[good.find("hello")] = 'j';
  ExpectError([&] { ZipArchive(Write(flipped)).Read("a"); }, ErrorCode::kModelFormat, "CRC-32 mismatch in record 'a'");
  for (size_t cut : {size_t{10}, good.size() / 2, good.size() - 5})
    ExpectError([&] { ZipArchive(Write(good.substr(0, cut))).Read("a"); }, ErrorCode::kModelFormat, "corrupt or truncated",
                "cut at " + std::to_string(cut));
  EXPECT_EQ(ZipArchive(Write(good)).Read("a"), "hello world");
}

TEST(TorchPickleTest, ReadsModulesAndRejectsWhatItDoesNotKnow) {
  // {"n": 5, "s": "x", "l": [True, None]} as an object of class "m C"
  const std::string p = "\x80\x02"s + "cm\nC\n)\x81}(X\x01\x00\x00\x00nK\x05X\x01\x00\x00\x00sX\x01\x00\x00\x00x"s +
                        "X\x01\x00\x00\x00l](\x88Neub."s;
  const internal::PickleRef v = internal::Unpickle(p);
  ASSERT_EQ(v->kind, internal::PickleValue::Kind::kObject);
  EXPECT_EQ(v->text, "m C");
  ASSERT_NE(v->Attr("n"), nullptr);
  EXPECT_EQ(v->Attr("n")->integer, 5);
  EXPECT_EQ(v->Attr("s")->text, "x");
  ASSERT_EQ(v->Attr("l")->items.size(), 2u);
  EXPECT_TRUE(v->Attr("l")->items[0]->boolean);
  EXPECT_EQ(v->Attr("missing"), nullptr);
  EXPECT_THROW(internal::Unpickle("\x80\x02cos\nsystem\n)R."s), std::runtime_error);  // a call it does not know
  EXPECT_THROW(internal::Unpickle("\x80\x02X\x09\x00\x00\x00ab"s), std::runtime_error);  // truncated
  EXPECT_THROW(internal::Unpickle("\x80\x02\xff."s), std::runtime_error);              // unknown opcode
}

}  // namespace
}  // namespace sense
