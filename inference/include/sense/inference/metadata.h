// sense/inference/metadata.h — the typed form of a bundle's sense.json.
//
// A sense model bundle is a model file (TorchScript archive, or ONNX with a
// sidecar) whose metadata says what the model does and how to feed it. The
// format is specified in docs/model-format.md; ParseMetadata validates it once
// into these structs, so tasks never look at JSON.
//
// Thread safety: all types here are plain values.
#ifndef SENSE_INFERENCE_METADATA_H_
#define SENSE_INFERENCE_METADATA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sense {

// The schema version this build reads and writes.
inline constexpr int kMetadataSchemaVersion = 1;

enum class Task {
  kImageClassification,
  kObjectDetection,
  kImageEmbedding,
  kTextClassification,
  kTokenClassification,  // e.g. named entities
  kTextEmbedding,
};
const char* TaskName(Task task);  // "image_classification", ...
bool IsVisionTask(Task task);
bool IsTextTask(Task task);

enum class DType { kFloat32, kFloat64, kInt64, kInt32, kUInt8, kBool };
const char* DTypeName(DType dtype);  // "float32", ...

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // -1 marks a dynamic dimension (batch, sequence)
};

enum class ColorOrder { kRGB, kBGR, kGray };
enum class Layout { kNCHW, kNHWC };
enum class ResizeMode {
  kStretch,     // resize to width x height, ignoring aspect ratio
  kCenterCrop,  // shorter side to resize_shorter, then centre crop (torchvision)
  kLetterbox,   // fit inside width x height keeping aspect ratio, pad with pad_value
};
enum class Interpolation { kNearest, kBilinear, kBicubic, kArea };

// Image preprocessing, in this order: decode -> colour conversion -> resize ->
// float conversion -> x * scale -> (x - mean[c]) / std[c] -> layout.
struct ImagePreprocessing {
  int width = 0;   // network input width in pixels, > 0
  int height = 0;  // network input height in pixels, > 0
  ColorOrder color = ColorOrder::kRGB;  // channel order the network expects
  Layout layout = Layout::kNCHW;
  ResizeMode resize = ResizeMode::kStretch;
  int resize_shorter = 0;  // kCenterCrop: shorter side before the crop (0: crop size)
  Interpolation interpolation = Interpolation::kBilinear;
  bool antialias = true;       // low-pass before downscaling, as PIL/torchvision do
  float scale = 1.0f / 255.0f;  // applied to 8-bit pixel values first
  std::vector<float> mean;      // one per channel
  std::vector<float> std;       // one per channel, all > 0
  std::vector<float> pad_value;  // kLetterbox fill, in 8-bit pixel units, one per channel
  int channels() const { return color == ColorOrder::kGray ? 1 : 3; }
};

enum class TokenizerType { kSentencePiece, kWordPiece };

struct TokenizerSpec {
  TokenizerType type = TokenizerType::kSentencePiece;
  std::string asset;               // name of the bundled file: "tokenizer.model", "vocab.txt"
  bool lowercase = false;          // WordPiece: lower-case in the basic tokenizer
  std::optional<bool> strip_accents;  // WordPiece: default follows lowercase (as BERT)
  bool tokenize_chinese_chars = true;  // WordPiece
  bool add_bos = false;            // SentencePiece: prepend <s>
  bool add_eos = false;            // SentencePiece: append </s>
  bool add_special_tokens = true;  // WordPiece: [CLS] ... [SEP]
};

enum class Truncation { kLongestFirst, kOnlyFirst, kWindow, kNone };
enum class Padding { kLongest, kMaxLength };

struct TextPreprocessing {
  TokenizerSpec tokenizer;
  int max_length = 512;     // tokens per sequence, special tokens included
  Truncation truncation = Truncation::kLongestFirst;
  int window_stride = 0;    // kWindow: tokens between window starts (0: max_length / 2)
  Padding padding = Padding::kLongest;
  int64_t pad_id = 0;
  std::map<std::string, std::string> input_names;  // role -> model input: "ids", "mask", "type_ids"
};

enum class OutputType { kLogits, kProbabilities, kEmbeddings, kDetections, kTokenLogits };
enum class Activation { kSoftmax, kSigmoid, kNone };

struct OutputSpec {
  std::string name;        // which model output carries the result (default: first output)
  OutputType type = OutputType::kLogits;
  Activation activation = Activation::kSoftmax;
  float temperature = 1.0f;  // logits are divided by it before the activation (calibration)
};

enum class BoxFormat { kXYXY, kCXCYWH, kXYWH };
struct DetectionSpec {
  BoxFormat box_format = BoxFormat::kXYXY;
  bool normalized = false;       // coordinates in [0,1] of the network input
  bool nms_applied = false;      // the model already ran non-maximum suppression
  float iou_threshold = 0.45f;   // default NMS IoU
  float score_threshold = 0.25f; // default minimum score
  std::string layout = "boxes_scores_labels";  // "boxes_scores_labels", "yolo", "gfl": see docs/model-format.md
  int max_detections = 100;      // default cap per image, >= 1
  bool multi_label = false;      // keep every class above the threshold per box (COCO evaluation), not only the best
  bool class_agnostic_nms = false;
  // layout "gfl": an anchor-free grid with a distribution box head (GFL,
  // NanoDet): scores [B, A, classes] and distributions [B, A, 4 * (reg_max + 1)],
  // A = sum over strides of ceil(H / s) * ceil(W / s), levels in stride order,
  // anchors row-major within a level, centre ((x + centre_offset) * s, ...).
  struct Gfl {
    std::string scores_output, distributions_output;  // declared output names
    std::vector<int> strides;                          // > 0 each, non-empty
    int reg_max = 0;                                   // >= 1
    float centre_offset = 0.5f;                        // 0 or 0.5
    Activation scores_activation = Activation::kNone;  // none (already probabilities) or sigmoid
  };
  std::optional<Gfl> gfl;
};

struct EmbeddingSpec {
  int dim = 0;             // > 0
  bool normalize = true;   // L2-normalise the vector
  std::string pooling = "none";  // "none" (model pools), "mean", "cls"
};

struct TokenClassificationSpec {
  std::string scheme = "bio";  // "bio", "iob1", "bioes" or "bilou"; every label is "O" or PREFIX-TYPE with a prefix of the scheme
  std::string aggregation = "first";  // how word labels come from sub-tokens: "first", "average", "max"
  // A linear-chain CRF over the labels (entities issue): empty when the
  // bundle has none. transitions is labels x labels, row-major
  // (transitions[i * K + j] scores label i followed by label j); start and
  // end scores have one value per label (zeros when the metadata omits them).
  std::vector<float> transitions;
  std::vector<float> start_scores;
  std::vector<float> end_scores;
};

// Names the TorchScript methods used for explanations: features_method maps
// the inputs to an intermediate tensor (conv feature map / token embeddings),
// head_method maps that tensor (plus any other inputs) to the output.
struct ExplainSpec {
  std::string method;           // "gradcam", "integrated_gradients", "occlusion"
  std::string features_method;  // e.g. "features"
  std::string head_method;      // e.g. "head"
};

struct Provenance {
  std::string training_data;
  std::string script;
  std::string command;
  std::string created;
  std::string license;
  std::string framework;
  std::map<std::string, double> metrics;  // e.g. "fashion_mnist_test_top1": 0.935
  std::string notes;
};

struct ModelMetadata {
  int schema_version = kMetadataSchemaVersion;
  Task task = Task::kImageClassification;
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::string> labels;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::optional<ImagePreprocessing> image;
  std::optional<TextPreprocessing> text;
  OutputSpec output;
  std::optional<DetectionSpec> detection;
  std::optional<EmbeddingSpec> embedding;
  std::optional<TokenClassificationSpec> token_classification;
  std::optional<ExplainSpec> explain;
  std::vector<std::string> assets;  // names of extra files bundled with the model
  // How the floating-point weights are stored: "float32", or "float16" to halve
  // the file; the loader then converts every floating-point parameter and
  // buffer to float32 once, at load, so the model computes in float32.
  std::string weights_dtype = "float32";
  Provenance provenance;
  std::string json;  // the validated document, pretty-printed, for display
};

// Parses and validates sense.json text. `source` names where it came from
// ("model.pt:sense.json") and prefixes every error message.
// Throws Error(kMetadata) naming the field, what was expected and what was found.
ModelMetadata ParseMetadata(const std::string& json_text, const std::string& source);

}  // namespace sense

#endif  // SENSE_INFERENCE_METADATA_H_
