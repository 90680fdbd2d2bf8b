#include "src/rules/rule_thread.h"

#include <utility>

namespace tokmeter::rules {

RuleThread::RuleThread(RuleOptions o) : engine_(std::move(o)) {
  filling_.reserve(kBatch);
  thread_ = std::thread([this] { Run(); });
}

RuleThread::~RuleThread() {
  {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RuleThread::Observe(const Observation& o) {
  ObserveWith([&](Observation& slot) { slot = o; });
}

void RuleThread::Hand() {
  std::vector<Observation> next;
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return queue_.size() < kMaxQueued || error_ != nullptr; });
    // After an engine failure the batch is dropped: Finish() says so.
    if (error_ == nullptr) queue_.push_back(std::move(filling_));
    if (!spare_.empty()) {
      next = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  cv_.notify_all();
  filling_ = std::move(next);  // emptied by the thread, capacity kept
  filling_.reserve(kBatch);
}

void RuleThread::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) return;  // done_, and everything observed
    std::vector<Observation> batch = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    cv_.notify_all();  // room in the queue
    try {
      for (const Observation& o : batch) engine_.Observe(o);
    } catch (...) {
      l.lock();
      error_ = std::current_exception();
      queue_.clear();
      cv_.notify_all();
      return;
    }
    batch.clear();
    l.lock();
    if (spare_.size() < kMaxQueued) spare_.push_back(std::move(batch));
  }
}

std::vector<Finding> RuleThread::Finish() {
  if (!filling_.empty()) Hand();
  {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (error_ != nullptr) std::rethrow_exception(error_);
  return engine_.Findings();
}

}  // namespace tokmeter::rules
