// Records the first AsmJit error of an emission (every Assembler call reports through it);
// shared by the backends.
#pragma once
#include <asmjit/core.h>

#include <string>

namespace cb::jit {

class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error err, const char* message, asmjit::BaseEmitter*) override {
    if (m_err == asmjit::kErrorOk) {
      m_err = err;
      m_msg = message;
    }
  }
  asmjit::Error m_err = asmjit::kErrorOk;
  std::string m_msg;
};

}  // namespace cb::jit
