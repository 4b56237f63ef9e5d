// apps/eval_embeddings.h — sense-eval's embedding modes:
//   sense-eval retrieval DATA [--model M]   precision@k and mAP, each item querying all others
//   sense-eval sts PAIRS [--model M]        Spearman and Pearson x 100 of cosine vs gold scores
#ifndef SENSE_APPS_EVAL_EMBEDDINGS_H_
#define SENSE_APPS_EVAL_EMBEDDINGS_H_

#include <string>

namespace sense::app {

// True when argv[1] names an embedding mode ("retrieval", "sts").
bool IsEmbeddingEvalMode(const std::string& arg);
// The whole mode: parses its own options (argv[1] is the mode), prints the
// report, returns the exit status.
int EmbeddingEvalMain(int argc, char** argv);

}  // namespace sense::app

#endif  // SENSE_APPS_EVAL_EMBEDDINGS_H_
