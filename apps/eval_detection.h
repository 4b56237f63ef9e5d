// apps/eval_detection.h — sense-eval's detection mode (COCO metrics).
#ifndef SENSE_APPS_EVAL_DETECTION_H_
#define SENSE_APPS_EVAL_DETECTION_H_

namespace sense::app {

// True when sense-eval's command line asks for a detection evaluation:
// --detection, a --model that is an object detection bundle (or a sidecar
// model), or, without --model, data that is detection ground truth (a
// folder holding instances.json, a .json file, or a 'FILE X Y W H LABEL'
// box list).
bool WantsDetectionEval(int argc, char** argv);

// The whole detection mode: its own options, help and exit status (0; 1
// when an image failed; 2 for a usage error).
int RunDetectionEval(int argc, char** argv);

}  // namespace sense::app

#endif  // SENSE_APPS_EVAL_DETECTION_H_
