// Internal helpers shared by the usage parsers (not part of the public API).
#ifndef TOKMETER_SRC_USAGE_INTERNAL_H_
#define TOKMETER_SRC_USAGE_INTERNAL_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "tokmeter/usage.h"

namespace tokmeter::usage_internal {

// Sets the rate_limited / overloaded / quota_exhausted / retryable bits from
// an error's type and code ("http_<status>" for errors known only by status).
ApiError ClassifyError(std::string type, std::string code, std::string message);
// An error object ({type, message} / {code, type, message} / {code, status,
// message}); nullopt if it names no type, code or status.
std::optional<ApiError> ErrorFromObject(const boost::json::object& e);

}  // namespace tokmeter::usage_internal

#endif  // TOKMETER_SRC_USAGE_INTERNAL_H_
