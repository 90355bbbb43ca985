#pragma once
// Expected failures are values (STYLE 4): a result<T> holds a T or a failure{errc, detail}.
// `detail` is for the node's log only; it never reaches a client (only the errc does).
#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "base/errc.hpp"

namespace caudal {

struct failure {
  errc code = errc::internal;
  std::string detail;  // for logs; must not hold secrets
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  result(failure f) : v_(std::move(f)) {}           // NOLINT(google-explicit-constructor)
  result(errc code, std::string detail = {}) : v_(failure{code, std::move(detail)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const failure& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, failure> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(failure f) : f_(std::move(f)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  result(errc code, std::string detail = {}) : f_{code, std::move(detail)}, ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const failure& error() const { assert(!ok_); return f_; }

 private:
  failure f_;
  bool ok_ = true;
};

}  // namespace caudal
