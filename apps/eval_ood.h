// apps/eval_ood.h — sense-eval's out-of-domain mode (eval_ood.cc).
#ifndef SENSE_APPS_EVAL_OOD_H_
#define SENSE_APPS_EVAL_OOD_H_

namespace sense::eval {

// True when the command line asks for the --ood mode.
bool WantsOod(int argc, char** argv);
// sense-eval --ood [options] IN OUT...: the whole mode, with its own options;
// returns the exit status.
int OodMain(int argc, char** argv);

}  // namespace sense::eval

#endif  // SENSE_APPS_EVAL_OOD_H_
