// The benchmarks' stand-in for an OTLP/HTTP receiver (bench/otlp_receiver.cc,
// proto_benchmark's in-process receiver): every request answered with an
// empty 200, its body counted and discarded. What a Collector costs is not
// measured, only what the exporter sends.
#ifndef TOKMETER_BENCH_HTTP_DISCARD_H_
#define TOKMETER_BENCH_HTTP_DISCARD_H_

#include <cstddef>
#include <cstdint>

#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace tokmeter::bench {

// Serves the connection `sock` until the peer closes it or a read or write
// fails: reads each request (a body of at most `body_limit` bytes), calls
// on_request(body bytes), answers 200 (keep-alive as the request asks).
template <typename OnRequest>
void AnswerAndDiscard(boost::asio::ip::tcp::socket& sock, uint64_t body_limit,
                      OnRequest on_request) {
  namespace http = boost::beast::http;
  boost::beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.body_limit(body_limit);
    boost::system::error_code ec;
    http::read(sock, buf, p, ec);
    if (ec) return;
    on_request(p.get().body().size());
    http::response<http::empty_body> res{http::status::ok, 11};
    res.keep_alive(p.get().keep_alive());
    res.prepare_payload();
    http::write(sock, res, ec);
    if (ec) return;
  }
}

}  // namespace tokmeter::bench

#endif  // TOKMETER_BENCH_HTTP_DISCARD_H_
