#pragma once

// Error and Result<T>: the one shape of every fallible operation in agentrt's API (calls
// have theirs in Reply, which also carries an error code and message).
//
// Result<T> holds either a T or an Error, like C++23's std::expected: test it, then read
// `value()` (or `*r`, `r->`) or `error()`. Reading the side that is not there throws
// std::logic_error: a bug in the caller, never an outcome.

#include <agentrt/errors.hpp>

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace agentrt {

/// Why an operation failed: a code to act on (an `errc` in agentrt's category, or another
/// category's code from a store or tool) and the specifics for a human.
struct Error {
  std::error_code code;
  std::string message;

  Error() = default;
  Error(std::error_code c, std::string m) : code(c), message(std::move(m)) {
    // nop
  }
  Error(errc e, std::string m) : code(make_error_code(e)), message(std::move(m)) {
    // nop
  }

  /// The group the code belongs to (see `condition`), for mapping to a protocol status.
  condition group() const noexcept {
    return condition_of(code);
  }
};

template <class T>
class [[nodiscard]] Result {
public:
  using value_type = T;

  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {
    // nop
  }
  /// From anything a T is made of (`Result<std::string> r = "text";`).
  template <class U, std::enable_if_t<std::is_constructible_v<T, U&&>
                                        && !std::is_same_v<std::decay_t<U>, T>
                                        && !std::is_same_v<std::decay_t<U>, Error>
                                        && !std::is_same_v<std::decay_t<U>, Result>,
                                      int> = 0>
  Result(U&& value) : data_(std::in_place_index<0>, T(std::forward<U>(value))) {
    // nop
  }
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {
    // nop
  }

  bool has_value() const noexcept {
    return data_.index() == 0;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }

  T& value() & {
    check_value();
    return std::get<0>(data_);
  }
  const T& value() const& {
    check_value();
    return std::get<0>(data_);
  }
  T&& value() && {
    check_value();
    return std::get<0>(std::move(data_));
  }
  T* operator->() {
    return &value();
  }
  const T* operator->() const {
    return &value();
  }
  T& operator*() & {
    return value();
  }
  const T& operator*() const& {
    return value();
  }

  /// The value, or `fallback` when this holds an error.
  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(data_) : static_cast<T>(std::forward<U>(fallback));
  }

  const Error& error() const& {
    if (has_value())
      throw std::logic_error("agentrt::Result::error() on a value");
    return std::get<1>(data_);
  }
  Error&& error() && {
    if (has_value())
      throw std::logic_error("agentrt::Result::error() on a value");
    return std::get<1>(std::move(data_));
  }

private:
  void check_value() const {
    if (!has_value())
      throw std::logic_error("agentrt::Result::value() on an error: " + std::get<1>(data_).message);
  }

  std::variant<T, Error> data_;
};

/// The result of an operation that returns nothing: success, or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
  using value_type = void;

  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {
    // nop
  }

  bool has_value() const noexcept {
    return !failed_;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }
  /// Throws std::logic_error if this holds an error.
  void value() const {
    if (failed_)
      throw std::logic_error("agentrt::Result<void>::value() on an error: " + error_.message);
  }
  const Error& error() const& {
    if (!failed_)
      throw std::logic_error("agentrt::Result::error() on a value");
    return error_;
  }

private:
  Error error_;
  bool failed_ = false;
};

} // namespace agentrt
