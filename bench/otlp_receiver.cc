// A local OTLP/HTTP receiver for bench/export.sh: listens on 127.0.0.1
// (port 0: the kernel picks one), prints the port on stdout, then answers
// 200 to every request and discards the bodies, one thread per connection,
// until stdin closes; then prints the requests and bytes it received on
// stderr. What a Collector costs is not measured: only what `tokmeter
// export` sends.
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_discard.h"
#include "boost/asio.hpp"

int main() {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::printf("%u\n", unsigned(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  std::atomic<uint64_t> requests{0}, bytes{0};
  std::mutex mu;
  std::vector<std::thread> conns;
  std::thread accept([&] {
    for (;;) {
      auto sock = std::make_shared<asio::ip::tcp::socket>(ioc);
      boost::system::error_code ec;
      acceptor.accept(*sock, ec);
      if (ec) return;  // closed
      std::lock_guard<std::mutex> lock(mu);
      conns.emplace_back([sock, &requests, &bytes] {
        tokmeter::bench::AnswerAndDiscard(*sock, 1 << 30, [&](size_t body_bytes) {
          requests.fetch_add(1);
          bytes.fetch_add(body_bytes);
        });
      });
    }
  });
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  // Wake the blocking accept (closing the socket alone does not).
  ::shutdown(acceptor.native_handle(), SHUT_RDWR);
  boost::system::error_code ec;
  acceptor.close(ec);
  accept.join();
  std::fprintf(stderr, "otlp_receiver: %llu requests, %llu body bytes\n",
               (unsigned long long)requests.load(), (unsigned long long)bytes.load());
  std::_Exit(0);  // connection threads may still wait on idle keep-alive sockets
}
