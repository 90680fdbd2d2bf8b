// tokmeter::otlp: spans and metrics of a runtime exported to an OTLP/HTTP
// receiver this program starts on 127.0.0.1 (plain sockets: it answers 200
// to every POST and remembers the paths), and the monitor's budget alerts
// POSTed there by the webhook sink.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tokmeter/monitor.h"
#include "tokmeter/otlp.h"
#include "tokmeter/tokmeter.h"
#include "tokmeter/webhook.h"

class Receiver {
 public:
  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 8) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("receiver");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // the listening socket was shut down
        std::lock_guard<std::mutex> lock(mu_);
        conns_.push_back(c);
        threads_.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  ~Receiver() {
    ::shutdown(fd_, SHUT_RDWR);
    accept_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : conns_) ::close(c);
    ::close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  // One keep-alive connection: requests with a Content-Length body.
  void Serve(int c) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) return;
        buf.append(chunk, size_t(n));
      }
      std::string head = buf.substr(0, head_end);
      size_t length = 0;
      for (const char* key : {"Content-Length: ", "content-length: "}) {
        if (size_t p = head.find(key); p != std::string::npos) {
          length = std::strtoul(head.c_str() + p + 16, nullptr, 10);
        }
      }
      while (buf.size() < head_end + 4 + length) {
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) return;
        buf.append(chunk, size_t(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        size_t sp = head.find(' ');
        paths_.push_back(head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1));
      }
      buf.erase(0, head_end + 4 + length);
      static const char kOk[] =
          "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
      if (::write(c, kOk, sizeof kOk - 1) < 0) return;
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> threads_;
  std::vector<std::string> paths_;
};

int main() {
  Receiver rx;
  tokmeter::OtlpOptions otlp{.endpoint = rx.endpoint(), .service_name = "otlp-consumer"};
  auto spans = tokmeter::MakeOtlpHttpSink(otlp);
  auto metrics = tokmeter::MakeOtlpMetricsSink({.otlp = otlp});
  auto hook = tokmeter::MakeWebhookSink({.url = rx.endpoint() + "/hook"});
  auto monitor = tokmeter::Monitor::Create({.budgets = {"session=10"}, .rules = false});
  if (!spans.ok() || !metrics.ok() || !hook.ok() || !monitor.ok()) {
    std::fprintf(stderr, "sink: %s %s %s %s\n", spans.status().ToString().c_str(),
                 metrics.status().ToString().c_str(), hook.status().ToString().c_str(),
                 monitor.status().ToString().c_str());
    return 1;
  }
  tokmeter::OtlpHttpSink* span_sink = spans->get();
  tokmeter::OtlpMetricsSink* metric_sink = metrics->get();
  tokmeter::WebhookSink* hook_sink = hook->get();
  tokmeter::Options options;
  options.sinks.push_back(std::move(*spans));
  options.sinks.push_back(std::move(*metrics));
  options.sinks.push_back(std::move(*hook));
  options.monitor = *monitor;
  auto runtime = tokmeter::Runtime::Start(std::move(options));
  if (!runtime.ok()) return 1;
  {
    TOK_TRACE_NAMED(session, "session", "s-1");
    session.Tag("session", "s-1");
    TOK_SPAN_NAMED(llm, "llm", "messages");
    llm.Tag("provider", "anthropic").Tag("model", "claude-sonnet-4-5");
    llm.Add(tokmeter::Counter::kInputTokens, 12).Add(tokmeter::Counter::kOutputTokens, 30);
  }
  if (!(*runtime)->Shutdown().ok()) return 1;  // closes the sinks: everything is sent
  uint64_t exported_spans = span_sink->stats().spans_exported;
  uint64_t exported_points = metric_sink->stats().points_exported;
  const uint64_t alerts = (*monitor)->stats().alerts;
  const uint64_t posted = hook_sink->stats().sent;
  int traces = 0, metric_requests = 0, hooks = 0;
  for (const std::string& p : rx.paths()) {
    traces += p == "/v1/traces";
    metric_requests += p == "/v1/metrics";
    hooks += p == "/hook";
  }
  std::printf(
      "otlp: %llu spans in %d trace requests, %llu data points in %d metric requests, %llu "
      "alerts, %d webhook posts\n",
      (unsigned long long)exported_spans, traces, (unsigned long long)exported_points,
      metric_requests, (unsigned long long)alerts, hooks);
  // The trace root, the llm span and a span per alert (42 tokens of a
  // 10-token session budget: at least the 100 % alert); metrics in one
  // export at close; one webhook post per alert.
  return exported_spans == 2 + alerts && alerts >= 1 && traces >= 1 && exported_points > 0 &&
                 metric_requests == 1 && posted == alerts && hooks == int(alerts)
             ? 0
             : 1;
}
