// sense/text/tag_scheme.h — the pieces of entity tagging that do not need a
// model: tag parsing, turning tag sequences into spans exactly as the CoNLL
// `conlleval` script does, CRF Viterbi decoding and marginals, and
// conlleval's entity-level precision/recall/F1. EntityRecognizer and
// sense-eval's entity mode are built on them.
//
// Tags are "O" or "<prefix>-<TYPE>", prefix one of B, I, E, S (BIOES) or L,
// U (BILOU: read as E, S). One set of span rules reads BIO, IOB1 and
// BIOES/BILOU alike, so ill-formed sequences get the conlleval reading:
//   * an entity starts at B, at S, at I or E after O, or where the type changes;
//   * it ends before B, S or O, after E or S, or where the type changes;
//   * so "O I-PER I-PER" is one PER (the IOB1 reading and conlleval's),
//     "B-PER I-ORG" two entities, "I-LOC B-LOC" two, "B-X E-X S-X" two.
// On BIO and IOB1 input this is exactly conlleval's startOfChunk/endOfChunk
// (conlleval has no S, so S-X reads as B-X there; the extension here makes S
// a one-word entity and E close one).
//
// Thread safety: plain functions and values.
#ifndef SENSE_TEXT_TAG_SCHEME_H_
#define SENSE_TEXT_TAG_SCHEME_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace sense::text {

// The scheme a model's labels follow. Only IOB1 changes how a decoder treats
// tags (B- only separates two adjacent entities of one type); the span rules
// above read all three.
enum class TagScheme { kBIO, kIOB1, kBIOES };
// "bio" (= "iob2"), "iob1", "bioes" (= "bilou", "iobes"); anything else is
// Error(kOption) listing them.
TagScheme ParseTagScheme(const std::string& name);
const char* TagSchemeName(TagScheme scheme);

// One tag split into its prefix and type: 'O' with an empty type, else
// 'B', 'I', 'E' or 'S' (L and U are stored as E and S).
struct Tag {
  char prefix = 'O';
  std::string type;
  bool operator==(const Tag& o) const { return prefix == o.prefix && type == o.type; }
};
// Parses "B-PER", "I-LOC", "S-ORG", "U-MISC", "O". Throws Error(kInput)
// naming the tag for "", "X-PER", "B-", "PER".
Tag ParseTag(const std::string& tag);

// An entity as a half-open range of word positions.
struct TagSpan {
  std::string type;
  int begin = 0;  // first word
  int end = 0;    // one past the last word
  bool operator==(const TagSpan& o) const { return type == o.type && begin == o.begin && end == o.end; }
  bool operator<(const TagSpan& o) const {
    return begin != o.begin ? begin < o.begin : end != o.end ? end < o.end : type < o.type;
  }
};

// The entities of a tag sequence by the span rules above, in order.
std::vector<TagSpan> TagsToSpans(const std::vector<Tag>& tags);
std::vector<TagSpan> TagsToSpans(const std::vector<std::string>& tags);

// The tags of `spans` over `length` words in `scheme` (spans must not
// overlap): BIO starts every entity with B; IOB1 uses B only for an entity
// that directly follows one of the same type; BIOES marks S, B, I, E.
std::vector<std::string> SpansToTags(const std::vector<TagSpan>& spans, int length, TagScheme scheme);

// A linear-chain CRF's scores over K labels.
struct CrfScores {
  std::vector<float> transitions;  // K x K, row-major: transitions[i * K + j] scores label i followed by j
  std::vector<float> start;        // K: score of starting with each label (zeros when the model has none)
  std::vector<float> end;          // K: score of ending with each label
  int num_labels() const { return static_cast<int>(start.size()); }
};

// The best label path for emissions [n x K] (row-major, n >= 0) under `crf`.
std::vector<int> ViterbiDecode(const std::vector<float>& emissions, int n, const CrfScores& crf);
// Per-position marginal probabilities P(label at t = k | all emissions)
// [n x K] by forward-backward in log space.
std::vector<float> CrfMarginals(const std::vector<float>& emissions, int n, const CrfScores& crf);
// The score of one label path (sum of start, emissions, transitions, end).
double PathScore(const std::vector<float>& emissions, const std::vector<int>& path, const CrfScores& crf);

// Entity-level counts and scores exactly as conlleval reports them: a
// predicted entity is correct when a gold entity has the same type, first
// and last word. Precision = correct / predicted, recall = correct / gold,
// F1 = 2PR/(P+R) (0 when P+R is 0), all in percent as conlleval prints them.
struct EntityScores {
  std::string type;     // "" for the overall row
  long gold = 0;        // entities in the gold tags
  long predicted = 0;   // entities in the predicted tags
  long correct = 0;
  double precision = 0, recall = 0, f1 = 0;
};
struct ErrorCounts {
  // gold entity -> predicted entity with exactly the same words but another type: [gold type][predicted type]
  std::map<std::string, std::map<std::string, long>> type_confusions;
  std::map<std::string, long> boundary;  // gold type: a prediction of that type overlaps it with other boundaries
  std::map<std::string, long> boundary_and_type;  // overlapped only by predictions of another type, other boundaries
  std::map<std::string, long> missed;    // gold type: no prediction overlaps it
  std::map<std::string, long> spurious;  // predicted type: overlaps no gold entity
};
struct EntityReport {
  EntityScores overall;
  std::vector<EntityScores> types;  // sorted by type name
  long tokens = 0;                  // words scored
  long correct_tags = 0;            // words whose predicted tag string equals the gold one (conlleval "accuracy")
  ErrorCounts errors;
};

// Accumulates sentences; Report() computes the scores. Thread-compatible.
class EntityEvaluator {
 public:
  // Gold and predicted tags of one sentence, same length (else Error(kInput)).
  void Add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted);
  EntityReport Report() const;
  // conlleval's text layout ("processed N tokens with G phrases; found: P
  // phrases; correct: C." then accuracy and one line per type), then the
  // error table.
  static std::string Format(const EntityReport& report);

 private:
  std::map<std::string, EntityScores> types_;
  long tokens_ = 0, correct_tags_ = 0;
  ErrorCounts errors_;
};

}  // namespace sense::text

#endif  // SENSE_TEXT_TAG_SCHEME_H_
