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
  kLetterbox,   // fit inside width x height keeping aspect ratio, centred, pad with pad_value
  kPadToSquare, // pad right/bottom with pad_value to a square (side = the longer side), then resize to width x height
};
// How kLetterbox samples the source (docs/model-format.md, image.sampling).
enum class Sampling {
  kResize,  // resize to round(w * r) x round(h * r), placed at an integer offset ((W - w) / 2, (H - h) / 2)
  kWarp,    // one perspective warp with scale r and the image's centre on the input's centre (fractional
            // offset), bilinear, border pad_value: NanoDet's own keep-ratio transform
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
  std::vector<float> pad_value;  // kLetterbox / kPadToSquare fill, in 8-bit pixel units, one per channel
  Sampling sampling = Sampling::kResize;  // kLetterbox only
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
// How an object_detection bundle's outputs are read (docs/model-format.md,
// "detection"). `layout` picks the decoder (vision/src/detection/); the
// output-role fields name declared outputs, defaulted per layout by the
// validator, so a decoder never guesses.
struct DetectionSpec {
  // "boxes_scores_labels", "torchvision", "boxes_scores", "yolov5" ("yolo"
  // is read as "yolov5"), "yolov8", "gfl", and the layouts of
  // vision/src/detection/ added by other decoders (see kDetectionLayouts in
  // metadata.cc).
  std::string layout = "boxes_scores_labels";
  BoxFormat box_format = BoxFormat::kXYXY;  // default cxcywh for yolov5/yolov8
  bool normalized = false;       // coordinates in [0,1] of the network input (else network-input pixels)
  bool nms_applied = false;      // the model already ran non-maximum suppression (true for torchvision)
  float iou_threshold = 0.45f;   // default NMS IoU, in [0, 1]
  float score_threshold = 0.25f; // default minimum score, in [0, 1]
  int max_detections = 100;      // default cap per image, >= 1
  bool multi_label = false;      // keep every class above the threshold per box (COCO evaluation), not only the best
  bool class_agnostic_nms = false;
  // Output roles (each a declared output name; empty when the layout does not use it).
  std::string boxes_output;    // boxes_scores_labels, torchvision: [B, K, 4]; boxes_scores: [B, A, 4]
  std::string scores_output;   // boxes_scores_labels, torchvision: [B, K]; boxes_scores: [B, A, classes (+1)]
  std::string labels_output;   // boxes_scores_labels, torchvision: [B, K], class indices (any numeric dtype)
  std::string count_output;    // optional: [B], valid rows per image (torchvision: "num_detections")
  std::vector<std::string> predictions_outputs;  // yolov5: [B, A, 4 + obj + classes (+ keypoints)] or [A, ...];
                                                 // yolov8: [B, 4 + classes (+ keypoints), A]; several are
                                                 // concatenated along A in this order
  std::string keypoints_output;  // boxes_scores: optional [B, A, num_keypoints * keypoint_dims]
  Activation scores_activation = Activation::kNone;  // boxes_scores / yolo: on class scores (softmax: over the row,
                                                     // background included)
  bool background_class = false;  // boxes_scores: score column 0 is background, not a label
  bool objectness = true;         // yolov5: column 4 is objectness; score = objectness * class score
  bool scores_include_objectness = false;  // yolov5: class scores are already multiplied by objectness
                                           // (Darknet YOLO through OpenCV DNN); the objectness column is skipped
  int label_offset = 0;           // boxes_scores_labels, torchvision: model label L means labels[L - label_offset]
  int num_keypoints = 0;          // landmarks per box (face: 5); 0: none
  int keypoint_dims = 2;          // values per keypoint: 2 (x, y) or 3 (x, y, visibility/confidence)
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
  // --- third-party layouts (FastestDet, YuNet, BlazeFace): parsed by
  // ParseThirdPartyLayout in metadata.cc, decoded in vision/src/detection/.
  // layout "fastestdet": one anchor-free grid output [B, 5 + classes, H, W]
  // (objectness, centre offsets, size, class scores per cell), boxes relative
  // to the image; score = obj^obj_power * cls^cls_power.
  struct FastestDet {
    std::string output;        // declared output name (default: the first output)
    float obj_power = 0.6f;    // > 0
    float cls_power = 0.4f;    // > 0
  };
  std::optional<FastestDet> fastestdet;
  // layout "yunet": per stride s, outputs cls [B, A_s, 1], obj [B, A_s, 1],
  // bbox [B, A_s, 4] and optionally kps [B, A_s, 2 * keypoints], A_s =
  // ceil(H / s) * ceil(W / s) (one prior per cell, row-major); names are
  // patterns in which "{stride}" is replaced by s.
  struct YuNet {
    std::vector<int> strides;  // > 0 each, non-empty
    std::string cls_output = "cls_{stride}", obj_output = "obj_{stride}";
    std::string bbox_output = "bbox_{stride}", kps_output = "kps_{stride}";  // kps_output "": no keypoints
    int keypoints = 0;         // from the declared kps shape (its last dimension / 2)
  };
  std::optional<YuNet> yunet;
  // layout "blazeface": MediaPipe's SSD anchors (SsdAnchorsCalculator with
  // fixed_anchor_size): per stride s, ceil(H / s) x ceil(W / s) cells, each
  // with anchors_per_cell[i] anchors centred at ((x + anchor_offset) / cols,
  // (y + anchor_offset) / rows); scores [B, A(, 1)] and regressors
  // [B, A, 4 + 2 * keypoints] as (cx, cy, w, h, kx0, ky0, ...) in units of
  // `scale` (network input pixels), relative to the anchor centre.
  struct BlazeFace {
    std::string scores_output, regressors_output;  // declared output names
    std::vector<int> strides;                      // > 0 each, non-empty
    std::vector<int> anchors_per_cell;             // one per stride, >= 1
    float anchor_offset = 0.5f;                    // in [0, 1]
    float scale_x = 0, scale_y = 0;                // > 0; default: image width, height
    int keypoints = 0;                             // from the regressors' last dimension
    Activation scores_activation = Activation::kSigmoid;  // sigmoid (logits) or none
    float score_clip = 100.0f;                     // logits clipped to [-clip, clip] first; > 0
  };
  std::optional<BlazeFace> blazeface;
};

struct EmbeddingSpec {
  int dim = 0;             // > 0
  bool normalize = true;   // L2-normalise the vector
  std::string pooling = "none";  // "none" (model pools), "mean", "cls", "max" (over the tokens the mask keeps)
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

// Out-of-domain detection (docs/model-format.md "ood"; fitted by
// scripts/fit_ood.py): each signal's raw value r (higher = less like the
// training data) is standardised, z = (r - loc) / scale, and the score is the
// largest z; an input whose score is above `threshold` is flagged.
enum class OodSignalKind {
  kMahalanobis,   // min over classes of the squared Mahalanobis distance of the features output to the class means
  kEnergy,        // -logsumexp(logits)
  kMaxLogit,      // -max(logits)
  kMaxSoftmax,    // -max(softmax(logits / output.temperature))
  kUnknownShare,  // text: share of the text's tokens that are the tokenizer's unknown token
};
const char* OodSignalName(OodSignalKind kind);  // "mahalanobis", ...

struct OodSignal {
  OodSignalKind kind = OodSignalKind::kEnergy;
  float loc = 0.0f;    // mean of the raw value on the fit data
  float scale = 1.0f;  // its standard deviation there, > 0
};

struct OodSpec {
  std::vector<OodSignal> signals;  // non-empty, each kind at most once; combined by their maximum
  float threshold = 0.0f;          // flag when score > threshold
  float tpr = 0.95f;               // share of held-in validation inputs accepted at the threshold, in (0, 1]
  std::string domain;              // what the model knows, for messages: "Fashion-MNIST, 28 x 28 grey clothing on black"
  std::string fitted_on;           // the data the statistics were fitted on
  std::string threshold_on;        // the held-in data the threshold was chosen on
  std::string script, command, created;  // how it was fitted (optional)
  // kMahalanobis only: the declared output holding the penultimate features
  // [N, feature_dim], and the asset with the class means and the shared
  // precision matrix: little-endian float32, means [labels, feature_dim]
  // row-major then precision [feature_dim, feature_dim].
  std::string features_output;
  std::string statistics_asset;
  int feature_dim = 0;
  bool Uses(OodSignalKind kind) const;
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
  std::optional<OodSpec> ood;  // out-of-domain detector (classification tasks)
  std::vector<std::string> assets;  // names of extra files bundled with the model
  // How the floating-point weights are stored: "float32", or "float16" to halve
  // the file; the loader then converts every floating-point parameter and
  // buffer to float32 once, at load, so the model computes in float32.
  std::string weights_dtype = "float32";
  Provenance provenance;
  // --- sidecars as models (docs/model-format.md, "A sidecar as the model"):
  // "files" names the model file(s) a sidecar describes, relative to the
  // sidecar's folder unless absolute; "cascade" configures an OpenCV cascade.
  struct Files {
    std::string model;   // .pt, .onnx, .weights (Darknet, with config) or .xml (OpenCV cascade)
    std::string config;  // Darknet .cfg; only with a .weights model
  };
  std::optional<Files> files;
  // cv::CascadeClassifier::detectMultiScale2's parameters, in network-input
  // pixels (the image after `image` preprocessing).
  struct Cascade {
    double scale_factor = 1.1;  // > 1: step between detection scales
    int min_neighbors = 3;      // >= 0: raw hits a box needs beyond its own (more: fewer false positives)
    int min_width = 0, min_height = 0;  // smallest object, >= 0 (0: the cascade's window)
    int max_width = 0, max_height = 0;  // largest object, >= 0 (0: no limit)
    bool equalize_histogram = true;     // cv::equalizeHist before detection, as OpenCV's samples do
    float score_half = 10.0f;   // score = neighbours / (neighbours + score_half); > 0
  };
  std::optional<Cascade> cascade;
  std::string json;  // the validated document, pretty-printed, for display
};

// Parses and validates sense.json text. `source` names where it came from
// ("model.pt:sense.json") and prefixes every error message.
// Throws Error(kMetadata) naming the field, what was expected and what was found.
ModelMetadata ParseMetadata(const std::string& json_text, const std::string& source);

}  // namespace sense

#endif  // SENSE_INFERENCE_METADATA_H_
