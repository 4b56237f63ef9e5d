// sense-similar: build a vector index of images or texts, then find the
// items nearest to a query ("more like this").
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/app.h"
#include "embed/any_embedder.h"
#include "sense/inference/vector_index.h"
#include "sense/vision/image_io.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sense::app::UsageError;

const char* kUsage =
    "sense-similar index INPUT... -o INDEX [--model M] [--kind auto|exact|hnsw|ivfpq]\n"
    "sense-similar add INDEX INPUT...\n"
    "sense-similar remove INDEX ITEM...\n"
    "sense-similar query INDEX QUERY... [-k 10] [--json] [--sheet out.png]\n"
    "sense-similar info INDEX\n\n"
    "Nearest-neighbour search over embeddings, in one index file that also holds\n"
    "the items (image paths or texts) and the identity of the model that made the\n"
    "vectors. Images: INPUT is image files, folders (recursive), globs or IDX files\n"
    "(Fashion-MNIST: one item per image, PATH#N). Texts: INPUT is text files, one\n"
    "item per line, blank lines skipped ('-': stdin). The model defaults to\n"
    "models/fashion-embed.pt for image inputs and models/text-embed.pt otherwise;\n"
    "query, add and remove use the model the index names (--model must be that\n"
    "same model).\n"
    "query prints, per query, its k nearest items with their cosine similarity\n"
    "(closest first); a query that fails prints 'QUERY: error CODE: message' and the\n"
    "exit status is 1. --sheet writes a contact sheet PNG (image indexes): one row per\n"
    "query, the query then its neighbours.\n"
    "Examples:\n"
    "  sense-similar index /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz -o shop.sidx\n"
    "  sense-similar query shop.sidx models/samples/fashion-mnist/009_sneaker.png --sheet sneakers.png\n"
    "  sense-similar index tickets.txt -o tickets.sidx\n"
    "  sense-similar query tickets.sidx 'my printer will not print'";

bool LooksLikeImages(const std::vector<std::string>& inputs) {
  if (inputs.empty()) return false;
  const auto& exts = sense::vision::ImageExtensions();
  for (const auto& in : inputs) {
    if (in == "-") return false;
    std::error_code ec;
    if (fs::is_directory(in, ec)) continue;
    if (sense::app::IsIdxImageFile(in)) continue;
    std::string ext = fs::path(in).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(exts.begin(), exts.end(), ext) == exts.end() && in.find_first_of("*?[") == std::string::npos) return false;
  }
  return true;
}

// The items to add: image paths (IDX files expanded) or the lines of text files.
std::vector<sense::app::InputItem> GatherItems(bool images, const std::vector<std::string>& inputs) {
  std::vector<sense::app::InputItem> items;
  if (images) {
    for (const auto& it : sense::app::GatherPaths(inputs, sense::vision::ImageExtensions())) {
      if (it.error.empty() && sense::app::IsIdxImageFile(it.text)) {
        for (const auto& ref : sense::app::ExpandIdx({it.text})) items.push_back({ref, ref, ""});
      } else {
        items.push_back(it);
      }
    }
    return items;
  }
  std::vector<sense::app::TextArg> args;
  for (const auto& in : inputs) args.push_back({true, in});
  if (args.empty()) args.push_back({true, "-"});
  for (auto& it : sense::app::GatherTexts(args)) {
    // blank lines are not items
    if (it.error.empty() && it.text.find_first_not_of(" \t\r") == std::string::npos) continue;
    items.push_back(std::move(it));
  }
  return items;
}

struct Embedded {
  std::vector<std::string> items;
  std::vector<std::vector<float>> vectors;
  int failed = 0;
};

Embedded EmbedItems(const std::string& app, const sense::app::AnyEmbedder& embedder,
                    const std::vector<sense::app::InputItem>& items) {
  Embedded out;
  std::vector<std::string> work, sources;  // sources: "FILE:LINE" or the image path, for errors
  for (const auto& it : items) {
    if (!it.error.empty()) {
      ++out.failed;
      sense::app::PrintError(app, it.source, it.error);
      continue;
    }
    work.push_back(it.text);
    sources.push_back(it.source.empty() ? it.text : it.source);
  }
  sense::app::Progress progress(work.size(), "embedding");
  embedder.Embed(work, [&](size_t i, const cv::Mat&, sense::Outcome<sense::Embedding> o) {
    progress.Tick();
    if (!o.ok()) {
      ++out.failed;
      sense::app::PrintError(app, sources[i], o.error().what());
      return;
    }
    out.items.push_back(work[i]);
    out.vectors.push_back(o.value().values);
  });
  progress.Finish();
  return out;
}

std::string ShortName(const std::string& item) {
  const auto hash = item.rfind('#');
  if (hash != std::string::npos && sense::app::IsIdxImageFile(item.substr(0, hash))) return item.substr(hash);
  return fs::path(item).filename().string();
}

cv::Mat Tile(const cv::Mat& image, int size) {
  cv::Mat bgr;
  if (image.empty()) {
    bgr = cv::Mat(size, size, CV_8UC3, cv::Scalar(60, 60, 60));
  } else {
    if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    else if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
    else bgr = image;
    const double s = static_cast<double>(size) / std::max(bgr.cols, bgr.rows);
    cv::Mat resized;
    cv::resize(bgr, resized, cv::Size(std::max(1, static_cast<int>(bgr.cols * s)), std::max(1, static_cast<int>(bgr.rows * s))), 0, 0,
               s > 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
    bgr = cv::Mat(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
    resized.copyTo(bgr(cv::Rect((size - resized.cols) / 2, (size - resized.rows) / 2, resized.cols, resized.rows)));
  }
  return bgr;
}

// One row per query: the query tile (blue frame), then its neighbours with
// their rank and score below.
void WriteSheet(const std::string& path, const std::vector<std::pair<cv::Mat, std::string>>& queries,
                const std::vector<std::vector<sense::Neighbor>>& results, int k) {
  const int tile = 112, caption = 30, pad = 6;
  const int cols = 1 + k;
  const int rows = static_cast<int>(queries.size());
  cv::Mat sheet(rows * (tile + caption + pad) + pad, cols * (tile + pad) + pad + 10, CV_8UC3, cv::Scalar(255, 255, 255));
  auto put = [&](const cv::Mat& t, int r, int c, const std::string& line1, const std::string& line2, const cv::Scalar& frame) {
    const int x = pad + c * (tile + pad) + (c > 0 ? 10 : 0), y = pad + r * (tile + caption + pad);
    t.copyTo(sheet(cv::Rect(x, y, tile, tile)));
    cv::rectangle(sheet, cv::Rect(x - 1, y - 1, tile + 2, tile + 2), frame, 2);
    cv::putText(sheet, line1.substr(0, 18), cv::Point(x, y + tile + 12), cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::putText(sheet, line2.substr(0, 18), cv::Point(x, y + tile + 25), cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
  };
  for (int r = 0; r < rows; ++r) {
    put(Tile(queries[static_cast<size_t>(r)].first, tile), r, 0, "query", ShortName(queries[static_cast<size_t>(r)].second),
        cv::Scalar(200, 80, 0));
    const auto& res = results[static_cast<size_t>(r)];
    for (size_t j = 0; j < res.size() && static_cast<int>(j) < k; ++j) {
      cv::Mat img;
      try {
        img = sense::app::LoadItemImage(res[j].item);
      } catch (const std::exception&) {
      }
      std::ostringstream s;
      s << "#" << j + 1 << "  " << std::fixed << std::setprecision(3) << res[j].score;
      put(Tile(img, tile), r, static_cast<int>(j) + 1, s.str(), ShortName(res[j].item), cv::Scalar(180, 180, 180));
    }
  }
  if (!cv::imwrite(path, sheet)) throw sense::Error(sense::ErrorCode::kFile, path + ": cannot write the contact sheet");
}

std::string ModelFor(const sense::VectorIndex& index, const std::string& flag) {
  if (!flag.empty()) return flag;
  return sense::app::DefaultModelPath(index.model().name + ".pt");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string app = "sense-similar";
  return sense::app::Guarded(app, [&]() -> int {
    namespace po = sense::app::po;
    std::vector<std::string> args, files;
    std::string model_path, out_path, kind_name, similarity_name, device, sheet;
    int k = 0, threads = 0, batch = 0, ef = 0, nprobe = 0;
    po::options_description opts("Options");
    opts.add_options()
      ("args", po::value(&args), "COMMAND and its arguments")
      ("output,o", po::value(&out_path), "index: the index file to write")
      ("model,m", po::value(&model_path), "embedding bundle (index: default by input kind; others: the index's model)")
      ("kind", po::value(&kind_name)->default_value("auto"), "index: auto (exact up to 50,000 items, HNSW above), exact, hnsw, ivfpq")
      ("similarity", po::value(&similarity_name)->default_value("cosine"), "index: cosine or dot")
      ("file,f", po::value(&files), "query: read queries from this file, one per line (text indexes; repeatable)")
      ("top-k,k", po::value(&k)->default_value(10), "query: neighbours per query, >= 1")
      ("skip-same", "query: leave out neighbours whose item is the query itself")
      ("ef-search", po::value(&ef)->default_value(0), "query: HNSW candidate list (0: the index's, 64)")
      ("nprobe", po::value(&nprobe)->default_value(0), "query: IVF-PQ lists visited (0: the index's, 16)")
      ("sheet", po::value(&sheet), "query: write a contact sheet PNG of each query and its neighbours (image indexes)")
      ("batch-size,b", po::value(&batch)->default_value(0), "inputs per model call (0: the task's default)")
      ("threads", po::value(&threads)->default_value(0), "inference threads (0: all cores)")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("json", "query: print JSON Lines, one object per query in order: {\"query\", \"neighbors\": [{\"id\", \"item\", \"score\"}]}");
    po::variables_map vm;
    std::vector<po::option> ordered;
    int rc = 0;
    if (!sense::app::ParseCommandLine(argc, argv, app, kUsage, opts, "args", &vm, &rc, &ordered)) return rc;
    if (!sense::app::CheckThreadsOption(app, &threads, &rc)) return rc;
    if (args.empty()) throw UsageError("no command: give index, add, remove, query or info");
    const std::string cmd = args[0];
    args.erase(args.begin());
    if (cmd != "index" && cmd != "add" && cmd != "remove" && cmd != "query" && cmd != "info")
      throw UsageError("unknown command \"" + cmd + "\": expected index, add, remove, query or info");
    if (k < 1) throw UsageError("--top-k must be >= 1, found " + std::to_string(k));
    if (batch < 0) throw UsageError("--batch-size must be >= 0, found " + std::to_string(batch));
    if (ef < 0 || nprobe < 0) throw UsageError("--ef-search and --nprobe must be >= 0");
    sense::VectorIndexOptions io;
    try {
      io.kind = sense::ParseIndexKind(kind_name);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--kind: ") + e.what());
    }
    try {
      io.similarity = sense::ParseSimilarity(similarity_name);
    } catch (const sense::Error& e) {
      throw UsageError(std::string("--similarity: ") + e.what());
    }
    if (cmd != "index" && !out_path.empty()) throw UsageError("-o/--output is for the index command");
    if (cmd != "query" && (!sheet.empty() || !files.empty())) throw UsageError("--sheet and --file are for the query command");
    const bool as_json = vm.count("json") > 0;
    sense::app::AnyEmbedderOptions eo;
    eo.device = device;
    eo.threads = threads;
    eo.batch_size = batch;

    if (cmd == "index") {
      if (out_path.empty()) throw UsageError("index needs -o INDEX, the file to write");
      const bool images = LooksLikeImages(args);
      eo.model_path = model_path.empty() ? sense::app::DefaultModelPath(images ? "fashion-embed.pt" : "text-embed.pt") : model_path;
      auto embedder = sense::app::AnyEmbedder::Create(eo);
      const auto items = GatherItems(embedder->is_image(), args);
      if (items.empty()) {
        std::cerr << app << ": no items to index\nTry '" << app << " --help'.\n";
        return 2;
      }
      Embedded e = EmbedItems(app, *embedder, items);
      if (e.items.empty()) throw sense::Error(sense::ErrorCode::kInput, "no item could be embedded; no index written");
      auto index = sense::VectorIndex::Build(embedder->identity(), io, e.items, e.vectors);
      index->Save(out_path);
      std::cout << "indexed " << index->size() << " " << (embedder->is_image() ? "images" : "texts") << " ("
                << sense::IndexKindName(index->kind()) << ", " << index->dim() << "-d, " << embedder->identity().name << ") -> "
                << out_path << (e.failed ? " (" + std::to_string(e.failed) + " failed)" : "") << "\n";
      return e.failed ? 1 : 0;
    }

    if (args.empty()) throw UsageError(cmd + " needs the INDEX file first");
    const std::string index_path = args[0];
    args.erase(args.begin());
    auto index = sense::VectorIndex::Load(index_path);
    if (cmd == "info") {
      if (as_json) {
        sense::app::PrintJsonLine({{"index", index_path}, {"kind", sense::IndexKindName(index->kind())}, {"items", index->size()},
                                   {"dim", index->dim()}, {"model", index->model().Describe()},
                                   {"similarity", sense::SimilarityName(index->options().similarity)}, {"bytes", index->IndexBytes()}});
      } else {
        std::cout << index_path << ": " << index->size() << " items, " << sense::IndexKindName(index->kind()) << ", "
                  << sense::SimilarityName(index->options().similarity) << ", model " << index->model().Describe() << "\n";
      }
      return 0;
    }
    if (cmd == "remove") {
      if (args.empty()) throw UsageError("remove needs the items to remove (paths or texts as indexed)");
      int missing = 0;
      for (const auto& it : args) {
        const int64_t n = index->RemoveItem(it);
        if (n == 0) {
          ++missing;
          sense::app::PrintError(app, "", "\"" + it + "\" is not in " + index_path);
        }
      }
      index->Save(index_path);
      std::cout << "removed " << args.size() - static_cast<size_t>(missing) << " item(s); " << index->size() << " left in "
                << index_path << "\n";
      return missing ? 1 : 0;
    }
    eo.model_path = ModelFor(*index, model_path);
    auto embedder = sense::app::AnyEmbedder::Create(eo);
    index->CheckModel(embedder->identity());
    if (cmd == "add") {
      const auto items = GatherItems(embedder->is_image(), args);
      Embedded e = EmbedItems(app, *embedder, items);
      for (size_t i = 0; i < e.items.size(); ++i) index->Add(e.items[i], e.vectors[i]);
      index->Save(index_path);
      std::cout << "added " << e.items.size() << " item(s); " << index->size() << " in " << index_path
                << (e.failed ? " (" + std::to_string(e.failed) + " failed)" : "") << "\n";
      return e.failed ? 1 : 0;
    }

    // query
    if (!sheet.empty() && !embedder->is_image()) throw UsageError("--sheet draws images; " + index_path + " indexes texts");
    std::vector<sense::app::InputItem> queries;
    if (embedder->is_image()) {
      if (!files.empty()) throw UsageError("--file reads text queries; this index holds images");
      queries = GatherItems(true, args);
    } else {
      // the command and the index path are the first two positionals
      auto targs = sense::app::OrderedTextArgs(ordered, "args", "file");
      for (int skipped = 0, i = 0; skipped < 2 && i < static_cast<int>(targs.size());) {
        if (!targs[static_cast<size_t>(i)].is_file) {
          targs.erase(targs.begin() + i);
          ++skipped;
        } else {
          ++i;
        }
      }
      queries = sense::app::GatherTexts(targs);
    }
    if (queries.empty()) throw UsageError("query needs at least one query (" + std::string(embedder->is_image() ? "image" : "text") + ")");
    const bool skip_same = vm.count("skip-same") > 0;
    sense::SearchOptions so;
    so.ef_search = ef;
    so.nprobe = nprobe;
    int failed = 0;
    std::vector<std::pair<cv::Mat, std::string>> sheet_queries;
    std::vector<std::vector<sense::Neighbor>> sheet_results;
    std::vector<std::string> work;
    std::vector<size_t> item_of;
    for (size_t i = 0; i < queries.size(); ++i)
      if (queries[i].error.empty()) {
        work.push_back(queries[i].text);
        item_of.push_back(i);
      }
    auto label = [&](size_t i) { return embedder->is_image() ? queries[i].source : queries[i].text; };
    auto print_error = [&](size_t i, const std::string& code, const std::string& message) {
      ++failed;
      if (as_json) {
        json j = sense::app::ErrorJson(code, message);
        j["query"] = label(i);
        sense::app::PrintJsonLine(j);
      } else {
        std::cout << sense::app::EscapeControl(label(i)) << ": error " << code << ": " << sense::app::EscapeControl(message) << "\n";
        std::cout.flush();
        sense::app::PrintError(app, queries[i].source, message);
      }
    };
    size_t printed = 0;
    auto flush_before = [&](size_t i) {
      for (; printed < i; ++printed) print_error(printed, "file", queries[printed].error);
    };
    embedder->Embed(work, [&](size_t w, const cv::Mat& image, sense::Outcome<sense::Embedding> o) {
      const size_t i = item_of[w];
      flush_before(i);
      printed = i + 1;
      if (!o.ok()) {
        print_error(i, sense::ErrorCodeName(o.error().code()), o.error().what());
        return;
      }
      auto found = index->Search(o.value().values, skip_same ? k + 1 : k, so);
      if (skip_same)
        found.erase(std::remove_if(found.begin(), found.end(), [&](const sense::Neighbor& n) { return n.item == work[w]; }),
                    found.end());
      if (static_cast<int>(found.size()) > k) found.resize(static_cast<size_t>(k));
      if (as_json) {
        json arr = json::array();
        for (const auto& n : found) arr.push_back({{"id", n.id}, {"item", n.item}, {"score", n.score}});
        sense::app::PrintJsonLine({{"query", label(i)}, {"neighbors", arr}});
      } else {
        std::cout << sense::app::EscapeControl(label(i)) << ":\n";
        for (size_t j = 0; j < found.size(); ++j)
          std::cout << "  " << std::setw(2) << j + 1 << ". " << std::fixed << std::setprecision(3) << found[j].score << "  "
                    << sense::app::EscapeControl(found[j].item) << "\n";
        std::cout.flush();
      }
      if (!sheet.empty()) {
        sheet_queries.emplace_back(image.clone(), work[w]);
        sheet_results.push_back(found);
      }
    });
    flush_before(queries.size());
    if (!sheet.empty()) {
      if (sheet_queries.empty()) {
        sense::app::PrintError(app, "", "no query succeeded; no contact sheet written");
      } else {
        WriteSheet(sheet, sheet_queries, sheet_results, k);
        if (!as_json) std::cout << "contact sheet: " << sheet << "\n";
      }
    }
    return failed ? 1 : 0;
  });
}
